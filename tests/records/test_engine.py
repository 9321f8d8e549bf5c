"""The records layer with the real procedure engine and the shipped ignition procedure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from fieldkit.procedures.engine import ProcedureRun, RunStatus, VisitContext
from fieldkit.procedures.library import load_procedures
from fieldkit.procedures.models import Procedure
from fieldkit.records.crashdriver import ScriptedClock, act
from fieldkit.records.db import Database, open_database
from fieldkit.records.models import Measurement
from fieldkit.records.repo import VisitRepository
from fieldkit.sync.schema import VisitPayload


@pytest.fixture(scope="module")
def ignition() -> Procedure:
    procedures, problems = load_procedures()
    assert "ignition" in procedures, problems
    return procedures["ignition"]


def _start(repo: VisitRepository, procedure: Procedure) -> tuple[uuid.UUID, ProcedureRun]:
    customer = repo.upsert_customer("0012345", name="张三", community="幸福小区")
    visit = repo.start_visit(customer_id=customer.id, technician_id="T001", visit_type="ignition")
    run = ProcedureRun.start(
        procedure,
        run_id=uuid.uuid4(),
        actor="T001",
        context=VisitContext.new(visit.id),
        clock=ScriptedClock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC)),
    )
    repo.start_run(
        visit.id,
        procedure_id=procedure.id,
        procedure_version=procedure.version,
        actor="T001",
        run_id=run.run_id,
        events=run.events,
        run_status=run.status.value,
    )
    return visit.id, run


def _step(repo: VisitRepository, visit_id: uuid.UUID, run: ProcedureRun) -> None:
    repo.record_events(visit_id, run.run_id, act(run), run_status=run.status.value)


def test_saved_events_are_the_engine_events(db: Database, ignition: Procedure) -> None:
    repo = VisitRepository(db)
    visit_id, run = _start(repo, ignition)
    for _ in range(6):
        _step(repo, visit_id, run)
    saved = [e.to_step_event() for e in repo.run_events(run.run_id)]
    assert saved == run.events  # every field, in order, round-tripped through SQLite


def test_resume_after_reopening_restores_the_same_run(
    db_path: Path, db: Database, ignition: Procedure
) -> None:
    repo = VisitRepository(db)
    visit_id, run = _start(repo, ignition)
    for _ in range(8):  # past the failed test, the repair and the retest
        _step(repo, visit_id, run)
    db.close()
    reopened = open_database(f"sqlite:///{db_path.as_posix()}")
    try:
        again = VisitRepository(reopened)
        assert [v.visit_id for v in again.unfinished_visits()] == [visit_id]
        state = again.resume(visit_id)
        current = state.current_run
        assert current is not None and current.run_id == run.run_id
        restored = ProcedureRun.restore(
            ignition,
            current.step_events(),
            context=VisitContext.from_events(state.all_step_events(), visit_id=visit_id),
            clock=ScriptedClock(max(e.at for e in state.all_events())),
        )
        assert restored.events == run.events
        assert restored.status == run.status == RunStatus.IN_PROGRESS
        assert restored.current is not None and run.current is not None
        assert restored.current.id == run.current.id
        assert restored.events_added_on_restore == []
        # ...and it carries on to the end and closes.
        while not restored.status.finished:
            _step(again, visit_id, restored)
        assert again.resume(visit_id).runs[0].status == "completed"
        item = again.close_visit(visit_id, "completed")
    finally:
        reopened.close()
    payload = VisitPayload.model_validate(item.payload)
    assert payload.meter is not None and payload.meter.seal_nos == ["F-1", "F-2"]
    assert payload.signature is not None and payload.signature.signer_name == "张三"
    steps = payload.procedure_runs[0].steps
    assert [s.result_id for s in steps] == [e.event_id for e in restored.events]


def test_a_held_reading_is_measured_once(db: Database, ignition: Procedure) -> None:
    repo = VisitRepository(db)
    visit_id, run = _start(repo, ignition)
    for _ in range(5):  # start, drop (fail), repair, start, end (pass)
        _step(repo, visit_id, run)
    with db.session(readonly=True) as session:
        rows = session.exec(
            select(Measurement).order_by(col(Measurement.taken_at), col(Measurement.quantity))
        ).all()
    assert [(m.quantity, m.value, m.unit) for m in rows] == [
        ("start", 6.0, "kPa"),
        ("end", 5.8, "kPa"),
        ("start", 6.0, "kPa"),
        ("end", 6.0, "kPa"),
    ]


def test_handover_form_tells_the_tightness_story(db: Database, ignition: Procedure) -> None:
    from fieldkit.i18n import set_language
    from fieldkit.records.handover import build_handover, handover_text

    repo = VisitRepository(db)
    visit_id, run = _start(repo, ignition)
    while not run.status.finished:
        _step(repo, visit_id, run)
    set_language("en")
    try:
        text = handover_text(build_handover(db, visit_id), tz=UTC)
    finally:
        set_language("zh")
    lines = [line.strip() for line in text.splitlines()]
    tests = [line for line in lines if line.startswith("[")]
    assert tests[0].startswith("[failed]") and "end 5.8 kPa" in tests[0]
    assert tests[1].startswith("[repaired]")
    assert tests[2].startswith("[passed]") and "end 6 kPa" in tests[2]
    assert len(tests) == 3 + len(ignition.steps) - 1  # every other step answered once
    assert "[done] Load the IC-card gas" in tests  # an instruction is done, not "passed"
    assert "Seal no(s).*: F-1, F-2" in lines
    assert any(line.startswith("Customer signature: 张三") for line in lines)
