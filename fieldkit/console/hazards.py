"""A hazard's page and what the back office may do to it (issue 11 item 5: a hazard's status
changes only through a visit of the same customer or from the back office).

A hazard is keyed by (customer no., id). A supervisor moves it forward — 复查中
(rechecking) or 已整改 (fixed) — or notes that the customer was notified (已通知), always
with a note; each change is a ``hazard_event`` row (the hazard's trail) and an audit entry.
Laptop pushes only ever move a hazard's status forward (``service._write_children``), so a
later push carrying an older status (a laptop does not pull hazards) is kept in the trail
as what that visit reported and never undoes the back office's change.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fieldkit.console import tables as ct
from fieldkit.console.audit import record
from fieldkit.console.errors import UserError
from fieldkit.console.staff import Staff
from fieldkit.sync.server import tables as t
from fieldkit.sync.server.db import reading
from fieldkit.sync.server.service import HAZARD_RANK

MAX_TRAIL_VISITS = 200
MAX_EVENTS = 200
MAX_NOTE = 2000
ACTIONS = ("notified", "rechecking", "fixed")  # what the form offers


def _find(conn: Any, hazard_id: uuid.UUID, customer_no: str | None) -> Any:
    h = t.hazard
    query = sa.select(h).where(h.c.id == hazard_id)
    if customer_no:
        query = query.where(h.c.customer_no == customer_no)
    rows = conn.execute(query.limit(2)).all()
    if not rows:
        raise UserError("Not found: {ref}", status=404, ref=str(hazard_id))
    if len(rows) > 1:  # the same id at two customers' premises: say which one
        raise UserError(
            "Several customers have a hazard with this id; open it from the hazards list",
            status=409,
        )
    return rows[0]


def detail(engine: Engine, hazard_id: uuid.UUID, customer_no: str | None) -> dict[str, Any]:
    """A hazard and its trail, oldest first: every visit of that customer that carried it
    (with the status it reported) and every back-office change (with its note)."""
    with reading(engine) as conn:
        row = _find(conn, hazard_id, customer_no)
        visits = conn.execute(
            sa.select(
                t.visit.c.id, t.visit.c.started_at, t.visit.c.technician_id, t.visit.c.payload
            )
            .where(t.visit.c.customer_no == row.customer_no)
            .order_by(t.visit.c.started_at)
            .limit(MAX_TRAIL_VISITS)
        ).all()
        events = conn.execute(
            sa.select(ct.hazard_event)
            .where(
                ct.hazard_event.c.customer_no == row.customer_no,
                ct.hazard_event.c.hazard_id == hazard_id,
            )
            .order_by(ct.hazard_event.c.at)
            .limit(MAX_EVENTS)
        ).all()
    trail: list[dict[str, Any]] = [
        {
            "source": "visit",
            "visit_id": v.id,
            "at": v.started_at,
            "who": v.technician_id,
            "status": h.get("status"),
            "deadline": h.get("deadline"),
        }
        for v in visits
        for h in v.payload.get("hazards", [])
        if h.get("hazard_id") == str(hazard_id)
    ]
    trail += [
        {
            "source": "office",
            "at": e.at,
            "who": e.actor,
            "action": e.action,
            "status": e.to_status,
            "note": e.note,
        }
        for e in events
    ]
    trail.sort(key=lambda e: _utc(e["at"]))
    return {"row": row, "trail": trail, "actions": allowed_actions(row.status)}


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def allowed_actions(status: str) -> tuple[str, ...]:
    """What the back office may do to a hazard in ``status``: only forward."""
    if status == "fixed":
        return ()
    rank = HAZARD_RANK.get(status, -1)
    return tuple(a for a in ACTIONS if a == "notified" or HAZARD_RANK[a] > rank)


def advance(
    engine: Engine, staff: Staff, hazard_id: uuid.UUID, form: dict[str, str]
) -> tuple[str, uuid.UUID]:
    """Apply the form's action to the hazard; returns its key (customer no., id)."""
    action = form.get("action", "")
    if action not in ACTIONS:
        raise UserError("{field}: unknown value {value}", field="action", value=action[:50])
    note = (form.get("note") or "").strip()
    if not note:
        raise UserError("{field} is required", field="note")
    if len(note) > MAX_NOTE or "\x00" in note:
        raise UserError(
            "{field} is too long (at most {limit} characters)", field="note", limit=MAX_NOTE
        )
    expected = (form.get("status") or "").strip()  # the status the supervisor saw
    now = datetime.now(UTC)
    h = t.hazard
    with engine.begin() as conn:
        row = _find(conn, hazard_id, (form.get("customer_no") or "").strip() or None)
        if expected and expected != row.status:
            raise UserError(
                "The hazard changed meanwhile; reload the page and check it", status=409
            )
        if action not in allowed_actions(row.status):
            raise UserError(
                "A hazard only moves forward (pending → rechecking → fixed); "
                "{old} → {new} is not allowed",
                status=409,
                old=row.status,
                new=action,
            )
        target = row.status if action == "notified" else action
        values: dict[str, Any] = {"status": target, "updated_at": now}
        if target == "fixed" and "fixed_at" in h.c:  # the fix time, once the server keeps it
            values["fixed_at"] = now
        if target != row.status:
            # Only from the status just read: a push that moved it meanwhile wins, and
            # this change is refused rather than applied over it.
            changed = conn.execute(
                h.update()
                .where(
                    h.c.customer_no == row.customer_no,
                    h.c.id == hazard_id,
                    h.c.status == row.status,
                )
                .values(**values)
            ).rowcount
            if changed != 1:
                raise UserError(
                    "The hazard changed meanwhile; reload the page and check it", status=409
                )
        conn.execute(
            ct.hazard_event.insert().values(
                id=uuid.uuid4(),
                customer_no=row.customer_no,
                hazard_id=hazard_id,
                at=now,
                actor=staff.username,
                action=action,
                from_status=row.status,
                to_status=target,
                note=note,
            )
        )
        record(
            conn,
            staff.username,
            "hazard.notified" if action == "notified" else "hazard.status",
            str(hazard_id),
            {"customer_no": row.customer_no, "from": row.status, "to": target, "note": note},
        )
    return row.customer_no, hazard_id
