"""The plain-SQL event save writes exactly the rows the ORM path writes (and the plain
reads give what the ORM reads)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fieldkit.procedures.engine import ProcedureRun, StepEvent, VisitContext
from fieldkit.procedures.library import load_procedures_strict
from fieldkit.records import runs
from fieldkit.records.db import Database
from fieldkit.records.repo import EventConflict, VisitClosed, VisitRepository
from fieldkit.records.safety_facts import visit_facts


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=7, microseconds=123)
        return self.now


def _actions(visit_id: uuid.UUID, clock: Clock) -> tuple[ProcedureRun, list[list[StepEvent]]]:
    """Ignition by the bare engine: a held reading that fails, a repair, a pass, two
    checks, then the run abandoned (start, measurements, gates, status, end)."""
    run = ProcedureRun.start(
        load_procedures_strict()["ignition"],
        run_id=uuid.uuid4(),
        actor="T001",
        context=VisitContext.new(visit_id),
        clock=clock,
    )
    actions = [list(run.events)]
    actions.append(run.answer("tightness-test", {"unit": "kPa", "start": 5.2}))
    clock.now += timedelta(minutes=15)
    actions.append(run.answer("tightness-test", {"unit": "kPa", "end": 5.0}))
    actions.append(run.record_repair("紧固接口"))
    actions.append(run.answer("tightness-test", {"unit": "kPa", "start": 5.2}))
    clock.now += timedelta(minutes=15)
    actions.append(run.answer("tightness-test", {"unit": "kPa", "end": 5.2}))
    actions.append(run.answer("alarm-cutoff-test", "n/a"))
    actions.append(run.answer("meter-closed-valve", {"answer": "yes", "note": "阀门已关"}))
    actions.append(run.abandon("客户要求改期"))
    return run, actions


def _renamed(events: list[StepEvent], run_id: uuid.UUID, ids: dict) -> list[StepEvent]:
    out = []
    for e in events:
        ids.setdefault(e.event_id, uuid.uuid4())
        out.append(e.model_copy(update={"event_id": ids[e.event_id], "run_id": run_id}))
    return out


def _rows(db: Database, run_id: uuid.UUID) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored column but the ids, as SQLite holds them (text, numbers)."""
    with db.engine.connect() as conn:
        run = conn.exec_driver_sql(
            "SELECT procedure_id, procedure_version, actor, status, started_at, ended_at, "
            "content_hash, override FROM procedure_run WHERE id = ?",
            (run_id.hex,),
        ).fetchall()
        events = conn.exec_driver_sql(
            "SELECT seq, step_id, kind, value, passed, at, actor, saved_at FROM step_result "
            "WHERE run_id = ? ORDER BY seq",
            (run_id.hex,),
        ).fetchall()
        readings = conn.exec_driver_sql(
            "SELECT r.seq, m.step_id, m.quantity, m.value, m.unit, m.taken_at FROM measurement m "
            "JOIN step_result r ON r.id = m.step_result_id WHERE m.run_id = ? "
            "ORDER BY r.seq, m.quantity",
            (run_id.hex,),
        ).fetchall()
    return {"run": run, "events": events, "readings": readings}


def test_the_plain_save_writes_what_the_orm_writes(db: Database) -> None:
    clock = Clock()
    repo = VisitRepository(db, clock=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    customer = repo.upsert_customer("P-0001", name="张三")
    visit = repo.start_visit(customer_id=customer.id, technician_id="T001", visit_type="ignition")
    engine_run, actions = _actions(visit.id, clock)
    first, *rest = actions
    # the ORM path, action by action (each in its own transaction)
    orm_run = uuid.uuid4()
    orm_ids: dict = {}
    saved_at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with db.session() as session:
        runs.start_run(
            session,
            visit.id,
            procedure_id="ignition",
            procedure_version=engine_run.procedure.version,
            actor="T001",
            now=saved_at,
            run_id=orm_run,
            events=_renamed(first, orm_run, orm_ids),
            run_status="in_progress",
        )
    for events in rest:
        with db.session() as session:
            row = runs.run_of_visit(session, visit.id, orm_run)
            visit_row = runs.open_visit(session, visit.id)
            runs.save_events(
                session, visit_row, row, _renamed(events, orm_run, orm_ids), None, now=saved_at
            )
    # the plain path, through the repository the session service uses
    plain_run = uuid.uuid4()
    plain_ids: dict = {}
    repo.start_run(
        visit.id,
        procedure_id="ignition",
        procedure_version=engine_run.procedure.version,
        actor="T001",
        run_id=plain_run,
        events=_renamed(first, plain_run, plain_ids),
        run_status="in_progress",
    )
    for events in rest:
        repo.record_events(visit.id, plain_run, _renamed(events, plain_run, plain_ids))
    orm, plain = _rows(db, orm_run), _rows(db, plain_run)
    assert len(plain["events"]) == len(engine_run.events)
    assert len(plain["readings"]) == 4  # start, end, twice: a held start is saved once
    assert plain == orm
    assert plain["run"][0][3] == "abandoned" and plain["run"][0][5] is not None
    # and the plain read gives what the ORM read gives
    with db.session(readonly=True) as session:
        assert repo.safety_facts(visit.id) == visit_facts(session, visit.id)
    # saved again (a retry): harmless; the same id with other content: refused
    repo.record_events(visit.id, plain_run, _renamed(rest[-1], plain_run, plain_ids))
    changed = _renamed(rest[-1], plain_run, plain_ids)[0].model_copy(
        update={"value": {"reason": "另一原因"}}
    )
    with pytest.raises(EventConflict):
        repo.record_events(visit.id, plain_run, [changed])
    assert _rows(db, plain_run) == plain
    # a closed visit takes nothing more
    repo.close_visit(visit.id, "incomplete", "客户要求改期")
    late = _renamed(rest[-1], plain_run, {})
    with pytest.raises(VisitClosed):
        repo.record_events(visit.id, plain_run, late)
