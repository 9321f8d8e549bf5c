"""Work orders from the back office to laptops: create, assign, cancel, pull by cursor.

Every change takes the next value of one counter (the order's ``cursor``); a laptop pulls
the changes after the highest cursor it has applied. Every technician who ever held an
order is in ``work_order_holder`` and sees each later change of it — as the order while it
is theirs, as a tombstone (``deleted``) once it is taken away or cancelled.

The cursor is only meaningful within one database: :func:`server_epoch` names that
database (its identity, plus the restore generation ``fieldkit admin restored`` bumps, plus
on PostgreSQL the database's oid, which a dump restored into a new database changes). A
laptop that sees another epoch re-pulls everything (see ``docs/sync.md``).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from fieldkit.i18n import N_
from fieldkit.sync.schema import VISIT_TYPES, CustomerPayload, WorkOrderPayload
from fieldkit.sync.server import tables as t
from fieldkit.sync.server.auth import Principal
from fieldkit.sync.server.db import reading
from fieldkit.sync.server.errors import ServiceError, require_admin


def _now() -> datetime:
    return datetime.now(UTC)


def server_epoch(conn: Connection) -> str:
    """``<database id>.<restore generation>[.<PostgreSQL database oid>]``."""
    row = conn.execute(
        sa.select(t.server_identity.c.database_id, t.server_identity.c.restore_generation)
    ).first()
    if row is None:
        raise ServiceError("no_identity", N_("the server database has no identity row"), 500)
    epoch = f"{row.database_id}.{row.restore_generation}"
    if conn.dialect.name == "postgresql":
        oid = conn.execute(
            sa.text("SELECT oid FROM pg_database WHERE datname = current_database()")
        ).scalar_one()
        epoch += f".{oid}"
    return epoch


def epoch(engine: Engine) -> str:
    with reading(engine) as conn:
        return server_epoch(conn)


def mark_restored(engine: Engine) -> str:
    """After restoring a backup: bump the restore generation, so every laptop re-pulls its
    work orders and drops those the restored database no longer has. Returns the epoch."""
    with engine.begin() as conn:
        conn.execute(
            t.server_identity.update().values(
                restore_generation=t.server_identity.c.restore_generation + 1,
                restored_at=_now(),
            )
        )
        return server_epoch(conn)


def _next_cursors(conn: Connection, n: int) -> range:
    """Take ``n`` cursor values. The counter row stays locked until the transaction commits,
    so cursors become visible in the order they were handed out (no reader ever skips a
    change that commits late)."""
    top = conn.execute(
        t.counter.update()
        .where(t.counter.c.name == t.WORK_ORDER_COUNTER)
        .values(value=t.counter.c.value + n)
        .returning(t.counter.c.value)
    ).scalar_one()
    return range(top - n + 1, top + 1)


def _hold(conn: Connection, rows: list[dict[str, object]]) -> None:
    """Record holders (technician, order); one already recorded stays as it is."""
    if not rows:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(t.work_order_holder).on_conflict_do_nothing(), rows)


@dataclass
class NewWorkOrder:
    order_no: str
    visit_type: str
    customer: CustomerPayload
    assigned_to: str
    scheduled_for: date | None = None
    notes: str | None = None
    work_order_id: uuid.UUID | None = None


def _known_technician(conn: Connection, login: str) -> None:
    row = conn.execute(sa.select(t.account.c.role).where(t.account.c.login == login)).first()
    if row is None or row.role != "technician":
        raise ServiceError(
            "unknown_technician",
            N_("no technician account {login!r}"),
            422,
            params={"login": login},
        )


def create_work_orders(
    engine: Engine, principal: Principal | None, orders: Sequence[NewWorkOrder]
) -> list[uuid.UUID]:
    """Create work orders (admin API, ``fieldkit admin add-work-order``); one transaction."""
    require_admin(principal)
    now = _now()
    for o in orders:
        if o.visit_type not in VISIT_TYPES:
            raise ServiceError(
                "invalid",
                N_("visit type must be one of {types}"),
                422,
                params={"types": ", ".join(VISIT_TYPES)},
            )
        if not o.order_no.strip():
            raise ServiceError("invalid", N_("the work order number must not be blank"), 422)
    with engine.begin() as conn:
        for login in sorted({o.assigned_to for o in orders}):
            _known_technician(conn, login)
        numbers = [o.order_no for o in orders]
        clash = conn.execute(
            sa.select(t.work_order.c.order_no).where(t.work_order.c.order_no.in_(numbers))
        ).first()
        if clash is not None or len(set(numbers)) != len(numbers):
            if clash is None:
                raise ServiceError(
                    "duplicate_order_no", N_("a work order number is repeated in the request"), 409
                )
            raise ServiceError(
                "duplicate_order_no",
                N_("work order {no} already exists"),
                409,
                params={"no": clash.order_no},
            )
        ids = [o.work_order_id or uuid.uuid4() for o in orders]
        taken = conn.execute(sa.select(t.work_order.c.id).where(t.work_order.c.id.in_(ids))).first()
        if taken is not None:
            raise ServiceError(
                "duplicate_id",
                N_("work order id {id} already exists"),
                409,
                params={"id": str(taken.id)},
            )
        cursors = _next_cursors(conn, len(orders))
        rows = [
            {
                "id": order_id,
                "order_no": o.order_no,
                "visit_type": o.visit_type,
                "customer_no": o.customer.customer_no,
                "customer": o.customer.model_dump(mode="json"),
                "assigned_to": o.assigned_to,
                "previous_assignee": None,
                "scheduled_for": o.scheduled_for,
                "notes": o.notes,
                "status": "open",
                "deleted": False,
                "cursor": cursor,
                "created_at": now,
                "updated_at": now,
                "created_by": principal.login if principal else None,
            }
            for o, order_id, cursor in zip(orders, ids, cursors, strict=True)
        ]
        if rows:
            conn.execute(t.work_order.insert(), rows)
            _hold(
                conn,
                [
                    {"technician_id": r["assigned_to"], "work_order_id": r["id"], "since": now}
                    for r in rows
                ],
            )
    return ids


def _find_order(conn: Connection, ref: str) -> sa.Row[tuple[object, ...]]:
    w = t.work_order
    condition = w.c.order_no == ref
    with contextlib.suppress(ValueError):
        condition = sa.or_(condition, w.c.id == uuid.UUID(ref))
    row = conn.execute(sa.select(w).where(condition).with_for_update()).first()
    if row is None:
        raise ServiceError("not_found", N_("no work order {ref}"), 404, params={"ref": ref})
    return row


def assign_work_order(
    engine: Engine, principal: Principal | None, ref: str, technician: str
) -> int:
    """Give the order to another technician; everyone who held it before pulls a tombstone."""
    require_admin(principal)
    with engine.begin() as conn:
        _known_technician(conn, technician)
        row = _find_order(conn, ref)
        if row.deleted:
            raise ServiceError(
                "cancelled", N_("work order {ref} is cancelled"), 409, params={"ref": ref}
            )
        (cursor,) = _next_cursors(conn, 1)
        now = _now()
        conn.execute(
            t.work_order.update()
            .where(t.work_order.c.id == row.id)
            .values(
                assigned_to=technician,
                previous_assignee=row.assigned_to if row.assigned_to != technician else None,
                cursor=cursor,
                updated_at=now,
            )
        )
        _hold(conn, [{"technician_id": technician, "work_order_id": row.id, "since": now}])
        return cursor


def cancel_work_order(engine: Engine, principal: Principal | None, ref: str) -> int:
    """Cancel an order: everyone who held it pulls it as a tombstone (``deleted``)."""
    require_admin(principal)
    with engine.begin() as conn:
        row = _find_order(conn, ref)
        (cursor,) = _next_cursors(conn, 1)
        conn.execute(
            t.work_order.update()
            .where(t.work_order.c.id == row.id)
            .values(status="cancelled", deleted=True, cursor=cursor, updated_at=_now())
        )
        return cursor


def pull_work_orders(
    engine: Engine, principal: Principal, since: int, limit: int
) -> tuple[list[WorkOrderPayload], int, bool, str]:
    """Work-order changes after ``since`` visible to the caller, ordered by cursor.

    Returns (items, next_cursor, has_more, epoch).
    """
    w = t.work_order
    query = sa.select(w).where(w.c.cursor > since)
    if not principal.is_admin:
        held = sa.select(t.work_order_holder.c.work_order_id).where(
            t.work_order_holder.c.technician_id == principal.login
        )
        query = query.where(w.c.id.in_(held))
    query = query.order_by(w.c.cursor).limit(limit + 1)
    with reading(engine) as conn:
        current_epoch = server_epoch(conn)
        rows = conn.execute(query).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    items = [
        WorkOrderPayload(
            work_order_id=r.id,
            order_no=r.order_no,
            visit_type=r.visit_type,
            customer=CustomerPayload.model_validate(r.customer),
            assigned_to=r.assigned_to,
            scheduled_for=r.scheduled_for,
            notes=r.notes,
            status=r.status,
            deleted=bool(r.deleted)
            or (not principal.is_admin and r.assigned_to != principal.login),
            cursor=r.cursor,
        )
        for r in rows
    ]
    next_cursor = rows[-1].cursor if rows else since
    return items, next_cursor, has_more, current_epoch
