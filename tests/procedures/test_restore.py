"""Restoring a run from its saved events: same state as live, forged lists rejected."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldkit.paths import shipped_data_dir
from fieldkit.procedures.engine import (
    EventKind,
    ProcedureError,
    ProcedureRun,
    ReplayError,
    RunStatus,
    StepEvent,
    VisitContext,
)
from fieldkit.procedures.library import load_procedures
from fieldkit.procedures.models import Procedure
from tests.procedures.procedure_helpers import FakeClock, pass_tightness, passing_answer, start
from tests.procedures.test_engine import timer_procedure

# the shipped files only, whatever FIELDKIT_DATA says (this runs at import time)
PROCEDURES, _PROBLEMS = load_procedures([shipped_data_dir() / "procedures"])
PROCEDURES = {**PROCEDURES, "timer-test": timer_procedure()}


def act(run: ProcedureRun, clock: FakeClock, choice: int, minutes: int) -> None:
    """One technician action chosen by ``choice``; invalid ones must change nothing."""
    clock.advance(minutes=minutes)
    before = run.events
    try:
        _act(run, choice)
    except ProcedureError:
        assert run.events == before, "a rejected action must not leave events"


def _act(run: ProcedureRun, choice: int) -> None:
    if run.status.finished:
        return
    if choice % 23 == 0:
        run.abandon("用户不在家")
        return
    if run.open_gate is not None:
        if choice % 3 == 0:  # try to push past the gate first
            step = run.current
            assert step is not None
            run.answer(step.id, passing_answer(step) if step.kind != "measurement" else {})
        run.record_repair(f"维修 {choice}")
        return
    step = run.current
    assert step is not None
    if step.kind == "check":
        answers = ["yes", "no"] + (["n/a"] if step.allow_not_applicable else [])
        run.answer(step.id, {"answer": answers[choice % len(answers)]})
    elif step.kind == "measurement":
        unit = step.units[choice % len(step.units)].value
        pending = run.pending_reading(step.id)
        base = {"Pa": 5200.0, "kPa": 5.2, "mmH2O": 530.0}
        if pending is not None:
            drop = base[pending["unit"]] * 0.01 if choice % 4 == 0 else 0.0
            run.answer(step.id, {"unit": pending["unit"], "end": pending["start"] - drop})
        elif step.hold is not None:
            run.answer(step.id, {"unit": unit, "start": base[unit]})
        else:
            drop = base[unit] * 0.01 if choice % 4 == 0 else 0.0
            run.answer(step.id, {"unit": unit, "start": base[unit], "end": base[unit] - drop})
    elif step.kind == "timer":
        if run.timer_remaining(step.id) is None:
            run.start_timer(step.id)
        else:
            run.answer(step.id, True)
    elif choice % 5 == 0:
        run.answer(step.id, {"not": "valid"})  # rejected: InvalidAnswer
    else:
        run.answer(step.id, passing_answer(step))


def snapshot(run: ProcedureRun) -> tuple[Any, ...]:
    steps = run.procedure.steps
    return (
        run.status,
        run.current.id if run.current else None,
        run.open_gate.step_id if run.open_gate else None,
        run.events,
        {s.id: run.pending_reading(s.id) for s in steps},
        {s.id: run.timer_remaining(s.id) for s in steps},
    )


def comparable(events: list[StepEvent]) -> list[tuple[Any, ...]]:
    return [(e.kind, e.step_id, e.value, e.passed, e.at, e.actor) for e in events]


moves = st.lists(st.tuples(st.integers(0, 200), st.integers(0, 16)), max_size=45)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(proc_id=st.sampled_from(sorted(PROCEDURES)), moves=moves, cut=st.integers(0, 45))
def test_restore_reproduces_the_live_run(
    proc_id: str, moves: list[tuple[int, int]], cut: int
) -> None:
    procedure = PROCEDURES[proc_id]
    clock = FakeClock()
    context = VisitContext.new(uuid.uuid4())
    run = start(procedure, clock, context)
    cut = min(cut, len(moves))
    cut_state: tuple[Any, ...] | None = None
    cut_time: datetime | None = None
    for index, (choice, minutes) in enumerate(moves):
        if index == cut:
            cut_state, cut_time = snapshot(run), clock.now
        act(run, clock, choice, minutes)
        # at every point, the saved events (through JSON, as stored) rebuild the same run
        saved = [StepEvent.model_validate_json(e.model_dump_json()) for e in run.events]
        restored = ProcedureRun.restore(procedure, saved, context=context, clock=clock)
        assert restored.events_added_on_restore == []
        assert snapshot(restored) == snapshot(run)
    if cut_state is None:
        cut_state, cut_time = snapshot(run), clock.now
    # resume from the cut and do the same remaining actions: the same trail results
    assert cut_time is not None
    resumed_clock = FakeClock(cut_time)
    resumed = ProcedureRun.restore(
        procedure, list(cut_state[3]), context=context, clock=resumed_clock
    )
    assert snapshot(resumed) == cut_state
    for choice, minutes in moves[cut:]:
        act(resumed, resumed_clock, choice, minutes)
    assert comparable(resumed.events) == comparable(run.events)
    assert resumed.status == run.status


# ---------------------------------------------------------------- forged and broken lists


def failed_tightness_events(shipped: dict[str, Procedure], clock: FakeClock) -> ProcedureRun:
    run = start(shipped["ignition"], clock)
    run.answer("tightness-test", {"unit": "kPa", "start": 5.2})
    clock.advance(minutes=15)
    run.answer("tightness-test", {"unit": "kPa", "end": 4.9})
    assert run.status == RunStatus.AWAITING_REPAIR
    return run


def forge(event: StepEvent, **changes: Any) -> StepEvent:
    return event.model_copy(update=changes)


def test_forged_pass_of_a_failed_test_is_rejected(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    run = failed_tightness_events(shipped, clock)
    events = run.events
    answered = next(e for e in events if e.kind == EventKind.ANSWERED)
    forged = [forge(e, passed=True) if e is answered else e for e in events]
    forged = [e for e in forged if e.kind not in (EventKind.GATE_TRIGGERED, EventKind.REVOKED)]
    with pytest.raises(ReplayError):
        ProcedureRun.restore(shipped["ignition"], forged, context=run.context, clock=clock)


def test_forged_readings_are_rejected(shipped: dict[str, Procedure], clock: FakeClock) -> None:
    run = failed_tightness_events(shipped, clock)
    forged = [
        forge(e, value={**e.value, "end": 5.2}) if e.kind == EventKind.ANSWERED else e
        for e in run.events
    ]
    with pytest.raises(ReplayError):
        ProcedureRun.restore(shipped["ignition"], forged, context=run.context, clock=clock)


def test_skipping_the_repair_is_rejected(shipped: dict[str, Procedure], clock: FakeClock) -> None:
    run = failed_tightness_events(shipped, clock)
    events = run.events
    skipped = StepEvent(
        event_id=uuid.uuid4(),
        run_id=run.run_id,
        step_id="alarm-cutoff-test",
        kind=EventKind.ANSWERED,
        value={"answer": "yes"},
        passed=True,
        at=clock.now,
        actor="王师傅",
    )
    with pytest.raises(ReplayError, match="不被允许"):
        ProcedureRun.restore(
            shipped["ignition"], [*events, skipped], context=run.context, clock=clock
        )


def test_answers_after_a_refusal_are_rejected(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    run = start(shipped["indoor-purge"], clock)
    run.answer("private-alteration", "yes")
    assert run.status == RunStatus.REFUSED
    later = StepEvent(
        event_id=uuid.uuid4(),
        run_id=run.run_id,
        step_id="concealed-piping",
        kind=EventKind.ANSWERED,
        value={"answer": "no"},
        passed=True,
        at=clock.now,
        actor="王师傅",
    )
    with pytest.raises(ReplayError):
        ProcedureRun.restore(
            shipped["indoor-purge"], [*run.events, later], context=run.context, clock=clock
        )
    # dropping the refusal itself is caught too
    no_refusal = [e for e in run.events if e.kind != EventKind.REFUSED]
    restored = ProcedureRun.restore(
        shipped["indoor-purge"], no_refusal, context=run.context, clock=clock
    )
    # (a trail cut right after the gate is a crash: the refusal is recreated, not skipped)
    assert restored.status == RunStatus.REFUSED
    assert [e.kind for e in restored.events_added_on_restore] == [EventKind.REFUSED]


def test_a_hold_shortened_in_the_saved_list_is_rejected(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    run = start(shipped["ignition"], clock)
    pass_tightness(run, clock)
    started = next(e for e in run.events if e.kind == EventKind.READING_STARTED)
    forged = [
        forge(e, at=started.at + timedelta(minutes=5))
        if e.step_id == "tightness-test" and e.kind in (EventKind.ANSWERED, EventKind.ESTABLISHED)
        else e
        for e in run.events
    ]
    with pytest.raises(ReplayError, match="还需"):
        ProcedureRun.restore(shipped["ignition"], forged, context=run.context, clock=clock)


def test_events_out_of_time_order_are_rejected(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    run = start(shipped["indoor-purge"], clock)
    clock.advance(minutes=3)
    run.answer("private-alteration", "no")
    events = run.events
    forged = [events[0], forge(events[1], at=events[0].at - timedelta(minutes=1))]
    with pytest.raises(ReplayError, match="早于前一条"):
        ProcedureRun.restore(shipped["indoor-purge"], forged, context=run.context, clock=clock)


def test_restore_checks_run_visit_and_version(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    run = start(shipped["ignition"], clock)
    pass_tightness(run, clock)
    events = run.events
    with pytest.raises(ReplayError, match="另一次上门"):
        ProcedureRun.restore(
            shipped["ignition"], events, context=VisitContext.new(uuid.uuid4()), clock=clock
        )
    newer = shipped["ignition"].model_copy(update={"version": 3})
    with pytest.raises(ReplayError, match="版本"):
        ProcedureRun.restore(newer, events, context=run.context, clock=clock)
    with pytest.raises(ReplayError):
        ProcedureRun.restore(shipped["indoor-purge"], events, context=run.context, clock=clock)
    with pytest.raises(ReplayError):
        ProcedureRun.restore(shipped["ignition"], events[1:], context=run.context, clock=clock)
    with pytest.raises(ReplayError):
        ProcedureRun.restore(shipped["ignition"], [], context=run.context, clock=clock)
    mixed = [*events, forge(events[-1], run_id=uuid.uuid4(), event_id=uuid.uuid4())]
    with pytest.raises(ReplayError, match="另一次流程"):
        ProcedureRun.restore(shipped["ignition"], mixed, context=run.context, clock=clock)
    twice = [*events, events[-1]]
    with pytest.raises(ReplayError, match="两次"):
        ProcedureRun.restore(shipped["ignition"], twice, context=run.context, clock=clock)


def test_crash_between_an_answer_and_its_gate_recreates_the_gate(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    run = failed_tightness_events(shipped, clock)
    saved = [e for e in run.events if e.kind not in (EventKind.REVOKED, EventKind.GATE_TRIGGERED)]
    clock.advance(minutes=1)
    restored = ProcedureRun.restore(shipped["ignition"], saved, context=run.context, clock=clock)
    assert restored.status == RunStatus.AWAITING_REPAIR
    assert [e.kind for e in restored.events_added_on_restore] == [
        EventKind.REVOKED,
        EventKind.GATE_TRIGGERED,
    ]
    assert restored.events_added_on_restore[-1].value == run.events[-1].value


def test_restored_run_can_be_continued_by_another_actor(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    run = failed_tightness_events(shipped, clock)
    restored = ProcedureRun.restore(
        shipped["ignition"], run.events, context=run.context, clock=clock, actor="赵师傅"
    )
    event = restored.record_repair("更换球阀")[0]
    assert event.actor == "赵师傅"
    assert restored.events[0].actor == "王师傅"
