"""The engine's gates, timers and audit trail — plain state machine, no Textual."""

from __future__ import annotations

import inspect
import uuid
from datetime import timedelta
from typing import Any

import pytest

from fieldkit.procedures.engine import (
    EventKind,
    FactRecord,
    GateClosed,
    InvalidAnswer,
    ProcedureRun,
    RunFinished,
    RunStatus,
    StepEvent,
    StepOutOfOrder,
    TimerNotElapsed,
    VisitContext,
)
from fieldkit.procedures.models import Procedure
from tests.procedures.procedure_helpers import FakeClock, pass_tightness, passing_answer, start

# ---------------------------------------------------------------- refusal (不予通气)


@pytest.mark.parametrize(
    ("step_id", "failing", "code"),
    [
        ("private-alteration", "yes", "private_alteration"),
        ("concealed-piping", "yes", "concealed_piping"),
        ("pipe-clamps", "no", "no_pipe_clamps"),
        ("installation-compliant", "no", "non_compliant_installation"),
    ],
)
def test_each_refusal_condition_ends_the_job_as_refused(
    shipped: dict[str, Procedure], clock: FakeClock, step_id: str, failing: str, code: str
) -> None:
    procedure = shipped["indoor-purge"]
    run = start(procedure, clock)
    for step in procedure.steps:
        if step.id == step_id:
            break
        run.answer(step.id, passing_answer(step))
    clock.advance(minutes=2)
    events = run.answer(step_id, {"answer": failing, "note": "厨房吊顶内"})
    assert run.status == RunStatus.REFUSED
    assert run.current is None
    assert [e.kind for e in events] == [
        EventKind.ANSWERED,
        EventKind.GATE_TRIGGERED,
        EventKind.REFUSED,
    ]
    refused = run.refusal
    assert refused is not None and refused.value["refusal_code"] == code
    assert refused.value["reason"]["zh"].endswith("不予通气")
    assert refused.value["note"] == "厨房吊顶内"
    assert refused.at == clock.now and refused.actor == "王师傅"
    # nothing more is accepted, by any path
    nxt = procedure.steps[procedure.index_of(step_id) + 1]
    with pytest.raises(RunFinished):
        run.answer(nxt.id, passing_answer(nxt))
    with pytest.raises(RunFinished):
        run.answer(step_id, {"answer": "no" if failing == "yes" else "yes"})
    with pytest.raises(RunFinished):
        run.record_repair("装了管卡")
    with pytest.raises(RunFinished):
        run.abandon("用户要求")


def test_refuse_is_reachable_only_at_a_refusal_check(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    ignition = start(shipped["ignition"], clock)
    with pytest.raises(GateClosed):
        ignition.refuse("用户不配合")
    purge = start(shipped["indoor-purge"], clock)
    purge.refuse("燃气管道被改到卫生间")
    assert purge.status == RunStatus.REFUSED
    assert purge.refusal is not None
    assert purge.refusal.value["refusal_code"] == "private_alteration"
    assert purge.refusal.value["note"] == "燃气管道被改到卫生间"


# ---------------------------------------------------------------- repair gates


def test_pressure_drop_holds_the_job_until_repair_and_retest(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    procedure = shipped["ignition"]
    run = start(procedure, clock)
    run.answer("tightness-test", {"unit": "mmH2O", "start": 530})
    clock.advance(minutes=15)
    events = run.answer("tightness-test", {"unit": "mmH2O", "end": 528})
    assert run.status == RunStatus.AWAITING_REPAIR
    answered = events[0]
    assert answered.passed is False  # computed by the engine from the readings
    assert answered.value == {"unit": "mmH2O", "start": 530.0, "end": 528.0}
    gate = next(e for e in events if e.kind == EventKind.GATE_TRIGGERED)
    assert gate.value["gate"] == "repair_then_retry"
    assert gate.value["failed_rules"] == [{"rule": "no_drop", "drop": 2.0, "unit": "mmH2O"}]
    # later steps, the failed step itself, timers: all closed
    with pytest.raises(GateClosed):
        run.answer("alarm-cutoff-test", "yes")
    with pytest.raises(GateClosed):
        run.answer("tightness-test", {"unit": "mmH2O", "start": 530})
    assert run.current is not None and run.current.id == "tightness-test"
    assert run.open_gate is not None and run.open_gate.step_id == "tightness-test"
    with pytest.raises(InvalidAnswer):
        run.record_repair("   ")
    clock.advance(minutes=20)
    repair = run.record_repair("更换表前阀活接垫片")
    assert [e.kind for e in repair] == [EventKind.REPAIR_RECORDED]
    assert repair[0].value == {"description": "更换表前阀活接垫片", "reopens": "tightness-test"}
    assert run.status == RunStatus.IN_PROGRESS
    pass_tightness(run, clock)
    assert run.current is not None and run.current.id == "alarm-cutoff-test"
    # the failed result stays in the trail, before the repair and the passing retest
    results = [(e.kind, e.passed) for e in run.events if e.step_id == "tightness-test"]
    assert (EventKind.ANSWERED, False) in results
    assert results.index((EventKind.ANSWERED, False)) < results.index(
        (EventKind.REPAIR_RECORDED, None)
    )
    assert results[-2:] == [(EventKind.ANSWERED, True), (EventKind.ESTABLISHED, True)]


def test_a_start_pressure_below_the_minimum_is_refused_at_once(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    """Issue 8 item 6: the hold never starts on a start reading below the minimum."""
    run = start(shipped["ignition"], clock)
    with pytest.raises(InvalidAnswer, match=r"起始压力不足|start pressure too low") as caught:
        run.answer("tightness-test", {"unit": "mmH2O", "start": 500})  # 4.90 kPa < 5 kPa
    assert caught.value.rule is not None
    assert caught.value.rule["rule"] == "min"
    assert caught.value.rule["value"] == pytest.approx(4.903325)
    assert run.pending_reading("tightness-test") is None
    assert run.timer_remaining("tightness-test") is None
    assert [e.kind for e in run.events] == [EventKind.STARTED]


def test_510_mmh2o_meets_the_5_kpa_minimum(shipped: dict[str, Procedure], clock: FakeClock) -> None:
    run = start(shipped["ignition"], clock)
    run.answer("tightness-test", {"unit": "mmH2O", "start": 510})  # 5.0014 kPa
    clock.advance(minutes=15)
    assert run.answer("tightness-test", {"unit": "mmH2O", "end": 510})[0].passed is True


def test_technician_cannot_type_passed(shipped: dict[str, Procedure], clock: FakeClock) -> None:
    run = start(shipped["community-gas-connection"], clock)
    run.answer("regulator-leak-check", "no")
    run.answer("regulator-pressure", True)
    run.answer("riser-valves-closed", "yes")
    run.answer("ring-main-gas-in", True)
    for bad in (
        {"unit": "kPa", "start": 3, "end": 2.9, "passed": True},
        {"unit": "psi", "start": 3, "end": 3},
        {"unit": "kPa", "start": "3", "end": 3},
        {"unit": "kPa", "start": 3},
        {"unit": "kPa", "start": 0, "end": 0},
        {"unit": "kPa", "start": float("nan"), "end": 3},
        "passed",
    ):
        with pytest.raises(InvalidAnswer):
            run.answer("last-riser-tightness", bad)
    assert len([e for e in run.events if e.step_id == "last-riser-tightness"]) == 0
    events = run.answer("last-riser-tightness", {"unit": "kPa", "start": 3, "end": 2.9})
    assert events[0].passed is False and run.status == RunStatus.AWAITING_REPAIR


def test_leak_on_recheck_reopens_the_leak_check(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    procedure = shipped["ignition"]
    run = start(procedure, clock)
    pass_tightness(run, clock)
    for step_id in ("alarm-cutoff-test", "meter-closed-valve", "battery-valve-open"):
        run.answer(step_id, "yes")
    run.answer("counter-turns", "no")  # reversed / straight-through meter
    assert run.status == RunStatus.AWAITING_REPAIR
    run.record_repair("更换为正向表")
    run.answer("counter-turns", "yes")
    run.answer("leak-recheck", "yes")
    assert run.status == RunStatus.AWAITING_REPAIR
    with pytest.raises(GateClosed):
        run.answer("load-card-gas", True)
    run.record_repair("紧固灶前阀接口")
    # a pipework repair voids the tightness pass: the run goes back to the tightness test
    assert run.current is not None and run.current.id == "tightness-test"
    assert run.fact_holds("tightness_passed") is None
    pass_tightness(run, clock)
    for step_id in ("alarm-cutoff-test", "meter-closed-valve", "battery-valve-open"):
        run.answer(step_id, "yes")
    run.answer("counter-turns", "yes")
    run.answer("leak-recheck", "no")
    run.answer("load-card-gas", True)
    assert run.current is not None and run.current.id == "handover-data"


def test_stop_gate_waits_for_a_correction(shipped: dict[str, Procedure], clock: FakeClock) -> None:
    procedure = shipped["indoor-purge"]
    run = start(procedure, clock)
    for step_id in ("private-alteration", "concealed-piping"):
        run.answer(step_id, "no")
    for step_id in ("pipe-clamps", "installation-compliant"):
        run.answer(step_id, "yes")
    run.answer("hose-vented-outdoors", "no")
    assert run.status == RunStatus.STOPPED
    with pytest.raises(GateClosed):
        run.answer("windows-open", "yes")
    run.record_repair("软管已引出窗外")
    run.answer("hose-vented-outdoors", "yes")
    run.answer("windows-open", "yes")
    run.answer("no-smoking-no-flame", "yes")
    run.answer("appliance-leak", "no")
    assert run.status == RunStatus.COMPLETED
    assert run.events[-1].kind == EventKind.COMPLETED


def test_record_repair_without_a_failure_is_rejected(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    run = start(shipped["indoor-purge"], clock)
    with pytest.raises(StepOutOfOrder):
        run.record_repair("nothing to repair")


# ---------------------------------------------------------------- tightness before ignition


def ignition_run_with_context(
    shipped: dict[str, Procedure], clock: FakeClock, context: VisitContext
) -> ProcedureRun:
    return ProcedureRun.start(
        shipped["ignition"], run_id=uuid.uuid4(), actor="王师傅", context=context, clock=clock
    )


def test_ignition_steps_are_out_of_order_before_the_tightness_test(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    run = start(shipped["ignition"], clock)
    for step in shipped["ignition"].steps[1:]:
        if step.kind in ("instruction", "check", "capture", "sign_off"):
            with pytest.raises(StepOutOfOrder):
                run.answer(step.id, passing_answer(step))
    assert [e.kind for e in run.events] == [EventKind.STARTED]


def test_a_pass_in_an_earlier_run_of_the_same_visit_counts(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    visit = uuid.uuid4()
    first = ignition_run_with_context(shipped, clock, VisitContext.new(visit))
    pass_tightness(first, clock)
    first.abandon("用户临时外出")
    clock.advance(hours=1)
    context = VisitContext.from_events(first.events)
    assert context.visit_id == visit
    second = ignition_run_with_context(shipped, clock, context)
    assert second.current is not None and second.current.id == "alarm-cutoff-test"
    satisfied = second.events[-1]
    assert satisfied.kind == EventKind.SATISFIED_EARLIER
    evidence = satisfied.value["evidence"][0]
    established = next(e for e in first.events if e.kind == EventKind.ESTABLISHED)
    assert evidence["event_id"] == str(established.event_id)
    assert evidence["run_id"] == str(first.run_id)


def test_a_pass_from_another_visit_never_counts(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    other = ignition_run_with_context(shipped, clock, VisitContext.new(uuid.uuid4()))
    pass_tightness(other, clock)
    this_visit = uuid.uuid4()
    # built from the other visit's events but for this visit: nothing carries over
    context = VisitContext.from_events(other.events, visit_id=this_visit)
    assert context.records == ()
    run = ignition_run_with_context(shipped, clock, context)
    assert run.current is not None and run.current.id == "tightness-test"
    # a forged context listing the other visit's pass under this visit id is not trusted
    forged = VisitContext(
        visit_id=this_visit,
        records=VisitContext.from_events(other.events).records,
    )
    run = ignition_run_with_context(shipped, clock, forged)
    assert run.current is not None and run.current.id == "tightness-test"


def test_required_fact_gates_a_step_even_when_the_test_step_is_removed(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    # a utility's override that drops the tightness test still cannot ignite
    data = shipped["ignition"].model_dump(by_alias=True, mode="json", exclude_none=True)
    data["steps"] = data["steps"][1:]
    without = Procedure.model_validate(data)
    run = start(without, clock)
    with pytest.raises(GateClosed, match="tightness_passed"):
        run.answer("alarm-cutoff-test", "yes")
    assert [e.kind for e in run.events] == [EventKind.STARTED]
    # a record from this visit's earlier run opens it
    visit = uuid.uuid4()
    record = FactRecord(
        fact="tightness_passed",
        established=True,
        visit_id=visit,
        run_id=uuid.uuid4(),
        event_id=uuid.uuid4(),
        step_id="tightness-test",
        at=clock.now,
    )
    run = start(without, clock, VisitContext(visit_id=visit, records=(record,)))
    run.answer("alarm-cutoff-test", "yes")
    # ... but not a record made after the moment of the answer
    future = record.model_copy(update={"at": clock.now + timedelta(minutes=5)})
    run = start(without, clock, VisitContext(visit_id=visit, records=(future,)))
    with pytest.raises(GateClosed):
        run.answer("alarm-cutoff-test", "yes")


def test_a_failed_retest_revokes_an_earlier_pass(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    visit = uuid.uuid4()
    first = ignition_run_with_context(shipped, clock, VisitContext.new(visit))
    pass_tightness(first, clock)
    first.abandon("改日点火")
    context = VisitContext.from_events(first.events)
    second = ignition_run_with_context(shipped, clock, context)
    assert second.fact_holds("tightness_passed") is not None
    community = start(shipped["community-gas-connection"], clock, context)
    assert community.fact_holds("tightness_passed") is not None
    # a failed tightness measurement in this visit revokes the fact for later runs
    failing = ignition_run_with_context(shipped, clock, VisitContext.new(visit))
    failing.answer("tightness-test", {"unit": "kPa", "start": 5.5})
    clock.advance(minutes=15)
    failing.answer("tightness-test", {"unit": "kPa", "end": 5.0})
    later = VisitContext.from_events([*first.events, *failing.events])
    third = ignition_run_with_context(shipped, clock, later)
    assert third.current is not None and third.current.id == "tightness-test"


# ---------------------------------------------------------------- timers


def timer_procedure() -> Procedure:
    return Procedure.model_validate(
        {
            "schema": "fieldkit.procedure/1",
            "id": "timer-test",
            "version": 1,
            "title": {"zh": "计时", "en": "Timer"},
            "source": {"kind": "manual", "section": "小区通气流程"},
            "steps": [
                {
                    "id": "hold",
                    "kind": "timer",
                    "manual_ref": 3,
                    "minutes": 15,
                    "title": {"zh": "保压", "en": "Hold"},
                    "text": {"zh": "试验时间15分钟", "en": "Test for 15 minutes"},
                },
                {
                    "id": "done",
                    "kind": "instruction",
                    "manual_ref": 3,
                    "title": {"zh": "完成", "en": "Done"},
                    "text": {"zh": "完成", "en": "Done"},
                },
            ],
        }
    )


def test_timer_cannot_be_completed_early(clock: FakeClock) -> None:
    run = start(timer_procedure(), clock)
    with pytest.raises(InvalidAnswer):
        run.answer("hold", True)  # not started
    with pytest.raises(InvalidAnswer):
        run.answer("hold", {"confirmed": False})
    with pytest.raises(StepOutOfOrder):
        run.start_timer("done")
    started = run.start_timer("hold")
    assert started[0].kind == EventKind.TIMER_STARTED and started[0].at == clock.now
    with pytest.raises(InvalidAnswer):
        run.start_timer("hold")  # a restart would hide the elapsed time
    clock.advance(minutes=14, seconds=59)
    assert run.timer_remaining("hold") == timedelta(seconds=1)
    with pytest.raises(TimerNotElapsed) as excinfo:
        run.answer("hold", True)
    assert excinfo.value.remaining == timedelta(seconds=1)
    clock.advance(seconds=1)
    assert run.timer_remaining("hold") == timedelta(0)
    run.answer("hold", True)
    assert run.current is not None and run.current.id == "done"


def test_held_measurement_cannot_end_early(shipped: dict[str, Procedure], clock: FakeClock) -> None:
    run = start(shipped["ignition"], clock)
    with pytest.raises(InvalidAnswer):  # both readings at once skip the hold
        run.answer("tightness-test", {"unit": "kPa", "start": 5.2, "end": 5.2})
    run.answer("tightness-test", {"unit": "kPa", "start": 5.2})
    assert run.pending_reading("tightness-test") == {"unit": "kPa", "start": 5.2}
    clock.advance(minutes=10)
    assert run.timer_remaining("tightness-test") == timedelta(minutes=5)
    with pytest.raises(TimerNotElapsed):
        run.answer("tightness-test", {"unit": "kPa", "end": 5.2})
    clock.advance(minutes=5)
    with pytest.raises(InvalidAnswer):  # the end is read in the start's unit
        run.answer("tightness-test", {"unit": "Pa", "end": 5200})
    with pytest.raises(InvalidAnswer):  # the start cannot be rewritten
        run.answer("tightness-test", {"unit": "kPa", "start": 6.0, "end": 6.0})
    assert run.answer("tightness-test", {"unit": "kPa", "end": 5.2})[0].passed is True


def test_clock_must_be_timezone_aware(shipped: dict[str, Procedure]) -> None:
    from datetime import datetime

    with pytest.raises(ValueError, match="timezone"):
        start(shipped["ignition"], lambda: datetime(2026, 1, 1))  # type: ignore[arg-type]


# ---------------------------------------------------------------- data capture and sign-off


def run_to_handover(shipped: dict[str, Procedure], clock: FakeClock) -> ProcedureRun:
    run = start(shipped["ignition"], clock)
    pass_tightness(run, clock)
    for step in shipped["ignition"].steps[1:]:
        if step.id == "handover-data":
            break
        run.answer(step.id, passing_answer(step))
    return run


@pytest.mark.parametrize(
    "bad",
    [
        {"meter_no": "A1", "seal_nos": [], "meter_reading": 1, "remaining_gas": 2},
        {"meter_no": "A1", "seal_nos": "F1", "meter_reading": 1, "remaining_gas": 2},
        {"meter_no": "A1", "seal_nos": ["F1", "F1"], "meter_reading": 1, "remaining_gas": 2},
        {"meter_no": " ", "seal_nos": ["F1"], "meter_reading": 1, "remaining_gas": 2},
        {"meter_no": "A1", "seal_nos": ["F1"], "meter_reading": -1, "remaining_gas": 2},
        {"meter_no": "A1", "seal_nos": ["F1"], "meter_reading": 1},
        {"meter_no": "A1", "seal_nos": ["F1"], "meter_reading": 1, "remaining_gas": 2, "x": 1},
    ],
)
def test_capture_rejects_bad_fields(
    shipped: dict[str, Procedure], clock: FakeClock, bad: dict[str, Any]
) -> None:
    run = run_to_handover(shipped, clock)
    before = len(run.events)
    with pytest.raises(InvalidAnswer):
        run.answer("handover-data", bad)
    assert len(run.events) == before


def test_full_ignition_records_the_handover(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    run = run_to_handover(shipped, clock)
    run.answer(
        "handover-data",
        {
            "meter_no": "MH2026-0042",
            "seal_nos": ["QF-11", "QF-12"],
            "meter_reading": 0,
            "remaining_gas": 20,
        },
    )
    with pytest.raises(InvalidAnswer):
        run.answer("customer-sign-off", {"customer_name": ""})
    run.answer("customer-sign-off", {"customer_name": "李女士", "signature_ref": "sig-1"})
    assert run.status == RunStatus.COMPLETED
    data = next(e for e in run.events if e.step_id == "handover-data")
    assert data.value["seal_nos"] == ["QF-11", "QF-12"]
    # every event is timestamped and names the actor; the trail is ordered in time
    assert all(e.at.tzinfo is not None and e.actor == "王师傅" for e in run.events)
    assert [e.at for e in run.events] == sorted(e.at for e in run.events)
    assert len({e.event_id for e in run.events}) == len(run.events)


# ---------------------------------------------------------------- the symptom flow


def test_stove_flow_low_battery_points_at_the_fault_entries(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    run = start(shipped["stove-wont-light"], clock)
    run.answer("meter-balance", "yes")
    events = run.answer("meter-battery", "yes")  # 低电关阀 shown
    finding = next(e for e in events if e.kind == EventKind.FINDING)
    assert finding.value["see_also"] == ["meihua-ic.06", "qianfeng-ic.04"]
    assert "电池" in finding.value["text"]["zh"]
    assert run.status == RunStatus.COMPLETED


def test_stove_flow_solenoid_cut_off_needs_a_leak_check(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    run = start(shipped["stove-wont-light"], clock)
    for step_id in ("meter-balance", "stove-battery"):
        if step_id == "stove-battery":
            run.answer("meter-battery", "no")
        run.answer(step_id, "yes")
    run.answer("valves-open", "no")
    assert run.current is not None and run.current.id == "joints-leak-check"
    run.answer("joints-leak-check", "yes")
    assert run.status == RunStatus.AWAITING_REPAIR
    run.record_repair("更换灶具连接软管")
    run.answer("joints-leak-check", "no")
    assert run.status == RunStatus.COMPLETED


def test_stove_flow_skips_the_leak_check_when_the_valves_are_open(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    run = start(shipped["stove-wont-light"], clock)
    run.answer("meter-balance", "yes")
    run.answer("meter-battery", "no")
    run.answer("stove-battery", "yes")
    events = run.answer("valves-open", "yes")
    assert [e.kind for e in events] == [
        EventKind.ANSWERED,
        EventKind.NOT_APPLICABLE,
        EventKind.COMPLETED,
    ]


# ---------------------------------------------------------------- no bypass


def test_no_public_api_takes_a_bypass_flag() -> None:
    for name, member in inspect.getmembers(ProcedureRun):
        if name.startswith("_") or not callable(member):
            continue
        params = set(inspect.signature(member).parameters)
        assert not params & {"force", "skip", "override", "bypass", "passed", "skip_gates"}, name


def test_events_are_frozen(shipped: dict[str, Procedure], clock: FakeClock) -> None:
    run = start(shipped["ignition"], clock)
    event: StepEvent = run.events[0]
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error type
        event.passed = True  # type: ignore[misc]
    run.events.clear()  # a copy: the run's trail is untouched
    assert len(run.events) == 1


# ---------------------------------------------------------------- visit context


def test_context_from_events_of_several_visits_needs_the_visit_id(
    shipped: dict[str, Procedure], clock: FakeClock
) -> None:
    a = start(shipped["ignition"], clock)
    pass_tightness(a, clock)
    b = start(shipped["ignition"], clock)
    pass_tightness(b, clock)
    with pytest.raises(ValueError, match="2 visits"):
        VisitContext.from_events([*a.events, *b.events])
    with pytest.raises(ValueError, match="no started event"):
        VisitContext.from_events([e for e in a.events if e.kind != EventKind.STARTED])
    only_a = VisitContext.from_events([*a.events, *b.events], visit_id=a.visit_id)
    assert [r.run_id for r in only_a.records] == [a.run_id]
    assert only_a.records[0].established and only_a.records[0].fact == "tightness_passed"
