"""A visit for the handover-form tests: a purge and an ignition run through the real
engine and saved through the real repository, with a failed-then-repaired tightness test,
a 不适用 answer, a meter swap and (optionally) a drawn signature."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fieldkit.procedures.engine import ProcedureRun, VisitContext
from fieldkit.procedures.library import load_procedures
from fieldkit.procedures.models import Procedure
from fieldkit.records.crashdriver import ScriptedClock, act, next_action
from fieldkit.records.db import Database
from fieldkit.records.repo import VisitRepository


def shipped_procedures() -> dict[str, Procedure]:
    found, problems = load_procedures()
    assert {"ignition", "indoor-purge"} <= set(found), problems
    return found


def run_procedure(
    repo: VisitRepository,
    visit_id: uuid.UUID,
    procedure: Procedure,
    answers: dict[str, Any] | None = None,
    *,
    hour: int = 1,
) -> ProcedureRun:
    """Run ``procedure`` to its end with the scripted technician, except for ``answers``
    (step id → the value to answer instead); every event is saved as it happens."""
    answers = dict(answers or {})
    state = repo.resume(visit_id)
    run = ProcedureRun.start(
        procedure,
        run_id=uuid.uuid4(),
        actor="T001",
        context=VisitContext.from_events(state.all_step_events(), visit_id=visit_id),
        clock=ScriptedClock(datetime(2026, 11, 23, hour, 0, tzinfo=UTC)),
    )
    repo.start_run(
        visit_id,
        procedure_id=procedure.id,
        procedure_version=procedure.version,
        actor="T001",
        run_id=run.run_id,
        events=run.events,
        run_status=run.status.value,
    )
    for _ in range(100):
        if run.status.finished:
            break
        kind, arg = next_action(run)
        if kind == "answer" and arg[0] in answers:
            events = run.answer(arg[0], answers.pop(arg[0]))
        else:
            events = act(run)
        repo.record_events(visit_id, run.run_id, events, run_status=run.status.value)
    assert run.status.finished
    return run


def make_visit(
    db: Database, procedures: dict[str, Procedure], *, signature_png: bytes | None = None
) -> uuid.UUID:
    """A purge and an ignition in one visit: the tightness test fails, is repaired and
    passes; the alarm test is answered 不适用 (no alarm installed); the meter is swapped."""
    repo = VisitRepository(db)
    customer = repo.upsert_customer("0012345", name="张三", community="幸福小区")
    visit = repo.start_visit(customer_id=customer.id, technician_id="T001", visit_type="ignition")
    run_procedure(repo, visit.id, procedures["indoor-purge"])
    run_procedure(
        repo, visit.id, procedures["ignition"], {"alarm-cutoff-test": {"answer": "n/a"}}, hour=9
    )
    repo.record_meter_swap(
        visit.id,
        old_meter_no="QF-OLD-1",
        new_meter_no="QF-NEW-2",
        seal_nos=["QF21", "QF22"],
        old_meter_reading=1234.5,
        gas_used=1234.5,
        gas_remaining=3.2,
        reason="字轮不转动(反向表)",
    )
    if signature_png is not None:
        repo.sign(visit.id, "张三", image_png=signature_png)
    return visit.id
