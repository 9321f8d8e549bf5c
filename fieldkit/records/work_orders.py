"""Work orders pulled from the back office, stored in batches.

A page of up to 1 000 orders is applied in one transaction with a handful of statements
(one SELECT each for the known orders and customers, one executemany each for the inserts
and updates) instead of an ORM round trip per order. The rules are those of
:meth:`fieldkit.records.repo.VisitRepository.upsert_work_orders`, which delegates here:

* a change older than (or equal to) the one already applied is skipped (a repeated page);
* a tombstone (``deleted``) or ``status="cancelled"`` cancels the order; a tombstone for an
  order never seen is skipped;
* an order with a closed visit (``done``) is never reopened by the server;
* the customer is created, or its fields given by the server (not None) are updated.

The server's *epoch* (its database identity) is kept in ``sync_state``: when it changes,
:func:`begin_resync` marks every order that came from the server as "not seen since"
(``server_cursor = 0``), the client re-pulls from cursor 0, and :func:`finish_resync`
cancels the open orders the server no longer sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from fieldkit.i18n import _
from fieldkit.records.db import Database
from fieldkit.records.errors import get_row
from fieldkit.records.models import (
    Customer,
    SyncState,
    VisitType,
    WorkOrder,
    WorkOrderStatus,
    utcnow,
)

if TYPE_CHECKING:  # pragma: no cover
    from fieldkit.sync.schema import WorkOrderPayload

EPOCH_KEY = "server_epoch"
_CHUNK = 500  # ids per IN (...) list
_CUSTOMER_FIELDS = (
    "name",
    "phone",
    "community",
    "building",
    "unit",
    "floor",
    "room",
    "address_detail",
)


@dataclass
class WorkOrderSyncResult:
    created: int = 0
    updated: int = 0
    cancelled: int = 0
    max_cursor: int | None = None
    skipped: list[str] = field(default_factory=list)


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]


def _customer_fields(payload: WorkOrderPayload) -> dict[str, str | None]:
    c, a = payload.customer, payload.customer.address
    return {
        "name": c.name,
        "phone": c.phone,
        "community": a.community,
        "building": a.building,
        "unit": a.unit,
        "floor": a.floor,
        "room": a.room,
        "address_detail": a.detail,
    }


def _customers(
    conn: Connection, wanted: dict[str, dict[str, str | None]], now: datetime
) -> dict[str, uuid.UUID]:
    """Create or update the customers of a page; returns customer_no → id."""
    table = Customer.__table__  # type: ignore[attr-defined]
    known: dict[str, Any] = {}
    for part in _chunks(list(wanted)):
        for row in conn.execute(sa.select(table).where(table.c.customer_no.in_(part))):
            known[row.customer_no] = row
    inserts, updates = [], []
    ids: dict[str, uuid.UUID] = {}
    for number, fields in wanted.items():
        row = known.get(number)
        if row is None:
            new_id = uuid.uuid4()
            ids[number] = new_id
            inserts.append(
                {"id": new_id, "customer_no": number, "created_at": now, "updated_at": now}
                | {k: fields.get(k) for k in _CUSTOMER_FIELDS}
            )
            continue
        ids[number] = row.id
        merged = {
            k: (fields[k] if fields.get(k) is not None else row._mapping[k])
            for k in _CUSTOMER_FIELDS
        }
        if any(merged[k] != row._mapping[k] for k in _CUSTOMER_FIELDS):
            updates.append({"b_id": row.id, "updated_at": now} | merged)
    if inserts:
        conn.execute(table.insert(), inserts)
    if updates:
        conn.execute(
            table.update()
            .where(table.c.id == sa.bindparam("b_id"))
            .values({k: sa.bindparam(k) for k in (*_CUSTOMER_FIELDS, "updated_at")}),
            updates,
        )
    return ids


def upsert_work_orders(
    database: Database,
    orders: Sequence[WorkOrderPayload],
    clock: Callable[[], datetime] = utcnow,
) -> WorkOrderSyncResult:
    """Apply a page of work orders pulled from the back office (one transaction)."""
    result = WorkOrderSyncResult()
    latest: dict[uuid.UUID, WorkOrderPayload] = {}
    for payload in orders:
        cursor = int(payload.cursor)
        result.max_cursor = cursor if result.max_cursor is None else max(result.max_cursor, cursor)
        seen = latest.get(payload.work_order_id)
        if seen is not None and seen.cursor >= cursor:
            result.skipped.append(payload.order_no)
            continue
        if seen is not None:
            result.skipped.append(seen.order_no)
        latest[payload.work_order_id] = payload
    if not latest:
        return result
    table = WorkOrder.__table__  # type: ignore[attr-defined]
    now = clock().astimezone(UTC)
    with database.session() as session:
        conn = session.connection()
        known: dict[uuid.UUID, Any] = {}
        for part in _chunks(list(latest)):
            query = sa.select(table.c.id, table.c.server_cursor, table.c.status).where(
                table.c.id.in_(part)
            )
            for row in conn.execute(query):
                known[row.id] = row
        apply: list[WorkOrderPayload] = []
        for payload in sorted(latest.values(), key=lambda p: p.cursor):
            row = known.get(payload.work_order_id)
            cancelled = payload.deleted or payload.status == "cancelled"
            if (
                row is not None
                and row.server_cursor is not None
                and row.server_cursor >= payload.cursor
            ):
                result.skipped.append(payload.order_no)  # stale or repeated page
                continue
            if row is None and cancelled:
                result.skipped.append(payload.order_no)  # never seen, already gone
                continue
            apply.append(payload)
        if not apply:
            return result
        wanted: dict[str, dict[str, str | None]] = {}
        for payload in apply:  # by cursor: the latest fields of a customer win
            wanted[payload.customer.customer_no] = _customer_fields(payload)
        customer_ids = _customers(conn, wanted, now)
        inserts, updates = [], []
        for payload in apply:
            row = known.get(payload.work_order_id)
            cancelled = payload.deleted or payload.status == "cancelled"
            values = {
                "order_no": payload.order_no,
                "visit_type": VisitType(payload.visit_type),
                "customer_id": customer_ids[payload.customer.customer_no],
                "assigned_to": payload.assigned_to,
                "scheduled_for": payload.scheduled_for,
                "notes": payload.notes,
                "server_cursor": int(payload.cursor),
                "updated_at": now,
            }
            if row is None:
                result.created += 1
                status = WorkOrderStatus(payload.status)
                inserts.append(
                    values | {"id": payload.work_order_id, "status": status, "created_at": now}
                )
                continue
            old = WorkOrderStatus(row.status)
            if cancelled:
                status = WorkOrderStatus.CANCELLED
                if old != WorkOrderStatus.CANCELLED:
                    result.cancelled += 1
                else:
                    result.updated += 1
            else:
                result.updated += 1
                status = old if old == WorkOrderStatus.DONE else WorkOrderStatus(payload.status)
            updates.append(values | {"b_id": payload.work_order_id, "status": status})
        if inserts:
            conn.execute(table.insert(), inserts)
        if updates:
            columns = (*(k for k in updates[0] if k != "b_id"),)
            conn.execute(
                table.update()
                .where(table.c.id == sa.bindparam("b_id"))
                .values({k: sa.bindparam(k) for k in columns}),
                updates,
            )
    return result


def work_order_cursor(database: Database) -> int:
    """The highest server cursor applied so far (0 before the first pull)."""
    table = WorkOrder.__table__  # type: ignore[attr-defined]
    with database.session(readonly=True) as session:
        value = session.connection().execute(sa.select(sa.func.max(table.c.server_cursor)))
        return int(value.scalar() or 0)


# --------------------------------------------------------------------------- epoch
def get_state(database: Database, key: str) -> str | None:
    with database.session(readonly=True) as session:
        row = session.get(SyncState, key)
        return row.value if row is not None else None


def set_state(database: Database, key: str, value: str) -> None:
    with database.session() as session:
        row = session.get(SyncState, key) or SyncState(key=key, value=value)
        row.value = value
        row.updated_at = utcnow()
        session.add(row)


def server_epoch(database: Database) -> str | None:
    """The epoch of the server this laptop last pulled everything from (None: never)."""
    return get_state(database, EPOCH_KEY)


def begin_resync(database: Database) -> None:
    """Before a full re-pull: every order that came from the server is "not seen since"."""
    table = WorkOrder.__table__  # type: ignore[attr-defined]
    with database.session() as session:
        session.connection().execute(
            table.update().where(table.c.server_cursor.is_not(None)).values(server_cursor=0)
        )


def finish_resync(database: Database, epoch: str) -> int:
    """After a complete re-pull: open orders the server did not send again no longer exist
    there; they are cancelled (kept, with their visits). Records ``epoch``; returns how
    many were dropped."""
    table = WorkOrder.__table__  # type: ignore[attr-defined]
    with database.session() as session:
        conn = session.connection()
        done = conn.execute(
            table.update()
            .where(table.c.server_cursor == 0, table.c.status == WorkOrderStatus.OPEN.value)
            .values(status=WorkOrderStatus.CANCELLED.value, updated_at=utcnow())
        )
        row = session.get(SyncState, EPOCH_KEY) or SyncState(key=EPOCH_KEY, value=epoch)
        row.value = epoch
        row.updated_at = utcnow()
        session.add(row)
        return int(done.rowcount)


# ------------------------------------------------ made on the laptop, read by the TUI


def create_work_order(
    session: Session,
    *,
    now: datetime,
    order_no: str,
    visit_type: VisitType | str,
    customer_id: uuid.UUID,
    assigned_to: str,
    scheduled_for: date | None = None,
    notes: str | None = None,
    work_order_id: uuid.UUID | None = None,
) -> WorkOrder:
    """A work order made on the laptop (tests, the demo); the back office's come by pull."""
    get_row(session, Customer, customer_id, _("customer"))
    order = WorkOrder(
        id=work_order_id or uuid.uuid4(),
        order_no=order_no,
        visit_type=VisitType(visit_type),
        customer_id=customer_id,
        assigned_to=assigned_to,
        scheduled_for=scheduled_for,
        notes=notes,
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    return order


def open_work_orders(session: Session, assigned_to: str | None) -> list[WorkOrder]:
    """Open work orders (scheduled ones first, by date), optionally for one technician."""
    query = select(WorkOrder).where(WorkOrder.status == WorkOrderStatus.OPEN)
    if assigned_to is not None:
        query = query.where(WorkOrder.assigned_to == assigned_to)
    query = query.order_by(
        col(WorkOrder.scheduled_for).is_(None),
        col(WorkOrder.scheduled_for),
        col(WorkOrder.order_no),
    )
    return list(session.exec(query).all())
