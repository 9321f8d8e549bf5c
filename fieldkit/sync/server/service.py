"""Back-office operations on the server database, with no web framework in sight.

The FastAPI app and the ``fieldkit admin`` commands both call these. Each function runs in
its own transaction.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from fieldkit.sync.schema import (
    VISIT_TYPES,
    CustomerPayload,
    PushResult,
    VisitPayload,
    WorkOrderPayload,
    content_hash_of_dump,
)
from fieldkit.sync.server import safety_flags
from fieldkit.sync.server import tables as t
from fieldkit.sync.server.auth import Principal
from fieldkit.sync.server.db import reading

HAZARD_RANK = {"pending": 0, "rechecking": 1, "fixed": 2}
SATISFACTION = ("satisfied", "basically_satisfied", "unsatisfied")  # 满意 / 基本满意 / 不满意


class ServiceError(Exception):
    """An operation the back office asked for that cannot be done; ``code`` is stable."""

    def __init__(self, code: str, message: str, status: int = 400, detail: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.detail = detail


def _now() -> datetime:
    return datetime.now(UTC)


def _insert(conn: Connection, table: sa.Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


# ----------------------------------------------------------------------------- visits
@dataclass
class _Prepared:
    payload: VisitPayload
    hash: str
    row: dict[str, Any]


def visit_row(
    p: VisitPayload, received_at: datetime, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``visit`` row of a payload (``data``: its ``model_dump(mode="json")`` if known)."""
    data = data if data is not None else p.model_dump(mode="json")
    return {
        "id": p.visit_id,
        "content_hash": content_hash_of_dump(data),
        "payload": data,
        "technician_id": p.technician_id,
        "work_order_id": p.work_order_id,
        "visit_type": p.visit_type,
        "outcome": p.outcome,
        "customer_no": p.customer.customer_no,
        "started_at": p.started_at,
        "ended_at": p.ended_at,
        "visit_date": p.started_at.date(),
        "received_at": received_at,
    }


def child_rows(payloads: Iterable[VisitPayload]) -> dict[str, list[dict[str, Any]]]:
    """The normalised rows of visits, per table (also used by the benchmark's baseline)."""
    rows: dict[str, list[dict[str, Any]]] = {
        "procedure_run": [],
        "step_result": [],
        "measurement": [],
        "meter_swap": [],
        "hazard": [],
        "follow_up": [],
    }
    now = _now()
    for p in payloads:
        vid = p.visit_id
        for run in p.procedure_runs:
            rows["procedure_run"].append(
                {
                    "id": run.run_id,
                    "visit_id": vid,
                    "procedure_id": run.procedure_id,
                    "procedure_version": run.procedure_version,
                    "status": run.status,
                    "started_at": run.started_at,
                    "ended_at": run.ended_at,
                }
            )
            rows["step_result"].extend(
                {
                    "id": s.result_id,
                    "visit_id": vid,
                    "run_id": run.run_id,
                    "step_id": s.step_id,
                    "kind": s.kind,
                    "value": s.value,
                    "passed": s.passed,
                    "at": s.at,
                    "actor": s.actor,
                }
                for s in run.steps
            )
            rows["measurement"].extend(
                {
                    "id": m.measurement_id,
                    "visit_id": vid,
                    "run_id": run.run_id,
                    "step_id": m.step_id,
                    "quantity": m.quantity,
                    "value": m.value,
                    "unit": m.unit,
                    "taken_at": m.taken_at,
                }
                for m in run.measurements
            )
        rows["meter_swap"].extend(
            {
                "id": m.swap_id,
                "visit_id": vid,
                "customer_no": p.customer.customer_no,
                "old_meter_no": m.old_meter_no,
                "new_meter_no": m.new_meter_no,
                "seal_nos": list(m.seal_nos),
                "old_meter_reading": m.old_meter_reading,
                "gas_used": m.gas_used,
                "gas_remaining": m.gas_remaining,
                "swapped_at": m.swapped_at,
                "reason": m.reason,
            }
            for m in p.meter_swaps
        )
        rows["hazard"].extend(
            {
                "id": h.hazard_id,
                "visit_id": vid,
                "last_visit_id": vid,
                "technician_id": p.technician_id,
                "customer_no": p.customer.customer_no,
                "description": h.description,
                "level": h.level,
                "status": h.status,
                "found_at": h.found_at,
                "deadline": h.deadline,
                "basis": h.basis,
                "updated_at": now,
            }
            for h in p.hazards
        )
        rows["follow_up"].append(
            {
                "visit_id": vid,
                "technician_id": p.technician_id,
                "customer_no": p.customer.customer_no,
                "due_date": p.follow_up_due,
            }
        )
    return rows


def _rank(column: Any) -> Any:
    return sa.case({name: rank for name, rank in HAZARD_RANK.items()}, value=column, else_=-1)


def _write_children(conn: Connection, new: Sequence[_Prepared]) -> None:
    rows = child_rows(p.payload for p in new)
    safety_flags.flag_visits(conn, [p.payload for p in new])  # re-derived safety (issue 8)
    for name in ("procedure_run", "step_result", "measurement", "meter_swap", "follow_up"):
        if rows[name]:
            conn.execute(t.metadata.tables[name].insert(), rows[name])
    if rows["hazard"]:
        # A 复查 visit carries an earlier visit's hazard with its new status: the status
        # only moves forward (pending → rechecking → fixed), whatever order visits arrive in.
        stmt = _insert(conn, t.hazard)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.hazard.c.id],
            set_={
                "status": stmt.excluded.status,
                "last_visit_id": stmt.excluded.last_visit_id,
                "deadline": stmt.excluded.deadline,
                "updated_at": stmt.excluded.updated_at,
            },
            where=_rank(t.hazard.c.status) < _rank(stmt.excluded.status),
        )
        # One row per hazard (an original and its 复查 may share a batch): the most advanced
        # status wins; sorted by id so concurrent batches lock hazards in the same order.
        latest: dict[uuid.UUID, dict[str, Any]] = {}
        for row in rows["hazard"]:
            seen = latest.get(row["id"])
            if seen is None or HAZARD_RANK[row["status"]] > HAZARD_RANK[seen["status"]]:
                latest[row["id"]] = row
        conn.execute(stmt, [latest[k] for k in sorted(latest)])


def _store_group(conn: Connection, group: Sequence[_Prepared]) -> dict[uuid.UUID, PushResult]:
    """Insert the visits not yet on the server; classify the others. Caller commits."""
    results: dict[uuid.UUID, PushResult] = {}
    stmt = _insert(conn, t.visit).on_conflict_do_nothing(index_elements=[t.visit.c.id])
    inserted = {
        row[0] for row in conn.execute(stmt.returning(t.visit.c.id), [p.row for p in group]).all()
    }
    new = [p for p in group if p.payload.visit_id in inserted]
    if new:
        _write_children(conn, new)
    old_ids = [p.payload.visit_id for p in group if p.payload.visit_id not in inserted]
    stored: dict[uuid.UUID, str] = {}
    if old_ids:
        stored = {
            row.id: row.content_hash
            for row in conn.execute(
                sa.select(t.visit.c.id, t.visit.c.content_hash).where(t.visit.c.id.in_(old_ids))
            )
        }
    for p in group:
        vid = p.payload.visit_id
        if vid in inserted:
            results[vid] = PushResult(visit_id=vid, status="stored", content_hash=p.hash)
        elif stored.get(vid) == p.hash:
            results[vid] = PushResult(visit_id=vid, status="duplicate", content_hash=p.hash)
        else:
            results[vid] = PushResult(
                visit_id=vid,
                status="conflict",
                content_hash=p.hash,
                server_hash=stored.get(vid),
                error={
                    "code": "conflict",
                    "message": (
                        f"visit {vid} is already stored with different content "
                        f"(server hash {stored.get(vid)}, received {p.hash})"
                    ),
                },
            )
    return results


def store_visits(
    engine: Engine, principal: Principal, visits: Sequence[VisitPayload]
) -> list[PushResult]:
    """Store a batch of visits idempotently; one result per visit, in the request's order.

    A technician may only write visits whose ``technician_id`` is their own (403 for the
    whole batch otherwise, before anything is written). New visits of a batch are written in
    one transaction; if that fails (e.g. a step-result id already used by another visit),
    each visit is retried in its own transaction and the bad one is ``rejected`` — a visit
    is never half-written.
    """
    if not principal.is_admin:
        for p in visits:
            if p.technician_id != principal.login:
                raise ServiceError(
                    "forbidden",
                    f"visit {p.visit_id} belongs to technician {p.technician_id!r}; "
                    f"you are {principal.login!r}",
                    403,
                    {"visit_id": str(p.visit_id)},
                )
    now = _now()
    first: dict[uuid.UUID, _Prepared] = {}
    prepared: list[_Prepared] = []
    for p in visits:
        row = visit_row(p, now)
        item = _Prepared(p, row["content_hash"], row)
        prepared.append(item)
        first.setdefault(p.visit_id, item)
    # Sorted by id: two batches holding the same visits lock them in the same order.
    group = sorted(first.values(), key=lambda p: p.payload.visit_id)
    try:
        with engine.begin() as conn:
            results = _store_group(conn, group)
    except sa.exc.IntegrityError:
        results = {}
        for item in group:
            try:
                with engine.begin() as conn:
                    results.update(_store_group(conn, [item]))
            except sa.exc.IntegrityError as exc:
                vid = item.payload.visit_id
                results[vid] = PushResult(
                    visit_id=vid,
                    status="rejected",
                    content_hash=item.hash,
                    error={
                        "code": "integrity_error",
                        "message": (
                            f"visit {vid} reuses an id already stored under another visit "
                            f"(a run, step result, measurement or follow-up): "
                            f"{str(getattr(exc, 'orig', exc)).splitlines()[0]}"
                        ),
                    },
                )
    out = []
    for item in prepared:
        vid = item.payload.visit_id
        result = results[vid]
        if first[vid] is not item and item.hash != first[vid].hash:
            result = PushResult(
                visit_id=vid,
                status="conflict",
                content_hash=item.hash,
                server_hash=first[vid].hash,
                error={
                    "code": "conflict",
                    "message": f"visit {vid} appears twice in the batch with different content",
                },
            )
        out.append(result)
    return out


def get_visit(engine: Engine, principal: Principal, visit_id: uuid.UUID) -> dict[str, Any]:
    with reading(engine) as conn:
        row = conn.execute(sa.select(t.visit).where(t.visit.c.id == visit_id)).first()
    if row is None or (not principal.is_admin and row.technician_id != principal.login):
        raise ServiceError("not_found", f"no visit {visit_id}", 404)
    return {"visit_id": str(row.id), "content_hash": row.content_hash, "payload": row.payload}


def list_visits(
    engine: Engine,
    principal: Principal,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    technician_id: str | None = None,
    outcome: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    v = t.visit
    query = sa.select(
        v.c.id,
        v.c.technician_id,
        v.c.work_order_id,
        v.c.visit_type,
        v.c.outcome,
        v.c.customer_no,
        v.c.visit_date,
        v.c.started_at,
        v.c.ended_at,
        v.c.content_hash,
    )
    if not principal.is_admin:
        if technician_id is not None and technician_id != principal.login:
            raise ServiceError("forbidden", "a technician can read only their own visits", 403)
        technician_id = principal.login
    if technician_id is not None:
        query = query.where(v.c.technician_id == technician_id)
    if date_from is not None:
        query = query.where(v.c.visit_date >= date_from)
    if date_to is not None:
        query = query.where(v.c.visit_date <= date_to)
    if outcome is not None:
        query = query.where(v.c.outcome == outcome)
    query = query.order_by(v.c.started_at, v.c.id).limit(limit).offset(offset)
    with reading(engine) as conn:
        return [
            {
                "visit_id": str(r.id),
                "technician_id": r.technician_id,
                "work_order_id": str(r.work_order_id) if r.work_order_id else None,
                "visit_type": r.visit_type,
                "outcome": r.outcome,
                "customer_no": r.customer_no,
                "visit_date": r.visit_date.isoformat(),
                "content_hash": r.content_hash,
            }
            for r in conn.execute(query)
        ]


def open_hazards(engine: Engine, principal: Principal) -> list[dict[str, Any]]:
    """Hazards not yet fixed (待整改 and 复查中), most serious first."""
    h = t.hazard
    query = sa.select(h).where(h.c.status != "fixed")
    if not principal.is_admin:
        query = query.where(h.c.technician_id == principal.login)
    query = query.order_by(sa.case({"major": 0}, value=h.c.level, else_=1), h.c.found_at)
    with reading(engine) as conn:
        return [
            {
                "hazard_id": str(r.id),
                "visit_id": str(r.visit_id),
                "last_visit_id": str(r.last_visit_id),
                "technician_id": r.technician_id,
                "customer_no": r.customer_no,
                "description": r.description,
                "level": r.level,
                "status": r.status,
                "deadline": r.deadline.isoformat() if r.deadline else None,
                "basis": r.basis,
            }
            for r in conn.execute(query)
        ]


def meter_swaps(
    engine: Engine,
    principal: Principal,
    *,
    customer_no: str | None = None,
    meter_no: str | None = None,
) -> list[dict[str, Any]]:
    """Meter swaps (换表), by customer or by a meter number (old or new)."""
    m = t.meter_swap
    query = sa.select(m, t.visit.c.technician_id).join(t.visit, t.visit.c.id == m.c.visit_id)
    if not principal.is_admin:
        query = query.where(t.visit.c.technician_id == principal.login)
    if customer_no is not None:
        query = query.where(m.c.customer_no == customer_no)
    if meter_no is not None:
        query = query.where(sa.or_(m.c.old_meter_no == meter_no, m.c.new_meter_no == meter_no))
    with reading(engine) as conn:
        return [
            {
                "swap_id": str(r.id),
                "visit_id": str(r.visit_id),
                "technician_id": r.technician_id,
                "customer_no": r.customer_no,
                "old_meter_no": r.old_meter_no,
                "new_meter_no": r.new_meter_no,
                "seal_nos": list(r.seal_nos),
                "old_meter_reading": r.old_meter_reading,
                "gas_used": r.gas_used,
                "gas_remaining": r.gas_remaining,
                "swapped_at": r.swapped_at.isoformat(),
                "reason": r.reason,
            }
            for r in conn.execute(query.order_by(m.c.swapped_at, m.c.id))
        ]


def follow_ups(
    engine: Engine, principal: Principal, *, due_by: date | None = None, pending: bool = True
) -> list[dict[str, Any]]:
    """Follow-up calls (回访, within 3 days of the visit): those not yet made by default."""
    f = t.follow_up
    query = sa.select(f)
    if pending:
        query = query.where(f.c.called_at.is_(None))
    if due_by is not None:
        query = query.where(f.c.due_date <= due_by)
    if not principal.is_admin:
        query = query.where(f.c.technician_id == principal.login)
    with reading(engine) as conn:
        return [
            {
                "visit_id": str(r.visit_id),
                "technician_id": r.technician_id,
                "customer_no": r.customer_no,
                "due_date": r.due_date.isoformat(),
                "called_at": r.called_at.isoformat() if r.called_at else None,
                "called_by": r.called_by,
                "result": r.result,
                "satisfaction": r.satisfaction,
            }
            for r in conn.execute(query.order_by(f.c.due_date, f.c.visit_id))
        ]


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise ServiceError("forbidden", "this needs a back-office (admin) account", 403)


def record_follow_up_call(
    engine: Engine, principal: Principal, visit_id: uuid.UUID, result: str, satisfaction: str
) -> None:
    _require_admin(principal)
    if satisfaction not in SATISFACTION:
        raise ServiceError("invalid", f"satisfaction must be one of {', '.join(SATISFACTION)}", 422)
    with engine.begin() as conn:
        done = conn.execute(
            t.follow_up.update()
            .where(t.follow_up.c.visit_id == visit_id)
            .values(
                called_at=_now(),
                called_by=principal.login,
                result=result,
                satisfaction=satisfaction,
            )
        )
    if done.rowcount == 0:
        raise ServiceError("not_found", f"no follow-up for visit {visit_id}", 404)


def log_complaint(
    engine: Engine, principal: Principal, visit_id: uuid.UUID, description: str
) -> uuid.UUID:
    _require_admin(principal)
    with engine.begin() as conn:
        if conn.execute(sa.select(t.visit.c.id).where(t.visit.c.id == visit_id)).first() is None:
            raise ServiceError("not_found", f"no visit {visit_id}", 404)
        complaint_id = uuid.uuid4()
        conn.execute(
            t.complaint.insert().values(
                id=complaint_id,
                visit_id=visit_id,
                logged_at=_now(),
                logged_by=principal.login,
                description=description,
                status="open",
            )
        )
    return complaint_id


def close_complaint(
    engine: Engine, principal: Principal, complaint_id: uuid.UUID, result: str
) -> None:
    _require_admin(principal)
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(t.complaint.c.status).where(t.complaint.c.id == complaint_id)
        ).first()
        if row is None:
            raise ServiceError("not_found", f"no complaint {complaint_id}", 404)
        if row.status == "closed":
            raise ServiceError("already_closed", f"complaint {complaint_id} is closed", 409)
        conn.execute(
            t.complaint.update()
            .where(t.complaint.c.id == complaint_id)
            .values(status="closed", closed_at=_now(), closed_by=principal.login, result=result)
        )


def complaints(engine: Engine, principal: Principal, *, open_only: bool = True) -> list[dict]:
    _require_admin(principal)
    c = t.complaint
    query = sa.select(c).order_by(c.c.logged_at)
    if open_only:
        query = query.where(c.c.status == "open")
    with reading(engine) as conn:
        return [
            {
                "complaint_id": str(r.id),
                "visit_id": str(r.visit_id),
                "logged_at": r.logged_at.isoformat(),
                "logged_by": r.logged_by,
                "description": r.description,
                "status": r.status,
                "closed_at": r.closed_at.isoformat() if r.closed_at else None,
                "result": r.result,
            }
            for r in conn.execute(query)
        ]


# ------------------------------------------------------------------------ work orders
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
        raise ServiceError("unknown_technician", f"no technician account {login!r}", 422)


def create_work_orders(
    engine: Engine, principal: Principal | None, orders: Sequence[NewWorkOrder]
) -> list[uuid.UUID]:
    """Create work orders (admin API, ``fieldkit admin add-work-order``); one transaction."""
    if principal is not None:
        _require_admin(principal)
    now = _now()
    with engine.begin() as conn:
        for login in sorted({o.assigned_to for o in orders}):
            _known_technician(conn, login)
        for o in orders:
            if o.visit_type not in VISIT_TYPES:
                raise ServiceError(
                    "invalid", f"visit type must be one of {', '.join(VISIT_TYPES)}", 422
                )
        numbers = [o.order_no for o in orders]
        clash = conn.execute(
            sa.select(t.work_order.c.order_no).where(t.work_order.c.order_no.in_(numbers))
        ).first()
        if clash is not None or len(set(numbers)) != len(numbers):
            which = clash.order_no if clash is not None else "(repeated in the request)"
            raise ServiceError("duplicate_order_no", f"work order {which} already exists", 409)
        cursors = _next_cursors(conn, len(orders))
        rows = []
        for o, cursor in zip(orders, cursors, strict=True):
            rows.append(
                {
                    "id": o.work_order_id or uuid.uuid4(),
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
            )
        if rows:
            conn.execute(t.work_order.insert(), rows)
    return [r["id"] for r in rows]


def _find_order(conn: Connection, ref: str) -> Any:
    w = t.work_order
    condition = w.c.order_no == ref
    with contextlib.suppress(ValueError):
        condition = sa.or_(condition, w.c.id == uuid.UUID(ref))
    row = conn.execute(sa.select(w).where(condition)).first()
    if row is None:
        raise ServiceError("not_found", f"no work order {ref}", 404)
    return row


def assign_work_order(
    engine: Engine, principal: Principal | None, ref: str, technician: str
) -> int:
    """Give the order to another technician; the previous one pulls a tombstone."""
    if principal is not None:
        _require_admin(principal)
    with engine.begin() as conn:
        _known_technician(conn, technician)
        row = _find_order(conn, ref)
        (cursor,) = _next_cursors(conn, 1)
        conn.execute(
            t.work_order.update()
            .where(t.work_order.c.id == row.id)
            .values(
                assigned_to=technician,
                previous_assignee=row.assigned_to if row.assigned_to != technician else None,
                cursor=cursor,
                updated_at=_now(),
            )
        )
        return cursor


def cancel_work_order(engine: Engine, principal: Principal | None, ref: str) -> int:
    """Cancel an order: technicians pull it as a tombstone (``deleted``)."""
    if principal is not None:
        _require_admin(principal)
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
) -> tuple[list[WorkOrderPayload], int, bool]:
    """Work-order changes after ``since`` visible to the caller, ordered by cursor.

    A technician sees the orders assigned to them; an order taken away from them comes
    once more as a tombstone. Returns (items, next_cursor, has_more).
    """
    w = t.work_order
    query = sa.select(w).where(w.c.cursor > since)
    if not principal.is_admin:
        query = query.where(
            sa.or_(w.c.assigned_to == principal.login, w.c.previous_assignee == principal.login)
        )
    query = query.order_by(w.c.cursor).limit(limit + 1)
    with reading(engine) as conn:
        rows = conn.execute(query).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    items = []
    for r in rows:
        taken_away = not principal.is_admin and r.assigned_to != principal.login
        items.append(
            WorkOrderPayload(
                work_order_id=r.id,
                order_no=r.order_no,
                visit_type=r.visit_type,
                customer=CustomerPayload.model_validate(r.customer),
                assigned_to=r.assigned_to,
                scheduled_for=r.scheduled_for,
                notes=r.notes,
                status=r.status,
                deleted=bool(r.deleted) or taken_away,
                cursor=r.cursor,
            )
        )
    next_cursor = rows[-1].cursor if rows else since
    return items, next_cursor, has_more
