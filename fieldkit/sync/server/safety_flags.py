"""Safety flags: the back office re-derives each pushed visit's safety state and flags it.

Every new visit stored by the push path goes through :func:`flag_visits` in the same
transaction: the same :mod:`fieldkit.safety` code as the laptop judges its history
(ignition without its gates, gas-in after a refusal, work under a local override, a visit
closed 已完成 while blocked). The visit itself is always stored (a record is evidence);
each violation becomes a ``visit_safety_flag`` row, listed by ``GET /api/v1/safety-flags``
(admin token, keyset pagination).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from fieldkit.procedures.engine import EventKind, StepEvent
from fieldkit.safety import HazardFacts, RunFacts, VisitFacts
from fieldkit.safety.audit import audit
from fieldkit.sync.schema import VisitPayload
from fieldkit.sync.server import bulk
from fieldkit.sync.server.db import reading
from fieldkit.sync.server.tables import visit_safety_flag

MAX_LIMIT = 500
_KINDS = {kind.value: kind for kind in EventKind}
_EVENT_FIELDS = frozenset(StepEvent.model_fields)
_new_event = StepEvent.__new__
_set = object.__setattr__


def _event(fields: dict[str, Any]) -> StepEvent:
    """A ``StepEvent`` of already-validated ``fields`` (every field): what
    ``StepEvent.model_construct`` makes, at a fifth of its cost (a push builds one per
    step result of every visit)."""
    event = _new_event(StepEvent)
    _set(event, "__dict__", fields)
    _set(event, "__pydantic_fields_set__", _EVENT_FIELDS)
    _set(event, "__pydantic_extra__", None)
    _set(event, "__pydantic_private__", None)
    return event


def visit_facts(payload: VisitPayload) -> VisitFacts:
    """The pushed visit (a ``VisitPayload``) as the safety module's facts."""
    runs = []
    for order, run in enumerate(payload.procedure_runs):
        events = []
        for step in run.steps:
            kind = _KINDS.get(step.kind)
            if kind is None:
                continue  # an event kind this server does not know: kept, not judged
            # The wire schema has validated every field already (ids, aware UTC times,
            # text, JSON): built without validating again (a push's hot path).
            events.append(
                _event(
                    {
                        "event_id": step.result_id,
                        "run_id": run.run_id,
                        "step_id": step.step_id,
                        "kind": kind,
                        "value": step.value,
                        "passed": step.passed,
                        "at": step.at,
                        "actor": step.actor,
                    }
                )
            )
        runs.append(RunFacts(run.run_id, run.procedure_id, tuple(events), order))
    hazards = tuple(
        HazardFacts(
            hazard_id=h.hazard_id,
            major=str(h.level) == "major",
            refusal_code=h.refusal_code,
            found_at=h.found_at,
            # when it was recorded 已整改; a payload from a laptop older than that field
            # gives none: its fixed hazard is taken as fixed from the moment it was found
            fixed_at=(h.fixed_at or h.found_at) if str(h.status) == "fixed" else None,
            description=h.description,
        )
        for h in payload.hazards
    )
    return VisitFacts(payload.visit_id, tuple(runs), hazards)


def _violations(payload: VisitPayload) -> list[tuple[str, str]]:
    try:
        found = audit(visit_facts(payload), outcome=str(payload.outcome))
    except Exception as exc:  # the visit is stored regardless; the failure is flagged
        return [("audit_failed", f"the safety re-derivation failed: {type(exc).__name__}: {exc}")]
    return [(v.kind.value, v.detail) for v in found]


def flag_visits(conn: Connection, payloads: Iterable[VisitPayload]) -> int:
    """Judge each newly stored visit and insert its flags (caller's transaction)."""
    now = datetime.now(UTC)
    rows = []
    for payload in payloads:
        for kind, detail in _violations(payload):
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "visit_id": payload.visit_id,
                    "kind": kind,
                    "detail": detail,
                    "flagged_at": now,
                }
            )
    bulk.insert_rows(conn, visit_safety_flag, rows)
    return len(rows)


class SafetyFlag(BaseModel):
    id: uuid.UUID
    visit_id: uuid.UUID
    kind: str
    detail: str
    flagged_at: datetime


class SafetyFlagPage(BaseModel):
    items: list[SafetyFlag]
    next_after: str | None  # pass as ``after`` for the next page; None: last page


def _cursor(flag: SafetyFlag) -> str:
    return f"{flag.flagged_at.astimezone(UTC).isoformat()}_{flag.id}"


def list_flags(conn: Connection, *, limit: int, after: str | None) -> SafetyFlagPage:
    t = visit_safety_flag
    query = sa.select(t).order_by(t.c.flagged_at, t.c.id).limit(limit + 1)
    if after:
        at_text, _, ident = after.partition("_")
        at = datetime.fromisoformat(at_text)
        key = uuid.UUID(ident)
        query = query.where(
            sa.or_(t.c.flagged_at > at, sa.and_(t.c.flagged_at == at, t.c.id > key))
        )
    rows = conn.execute(query).all()
    items = [
        SafetyFlag(
            id=r.id,
            visit_id=r.visit_id,
            kind=r.kind,
            detail=r.detail,
            flagged_at=r.flagged_at if r.flagged_at.tzinfo else r.flagged_at.replace(tzinfo=UTC),
        )
        for r in rows[:limit]
    ]
    return SafetyFlagPage(
        items=items, next_after=_cursor(items[-1]) if len(rows) > limit and items else None
    )


router = APIRouter()
AFTER_PATTERN = r"^\d{4}-\d{2}-\d{2}T[0-9:.+\-]+_[0-9a-fA-F-]{36}$"


@router.get("/api/v1/safety-flags", response_model=SafetyFlagPage)
def safety_flags(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    after: Annotated[str | None, Query(max_length=80, pattern=AFTER_PATTERN)] = None,
) -> SafetyFlagPage:
    """Visits flagged by the safety re-derivation, oldest first (admin token only)."""
    from fieldkit.sync.server.app import ApiError, current_principal

    who = current_principal(request)
    if not who.is_admin:
        raise ApiError(403, "forbidden", "the safety flags are for the back office (admin token)")
    try:
        with reading(request.app.state.engine) as conn:
            return list_flags(conn, limit=limit, after=after)
    except ValueError as exc:
        raise ApiError(422, "invalid", f"after: not a cursor from this list ({exc})") from exc
