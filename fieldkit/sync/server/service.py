"""Back-office operations on the server database, with no web framework in sight.

The FastAPI app and the ``fieldkit admin`` commands both call these. Each function runs in
its own transaction. Visits are stored here; work orders live in
:mod:`~fieldkit.sync.server.dispatch`, the paginated lists in
:mod:`~fieldkit.sync.server.lists` (both re-exported).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from fieldkit.i18n import N_
from fieldkit.sync.schema import (
    PushResult,
    VisitPayload,
    canonical_bytes,
    content_hash_of_dump,
    repeated_ids,
)
from fieldkit.sync.server import bulk, push_sql, safety_flags
from fieldkit.sync.server import tables as t
from fieldkit.sync.server.auth import Principal
from fieldkit.sync.server.db import reading
from fieldkit.sync.server.dispatch import (  # noqa: F401 - the service API, in one place
    NewWorkOrder,
    assign_work_order,
    cancel_work_order,
    create_work_orders,
    epoch,
    mark_restored,
    pull_work_orders,
)
from fieldkit.sync.server.errors import ServiceError, require_admin
from fieldkit.sync.server.lists import (  # noqa: F401
    list_complaints,
    list_follow_ups,
    list_hazards,
    list_meter_swaps,
    list_visits,
)

HAZARD_RANK = {"pending": 0, "rechecking": 1, "fixed": 2}
SATISFACTION = ("satisfied", "basically_satisfied", "unsatisfied")  # 满意 / 基本满意 / 不满意
_require_admin = require_admin


def _now() -> datetime:
    return datetime.now(UTC)


def _insert(conn: Connection, table: sa.Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


# ----------------------------------------------------------------------------- visits
@dataclass
class _Prepared:
    payload: VisitPayload
    hash: str
    text: bytes  # the payload's canonical JSON, UTF-8 (what is hashed; PostgreSQL stores it)
    received_at: datetime

    @property
    def row(self) -> dict[str, Any]:
        """The ``visit`` row (SQLite's path; PostgreSQL cuts it out of ``text``)."""
        return visit_row(self.payload, self.received_at, json.loads(self.text), self.hash)


def _prepare(p: VisitPayload, received_at: datetime) -> _Prepared:
    text = canonical_bytes(p)  # once: hashed, and PostgreSQL's payload
    return _Prepared(p, hashlib.sha256(text).hexdigest(), text, received_at)


def visit_row(
    p: VisitPayload,
    received_at: datetime,
    data: dict[str, Any] | None = None,
    content_hash: str | None = None,
) -> dict[str, Any]:
    """The ``visit`` row of a payload (``data``: its ``model_dump(mode="json")`` if known,
    ``content_hash``: that dump's :func:`~fieldkit.sync.schema.content_hash_of_dump`)."""
    data = data if data is not None else p.model_dump(mode="json")
    return {
        "id": p.visit_id,
        "content_hash": content_hash or content_hash_of_dump(data),
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


# Tables a push writes besides ``visit``; runs, step results and measurements are views of
# the payload (``tables.views``) since migration 0009.
STORED_CHILDREN = ("meter_swap", "follow_up")


def view_rows(payloads: Iterable[VisitPayload]) -> dict[str, list[dict[str, Any]]]:
    """What the views ``procedure_run``, ``step_result`` and ``measurement`` show for these
    visits (cut out of the payload by PostgreSQL or SQLite; the tests compare with these)."""
    rows: dict[str, list[dict[str, Any]]] = {
        "procedure_run": [],
        "step_result": [],
        "measurement": [],
    }
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
    return rows


def child_rows(payloads: Iterable[VisitPayload]) -> dict[str, list[dict[str, Any]]]:
    """The rows a push writes besides ``visit``, per table: meter swaps, hazards (upserted)
    and the follow-up (the benchmark's baseline inserts these too)."""
    rows: dict[str, list[dict[str, Any]]] = {"meter_swap": [], "hazard": [], "follow_up": []}
    now = _now()
    for p in payloads:
        vid = p.visit_id
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
        rows["hazard"].extend(hazard_rows(p, now))
        rows["follow_up"].append(
            {
                "visit_id": vid,
                "technician_id": p.technician_id,
                "customer_no": p.customer.customer_no,
                "due_date": p.follow_up_due,
            }
        )
    return rows


def hazard_rows(p: VisitPayload, now: datetime) -> list[dict[str, Any]]:
    """The ``hazard`` rows a visit reports (upserted: see :func:`_upsert_hazards`)."""
    return [
        {
            "id": h.hazard_id,
            "visit_id": p.visit_id,
            "last_visit_id": p.visit_id,
            "technician_id": p.technician_id,
            "customer_no": p.customer.customer_no,
            "description": h.description,
            "level": h.level,
            "status": h.status,
            "found_at": h.found_at,
            "deadline": h.deadline,
            "basis": h.basis,
            "refusal_code": h.refusal_code,
            "fixed_at": h.fixed_at,
            "updated_at": now,
        }
        for h in p.hazards
    ]


def _rank(column: Any) -> Any:
    return sa.case({name: rank for name, rank in HAZARD_RANK.items()}, value=column, else_=-1)


_HAZARD_COLUMNS = (
    "id", "visit_id", "last_visit_id", "technician_id", "customer_no", "description", "level",
    "status", "found_at", "deadline", "basis", "refusal_code", "fixed_at", "updated_at",
)  # fmt: skip
_RANK_SQL = "CASE {} WHEN 'pending' THEN 0 WHEN 'rechecking' THEN 1 WHEN 'fixed' THEN 2 ELSE -1 END"
# The same upsert as the SQLAlchemy one below, with the rows as arrays (PostgreSQL).
_HAZARD_UPSERT = (
    bulk.insert_sql(t.hazard, _HAZARD_COLUMNS)
    + " ON CONFLICT (customer_no, id) DO UPDATE SET status = EXCLUDED.status,"
    " last_visit_id = EXCLUDED.last_visit_id, deadline = EXCLUDED.deadline,"
    " fixed_at = EXCLUDED.fixed_at, updated_at = EXCLUDED.updated_at WHERE "
    + _RANK_SQL.format("hazard.status")
    + " < "
    + _RANK_SQL.format("EXCLUDED.status")
)


def _write_children(conn: Connection, new: Sequence[_Prepared]) -> None:
    """One statement (one round trip) per table (SQLite; PostgreSQL: see ``push_sql``)."""
    rows = child_rows(p.payload for p in new)
    safety_flags.flag_visits(conn, [p.payload for p in new])  # re-derived safety (issue 8)
    for name in STORED_CHILDREN:
        bulk.insert_rows(conn, t.metadata.tables[name], rows[name])
    _upsert_hazards(conn, rows["hazard"])


def _upsert_hazards(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    # A 复查 visit carries an earlier visit's hazard with its new status: the status
    # only moves forward (pending → rechecking → fixed), whatever order visits arrive in.
    # A hazard is keyed by (customer, id): a visit to another customer that reuses the
    # id makes a hazard of its own and never touches this one.
    # One row per hazard (an original and its 复查 may share a batch): the most advanced
    # status wins; sorted by key so concurrent batches lock hazards in the same order.
    latest: dict[tuple[str, uuid.UUID], dict[str, Any]] = {}
    for row in rows:
        key = (row["customer_no"], row["id"])
        seen = latest.get(key)
        if seen is None or HAZARD_RANK[row["status"]] > HAZARD_RANK[seen["status"]]:
            latest[key] = row
    hazards = [latest[k] for k in sorted(latest)]
    if conn.dialect.name == "postgresql":
        bulk.execute_unnest(conn, t.hazard, _HAZARD_COLUMNS, hazards, _HAZARD_UPSERT)
        return
    stmt = _insert(conn, t.hazard)
    stmt = stmt.on_conflict_do_update(
        index_elements=[t.hazard.c.customer_no, t.hazard.c.id],
        set_={
            "status": stmt.excluded.status,
            "last_visit_id": stmt.excluded.last_visit_id,
            "deadline": stmt.excluded.deadline,
            "fixed_at": stmt.excluded.fixed_at,
            "updated_at": stmt.excluded.updated_at,
        },
        where=_rank(t.hazard.c.status) < _rank(stmt.excluded.status),
    )
    conn.execute(stmt, hazards)


def _conflict(vid: uuid.UUID, received: str, stored: str) -> PushResult:
    return PushResult(
        visit_id=vid,
        status="conflict",
        content_hash=received,
        server_hash=stored,
        error={
            "code": "conflict",
            "message": (
                f"visit {vid} is already stored with different content "
                f"(server hash {stored}, received {received})"
            ),
        },
    )


def _id_taken(vid: uuid.UUID, received: str) -> PushResult:
    """Another technician's visit id: refused without saying whose or what it holds."""
    return PushResult(
        visit_id=vid,
        status="rejected",
        content_hash=received,
        error={
            "code": "visit_id_taken",
            "message": f"visit id {vid} cannot be used; the laptop must record the visit "
            "under a new id",
        },
    )


def _store_group(conn: Connection, group: Sequence[_Prepared]) -> dict[uuid.UUID, PushResult]:
    """Insert the visits not yet on the server; classify the others. Caller commits."""
    results: dict[uuid.UUID, PushResult] = {}
    if conn.dialect.name == "postgresql":  # one statement: visits and their child rows
        inserted = push_sql.store_new(
            conn,
            [p.text for p in group],
            [p.hash for p in group],
            group[0].received_at,
        )
        new = [p for p in group if p.payload.visit_id in inserted]
        if new:
            safety_flags.flag_visits(conn, [p.payload for p in new])  # re-derived (issue 8)
            now = _now()
            _upsert_hazards(conn, [row for p in new for row in hazard_rows(p.payload, now)])
    else:
        stmt = _insert(conn, t.visit).on_conflict_do_nothing(index_elements=[t.visit.c.id])
        found = conn.execute(stmt.returning(t.visit.c.id), [p.row for p in group])
        inserted = {row[0] for row in found.all()}
        new = [p for p in group if p.payload.visit_id in inserted]
        if new:
            _write_children(conn, new)
    old_ids = [p.payload.visit_id for p in group if p.payload.visit_id not in inserted]
    stored: dict[uuid.UUID, tuple[str, str]] = {}
    if old_ids:
        stored = {
            row.id: (row.content_hash, row.technician_id)
            for row in conn.execute(
                sa.select(t.visit.c.id, t.visit.c.content_hash, t.visit.c.technician_id).where(
                    t.visit.c.id.in_(old_ids)
                )
            )
        }
    for p in group:
        vid = p.payload.visit_id
        if vid in inserted:
            results[vid] = PushResult(visit_id=vid, status="stored", content_hash=p.hash)
            continue
        server_hash, owner = stored.get(vid, ("", ""))
        if owner != p.payload.technician_id:
            results[vid] = _id_taken(vid, p.hash)
        elif server_hash == p.hash:
            results[vid] = PushResult(visit_id=vid, status="duplicate", content_hash=p.hash)
        else:
            results[vid] = _conflict(vid, p.hash, server_hash)
    return results


def store_visits(
    engine: Engine, principal: Principal, visits: Sequence[VisitPayload]
) -> list[PushResult]:
    """Store a batch of visits idempotently; one result per visit, in the request's order.

    A technician may only write visits whose ``technician_id`` is their own (403 for the
    whole batch otherwise, before anything is written). New visits of a batch are written in
    one transaction, one statement per table; if that fails, each visit is retried in its
    own transaction and a bad one is ``rejected`` — a visit is never half-written.
    """
    if not principal.is_admin:
        for p in visits:
            if p.technician_id != principal.login:
                raise ServiceError(
                    "forbidden",
                    N_("visit {visit_id} belongs to technician {owner!r}; you are {login!r}"),
                    403,
                    {"visit_id": str(p.visit_id)},
                    params={
                        "visit_id": str(p.visit_id),
                        "owner": p.technician_id,
                        "login": principal.login,
                    },
                )
    now = _now()
    first: dict[uuid.UUID, _Prepared] = {}
    prepared: list[_Prepared | PushResult] = []  # one per visit, in the request's order
    for p in visits:
        repeated = repeated_ids(p)
        if repeated:
            prepared.append(
                PushResult(
                    visit_id=p.visit_id,
                    status="rejected",
                    error={
                        "code": "repeated_ids",
                        "message": f"visit {p.visit_id} uses an id twice in "
                        f"{', '.join(repeated)}; each must be used once within a visit",
                    },
                )
            )
            continue
        item = _prepare(p, now)
        prepared.append(item)
        first.setdefault(p.visit_id, item)
    # Sorted by id: two batches holding the same visits lock them in the same order.
    group = sorted(first.values(), key=lambda p: p.payload.visit_id)
    results = _store(engine, group) if group else {}
    out = []
    for item in prepared:
        if isinstance(item, PushResult):
            out.append(item)
            continue
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


def _store(engine: Engine, group: Sequence[_Prepared]) -> dict[uuid.UUID, PushResult]:
    """All new visits in one transaction; if that fails, each in its own."""
    try:
        with engine.begin() as conn:
            return _store_group(conn, group)
    except sa.exc.IntegrityError:
        pass
    results: dict[uuid.UUID, PushResult] = {}
    for item in group:
        try:
            with engine.begin() as conn:
                results.update(_store_group(conn, [item]))
        except sa.exc.IntegrityError:
            vid = item.payload.visit_id
            results[vid] = PushResult(
                visit_id=vid,
                status="rejected",
                content_hash=item.hash,
                error={
                    "code": "not_storable",
                    "message": f"visit {vid} could not be stored as sent; the laptop keeps it",
                },
            )
    return results


def get_visit(engine: Engine, principal: Principal, visit_id: uuid.UUID) -> dict[str, Any]:
    with reading(engine) as conn:
        row = conn.execute(sa.select(t.visit).where(t.visit.c.id == visit_id)).first()
    if row is None or (not principal.is_admin and row.technician_id != principal.login):
        raise ServiceError(
            "not_found", N_("no visit {visit_id}"), 404, params={"visit_id": str(visit_id)}
        )
    return {"visit_id": str(row.id), "content_hash": row.content_hash, "payload": row.payload}


def record_follow_up_call(
    engine: Engine, principal: Principal, visit_id: uuid.UUID, result: str, satisfaction: str
) -> None:
    _require_admin(principal)
    if satisfaction not in SATISFACTION:
        raise ServiceError(
            "invalid",
            N_("satisfaction must be one of {choices}"),
            422,
            params={"choices": ", ".join(SATISFACTION)},
        )
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
        raise ServiceError(
            "not_found",
            N_("no follow-up for visit {visit_id}"),
            404,
            params={"visit_id": str(visit_id)},
        )


def log_complaint(
    engine: Engine, principal: Principal, visit_id: uuid.UUID, description: str
) -> uuid.UUID:
    _require_admin(principal)
    with engine.begin() as conn:
        if conn.execute(sa.select(t.visit.c.id).where(t.visit.c.id == visit_id)).first() is None:
            raise ServiceError(
                "not_found", N_("no visit {visit_id}"), 404, params={"visit_id": str(visit_id)}
            )
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
            raise ServiceError(
                "not_found",
                N_("no complaint {id}"),
                404,
                params={"id": str(complaint_id)},
            )
        if row.status == "closed":
            raise ServiceError(
                "already_closed",
                N_("complaint {id} is closed"),
                409,
                params={"id": str(complaint_id)},
            )
        conn.execute(
            t.complaint.update()
            .where(t.complaint.c.id == complaint_id)
            .values(status="closed", closed_at=_now(), closed_by=principal.login, result=result)
        )
