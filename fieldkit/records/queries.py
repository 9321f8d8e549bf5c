"""The two reads every part of the records layer makes: a visit's runs and a run's trail."""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from fieldkit.procedures.engine import RunStatus
from fieldkit.records.models import ProcedureRunRecord, StepResult

# Run statuses that end a run (the engine's RunStatus values; "stopped" and
# "awaiting_repair" are gates that hold a run, not ends).
FINISHED_RUN_STATUSES = frozenset(status.value for status in RunStatus if status.finished)


def runs_of_visit(session: Session, visit_id: uuid.UUID) -> list[ProcedureRunRecord]:
    """The visit's procedure runs, oldest first (ties broken by id, so the order is stable)."""
    return list(
        session.exec(
            select(ProcedureRunRecord)
            .where(ProcedureRunRecord.visit_id == visit_id)
            .order_by(col(ProcedureRunRecord.started_at), col(ProcedureRunRecord.id))
        ).all()
    )


def trail_of_run(session: Session, run_id: uuid.UUID) -> list[StepResult]:
    """The run's saved step events in the order the engine produced them."""
    return list(
        session.exec(
            select(StepResult).where(StepResult.run_id == run_id).order_by(col(StepResult.seq))
        ).all()
    )
