"""The history audit the back office runs (pure: events in, violations out)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fieldkit.procedures.engine import ProcedureRun, StepEvent, VisitContext
from fieldkit.procedures.library import load_procedures_strict
from fieldkit.procedures.models import CheckStep
from fieldkit.safety import BlockerKind, HazardFacts, RunFacts, VisitFacts, derive
from fieldkit.safety.audit import ViolationKind, audit
from fieldkit.safety.state import COMPLETE_KINDS, completion_blockers

SHIPPED = load_procedures_strict()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def run(procedure_id: str, visit_id: uuid.UUID, clock: Clock, answers: list) -> ProcedureRun:
    """A bare engine run (no session: nothing consults the safety state)."""
    events: list[StepEvent] = []
    r = ProcedureRun.start(
        SHIPPED[procedure_id],
        run_id=uuid.uuid4(),
        actor="T1",
        context=VisitContext.new(visit_id),
        clock=clock,
    )
    for step_id, value in answers:
        if step_id == "wait":
            clock.now += timedelta(minutes=value)
            continue
        events += r.answer(step_id, value)
    return r


PURGE_PASSES = [
    (s.id, s.pass_answer.value)  # every purge step is a check
    for s in SHIPPED["indoor-purge"].steps
    if isinstance(s, CheckStep)
]
TIGHT = [
    ("tightness-test", {"unit": "kPa", "start": 5.2}),
    ("wait", 15),
    ("tightness-test", {"unit": "kPa", "end": 5.2}),
]


def facts(visit_id: uuid.UUID, *runs: ProcedureRun, hazards=()) -> VisitFacts:
    return VisitFacts(
        visit_id,
        tuple(RunFacts(r.run_id, r.procedure.id, tuple(r.events), n) for n, r in enumerate(runs)),
        tuple(hazards),
    )


def test_gas_in_after_a_refusal_is_flagged() -> None:
    visit, clock = uuid.uuid4(), Clock()
    refused = run("indoor-purge", visit, clock, [("private-alteration", "yes")])
    again = run(
        "indoor-purge",
        visit,
        clock,
        [
            ("private-alteration", "no"),
            ("concealed-piping", "no"),
            ("pipe-clamps", "yes"),
            ("installation-compliant", "yes"),
            ("hose-vented-outdoors", "yes"),
        ],
    )
    found = audit(facts(visit, refused, again))
    assert [v.kind for v in found] == [ViolationKind.GAS_IN_AFTER_REFUSAL]
    assert "hose-vented-outdoors" in found[0].detail


def test_a_clean_visit_has_no_violation() -> None:
    visit, clock = uuid.uuid4(), Clock()
    purge_answers = [
        (s.id, "yes" if s.pass_answer.value == "yes" else "no")
        for s in SHIPPED["indoor-purge"].steps
    ]  # type: ignore[union-attr]
    purge = run("indoor-purge", visit, clock, purge_answers)
    ignition = run("ignition", visit, clock, [*TIGHT, ("alarm-cutoff-test", "yes")])
    state = derive(facts(visit, purge, ignition))
    assert state.ignition_allowed(), state
    assert audit(facts(visit, purge, ignition), outcome="completed") == []


def test_an_open_major_hazard_before_ignition_is_flagged_and_blocks_completion() -> None:
    visit, clock = uuid.uuid4(), Clock()
    purge_answers = [
        (s.id, "yes" if s.pass_answer.value == "yes" else "no")
        for s in SHIPPED["indoor-purge"].steps
    ]  # type: ignore[union-attr]
    purge = run("indoor-purge", visit, clock, purge_answers)
    hazard = HazardFacts(uuid.uuid4(), major=True, refusal_code=None, found_at=clock.now)
    ignition = run("ignition", visit, clock, [*TIGHT, ("alarm-cutoff-test", "yes")])
    found = audit(facts(visit, purge, ignition, hazards=[hazard]), outcome="completed")
    assert {v.kind for v in found} == {
        ViolationKind.IGNITION_WITHOUT_GATES,
        ViolationKind.COMPLETED_WHILE_BLOCKED,
    }
    fixed = HazardFacts(hazard.hazard_id, True, None, hazard.found_at, fixed_at=hazard.found_at)
    assert derive(facts(visit, purge, ignition, hazards=[fixed])).complete_allowed()
    # the closing check asks only for the blockers that close 已完成 (not the gates)
    for case in (
        facts(visit, purge, ignition, hazards=[hazard]),
        facts(visit, purge, ignition, hazards=[fixed]),
        facts(visit, ignition),
    ):
        assert completion_blockers(case) == derive(case).of_kind(*COMPLETE_KINDS)
    assert [b.kind for b in completion_blockers(facts(visit, ignition, hazards=[hazard]))] == [
        BlockerKind.HAZARD_OPEN
    ]


def test_the_state_before_each_event_is_the_state_of_the_events_before_it() -> None:
    """``derive(upto=i)`` (what the audit asks for every gated action) is ``derive`` of
    the first ``i`` events, whether the order holds the runs' own events or equal copies."""
    visit, clock = uuid.uuid4(), Clock()
    refused = run("indoor-purge", visit, clock, [("private-alteration", "yes")])
    purge = run("indoor-purge", visit, clock, PURGE_PASSES)
    ignition = run("ignition", visit, clock, [*TIGHT, ("alarm-cutoff-test", "yes")])
    whole = facts(visit, refused, purge, ignition)
    order = whole.in_order
    copies = whole.sharing_order(whole.runs, whole.hazards, tuple(e.model_copy() for e in order))
    states = set()
    for upto in range(len(order) + 1):
        first = {e.event_id for e in order[:upto]}
        runs = tuple(
            RunFacts(
                r.run_id, r.procedure_id, tuple(e for e in r.events if e.event_id in first), r.order
            )
            for r in whole.runs
        )
        expected = derive(VisitFacts(visit, runs, whole.hazards))  # sorted on its own
        assert derive(whole, upto=upto) == expected, upto
        assert derive(copies, upto=upto) == expected, upto
        states.add(expected)
    assert len(states) >= 3  # refused, purged but not tight, …: the prefixes differ
