"""The visit's stored facts as :class:`fieldkit.safety.VisitFacts` (inside a session).

The session service reads these on every call (hazards) and on every restore (runs), so
each is one Core query, not a query per run or per hazard.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from fieldkit.procedures.engine import EventKind, StepEvent
from fieldkit.records.models import (
    Hazard,
    HazardLevel,
    HazardStatus,
    HazardStatusChange,
    ProcedureRunRecord,
    StepResult,
)
from fieldkit.safety import HazardFacts, RunFacts, SafetyState, VisitFacts, derive

_RUN = sa.inspect(ProcedureRunRecord).local_table
_EVENT = sa.inspect(StepResult).local_table
_HAZARD = sa.inspect(Hazard).local_table
_CHANGE = sa.inspect(HazardStatusChange).local_table

# the visit's runs (oldest first, ties by id) with their events in engine order
_EVENTS_OF_VISIT = (
    sa.select(
        _RUN.c.id.label("run"),
        _RUN.c.procedure_id,
        _EVENT.c.id,
        _EVENT.c.step_id,
        _EVENT.c.kind,
        _EVENT.c.value,
        _EVENT.c.passed,
        _EVENT.c.at,
        _EVENT.c.actor,
    )
    .select_from(_RUN.outerjoin(_EVENT, _EVENT.c.run_id == _RUN.c.id))
    .where(_RUN.c.visit_id == sa.bindparam("visit"))
    .order_by(_RUN.c.started_at, _RUN.c.id, _EVENT.c.seq)
)

# the visit's hazards (oldest first) with the time of their latest move to 已整改
_FIXED_AT = (
    sa.select(sa.func.max(_CHANGE.c.changed_at))
    .where(_CHANGE.c.hazard_id == _HAZARD.c.id, _CHANGE.c.to_status == HazardStatus.FIXED)
    .scalar_subquery()
)
_HAZARD_COLUMNS = (
    _HAZARD.c.id,
    _HAZARD.c.level,
    _HAZARD.c.status,
    _HAZARD.c.refusal_code,
    _HAZARD.c.found_at,
    _HAZARD.c.updated_at,
    _HAZARD.c.description,
    _FIXED_AT.label("fixed_at"),
)
_HAZARDS_OF_VISIT = (
    sa.select(*_HAZARD_COLUMNS)
    .where(_HAZARD.c.visit_id == sa.bindparam("visit"))
    .order_by(_HAZARD.c.found_at, _HAZARD.c.id)
)


def visit_facts(session: Session, visit_id: uuid.UUID) -> VisitFacts:
    runs: list[RunFacts] = []
    current: uuid.UUID | None = None
    procedure = ""
    events: list[StepEvent] = []

    def flush() -> None:
        if current is not None:
            runs.append(RunFacts(current, procedure, tuple(events), len(runs)))

    for row in session.connection().execute(_EVENTS_OF_VISIT, {"visit": visit_id}):
        if row.run != current:
            flush()
            current, procedure, events = row.run, row.procedure_id, []
        if row.id is not None:  # a run saved without events yet
            # saved by this layer from validated engine events: built without validating
            # again (read on every restore and every closing check)
            events.append(
                StepEvent.model_construct(
                    event_id=row.id,
                    run_id=row.run,
                    step_id=row.step_id,
                    kind=EventKind(row.kind),
                    value=row.value,
                    passed=row.passed,
                    at=row.at,
                    actor=row.actor,
                )
            )
    flush()
    return VisitFacts(visit_id, tuple(runs), hazard_facts(session, visit_id))


def hazard_facts(db: Session | sa.Connection, visit_id: uuid.UUID) -> tuple[HazardFacts, ...]:
    """The visit's hazards: level, refusal class, when found and when fixed (if fixed)."""
    connection = db.connection() if isinstance(db, Session) else db
    return tuple(_hazard(row) for row in connection.execute(_HAZARDS_OF_VISIT, {"visit": visit_id}))


def hazards_by_id(session: Session, hazard_ids: list[uuid.UUID]) -> dict[uuid.UUID, HazardFacts]:
    """The given hazards as facts (with their fix time), whatever visit found them."""
    if not hazard_ids:
        return {}
    query = sa.select(*_HAZARD_COLUMNS).where(_HAZARD.c.id.in_(hazard_ids))
    return {row.id: _hazard(row) for row in session.connection().execute(query)}


def _hazard(row: Any) -> HazardFacts:
    return HazardFacts(
        hazard_id=row.id,
        major=row.level == HazardLevel.MAJOR,
        refusal_code=row.refusal_code,
        found_at=row.found_at,
        # the latest move to 已整改 (its status change), or the row's last update
        fixed_at=(row.fixed_at or row.updated_at) if row.status == HazardStatus.FIXED else None,
        description=row.description,
    )


def visit_safety(session: Session, visit_id: uuid.UUID) -> SafetyState:
    return derive(visit_facts(session, visit_id))
