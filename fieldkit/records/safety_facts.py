"""The visit's stored facts as :class:`fieldkit.safety.VisitFacts` (inside a session)."""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from fieldkit.procedures.engine import StepEvent
from fieldkit.records.models import Hazard, HazardLevel, HazardStatus, HazardStatusChange
from fieldkit.records.queries import runs_of_visit, trail_of_run
from fieldkit.safety import HazardFacts, RunFacts, SafetyState, VisitFacts, derive


def visit_facts(session: Session, visit_id: uuid.UUID) -> VisitFacts:
    runs = []
    for order, run in enumerate(runs_of_visit(session, visit_id)):
        events = tuple(
            StepEvent(
                event_id=row.id,
                run_id=row.run_id,
                step_id=row.step_id,
                kind=row.kind,
                value=row.value,
                passed=row.passed,
                at=row.at,
                actor=row.actor,
            )
            for row in trail_of_run(session, run.id)
        )
        runs.append(RunFacts(run.id, run.procedure_id, events, order))
    return VisitFacts(visit_id, tuple(runs), hazard_facts(session, visit_id))


def hazard_facts(session: Session, visit_id: uuid.UUID) -> tuple[HazardFacts, ...]:
    """The visit's hazards: level, refusal class, when found and when fixed (if fixed)."""
    hazards = []
    for hazard in session.exec(
        select(Hazard).where(Hazard.visit_id == visit_id).order_by(col(Hazard.found_at))
    ).all():
        fixed_at = None
        if hazard.status == HazardStatus.FIXED:
            change = session.exec(
                select(HazardStatusChange)
                .where(
                    HazardStatusChange.hazard_id == hazard.id,
                    HazardStatusChange.to_status == HazardStatus.FIXED,
                )
                .order_by(col(HazardStatusChange.changed_at).desc())
            ).first()
            fixed_at = change.changed_at if change is not None else hazard.updated_at
        hazards.append(
            HazardFacts(
                hazard_id=hazard.id,
                major=hazard.level == HazardLevel.MAJOR,
                refusal_code=hazard.refusal_code,
                found_at=hazard.found_at,
                fixed_at=fixed_at,
                description=hazard.description,
            )
        )
    return tuple(hazards)


def visit_safety(session: Session, visit_id: uuid.UUID) -> SafetyState:
    return derive(visit_facts(session, visit_id))
