"""Laptop visits that break a safety invariant, made with the real laptop repository and
engine (as an old or tampered laptop would record them) for the safety audit tests."""

from __future__ import annotations

import uuid
from datetime import UTC, date

from fieldkit.procedures.engine import ProcedureRun, VisitContext
from fieldkit.procedures.library import load_procedures_strict
from fieldkit.procedures.models import Override
from fieldkit.records.db import Database
from fieldkit.records.repo import VisitRepository
from tests.sync.test_safety_flags import Clock, _ignition_without_purge

OVERRIDE = Override(
    approved_by="李工（技术科）",
    standard="本公司置换放散细则 2026 修订",
    approved_on=date(2026, 1, 5),
)


def ignition_without_purge(database: Database) -> uuid.UUID:
    """T001's ignition run with no purge before it (closed 已完成)."""
    return _ignition_without_purge(database)


def purge_under_override(database: Database, technician: str) -> tuple[uuid.UUID, str]:
    """(visit id, customer no.) of a purge run from a locally overridden procedure file."""
    clock = Clock()
    repo = VisitRepository(database, clock=clock, local_tz=UTC)
    procedure = load_procedures_strict()["indoor-purge"].model_copy(update={"override": OVERRIDE})
    customer_no = f"OV-{uuid.uuid4().hex[:6]}"
    customer = repo.upsert_customer(customer_no, name="李四")
    visit = repo.start_visit(
        customer_id=customer.id, technician_id=technician, visit_type="ignition"
    )
    run = ProcedureRun.start(
        procedure,
        run_id=uuid.uuid4(),
        actor=technician,
        context=VisitContext.new(visit.id),
        clock=clock,
    )
    repo.start_run(
        visit.id,
        procedure_id=procedure.id,
        procedure_version=procedure.version,
        actor=technician,
        run_id=run.run_id,
        events=run.events,
    )
    repo.close_visit(visit.id, "incomplete", "用户临时外出，改约")
    return visit.id, customer_no
