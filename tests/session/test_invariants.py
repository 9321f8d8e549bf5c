"""Issue 8's invariants through the session service, on the shipped procedures."""

from __future__ import annotations

import pytest

from fieldkit.procedures.engine import EventKind, RunStatus
from fieldkit.records.models import HazardLevel, VisitOutcome
from fieldkit.records.repo import OutcomeNotAllowed, VisitRepository
from fieldkit.safety import BlockerKind, derive
from fieldkit.safety.audit import ViolationKind, audit
from fieldkit.session import (
    InvalidAnswer,
    NotDiscardable,
    RefusalNeedsConfirmation,
    SafetyBlocked,
    VisitSession,
)
from tests.session.helpers import FakeClock, complete, do_step


def kinds(session: VisitSession) -> set[BlockerKind]:
    return {b.kind for b in session.safety().blockers}


def refuse_private_alteration(session: VisitSession) -> None:
    view = session.open_run("indoor-purge")
    with pytest.raises(RefusalNeedsConfirmation) as caught:
        session.answer(view.run_id, "private-alteration", "yes")
    assert "不予通气" in caught.value.preview.consequence
    view = session.answer(view.run_id, "private-alteration", "yes", confirmed=True)
    assert view.status == RunStatus.REFUSED


def pass_tightness(session: VisitSession, clock: FakeClock):
    view = session.open_run("ignition")
    return do_step(session, view, clock)


def test_a_refusal_keeps_ignition_closed_in_the_same_visit(
    session: VisitSession, clock: FakeClock
) -> None:
    refuse_private_alteration(session)
    assert not session.safety().gas_in_allowed()
    view = pass_tightness(session, clock)  # the tightness test lets no gas in
    assert view.current is not None and view.current.id == "alarm-cutoff-test"
    assert BlockerKind.REFUSAL_STANDS in {b.kind for b in view.blockers}
    with pytest.raises(SafetyBlocked) as caught:
        session.answer(view.run_id, "alarm-cutoff-test", "yes")
    assert BlockerKind.REFUSAL_STANDS in {b.kind for b in caught.value.blockers}
    assert "私自改造" in str(caught.value)
    rules = session.repo.closing_rules(session.visit_id)
    assert rules.allowed == (VisitOutcome.REFUSED_GAS,)


def test_rules_1_to_3_stand_until_corrected_and_rechecked(
    session: VisitSession, clock: FakeClock
) -> None:
    refuse_private_alteration(session)
    purge = session.open_run("indoor-purge")  # a new run: the refused one is finished
    clock.advance(minutes=1)
    session.answer(purge.run_id, "private-alteration", "no")
    assert BlockerKind.REFUSAL_STANDS in kinds(session)  # no correction recorded yet
    session.abandon(purge.run_id, "整改前")
    state = session.record_refusal_correction("拆除私改管段,恢复原管道", "李工")
    assert BlockerKind.REFUSAL_STANDS in {b.kind for b in state.blockers}  # not re-checked
    clock.advance(minutes=1)
    complete(session, "indoor-purge", clock)
    assert BlockerKind.REFUSAL_STANDS not in kinds(session)
    ignition = complete(session, "ignition", clock)
    assert ignition.status == RunStatus.COMPLETED
    assert session.safety().ignition_allowed()
    session.close(VisitOutcome.COMPLETED)


def test_ignition_needs_a_completed_purge(session: VisitSession, clock: FakeClock) -> None:
    view = pass_tightness(session, clock)
    with pytest.raises(SafetyBlocked) as caught:
        session.answer(view.run_id, "alarm-cutoff-test", "yes")
    assert {b.kind for b in caught.value.blockers} == {BlockerKind.PURGE_MISSING}
    complete(session, "indoor-purge", clock)
    view = session.answer(view.run_id, "alarm-cutoff-test", "yes")
    assert view.current is not None and view.current.id == "meter-closed-valve"


def test_a_major_hazard_blocks_ignition_and_completion(
    session: VisitSession, repo: VisitRepository, clock: FakeClock
) -> None:
    complete(session, "indoor-purge", clock)
    hazard = repo.add_hazard(
        session.visit_id, description="户内管道私改、包管", level=HazardLevel.MAJOR
    )
    view = pass_tightness(session, clock)
    with pytest.raises(SafetyBlocked) as caught:
        session.answer(view.run_id, "alarm-cutoff-test", "yes")
    assert {b.kind for b in caught.value.blockers} == {BlockerKind.HAZARD_OPEN}
    assert not session.safety().complete_allowed()
    with pytest.raises(OutcomeNotAllowed):
        session.close(VisitOutcome.COMPLETED)
    for status in ("rechecking", "fixed"):
        clock.advance(minutes=1)
        repo.set_hazard_status(hazard.id, status, note="已整改", actor="T001")
    assert session.safety().ignition_allowed()
    assert complete(session, "ignition", clock).status == RunStatus.COMPLETED


def test_a_general_hazard_of_a_refusal_class_blocks_too(
    session: VisitSession, repo: VisitRepository
) -> None:
    repo.add_hazard(
        session.visit_id, description="无管卡", level="general", refusal_code="no_pipe_clamps"
    )
    assert BlockerKind.HAZARD_OPEN in kinds(session)
    repo.add_hazard(session.visit_id, description="软管老化", level="general")
    assert len(session.safety().of_kind(BlockerKind.HAZARD_OPEN)) == 1


def test_a_pipework_repair_voids_the_tightness_pass(
    session: VisitSession, clock: FakeClock
) -> None:
    complete(session, "indoor-purge", clock)
    complete(session, "ignition", clock)
    assert BlockerKind.TIGHTNESS_MISSING not in kinds(session)
    stove = session.open_run("stove-wont-light")
    for answer in ("yes", "no", "yes", "no"):  # valves closed: the joint check applies
        step = session.view(stove.run_id).current
        assert step is not None
        stove = session.answer(stove.run_id, step.id, answer)
    step = session.view(stove.run_id).current
    assert step is not None and step.id == "joints-leak-check"
    session.answer(stove.run_id, step.id, "yes")  # a leak at a joint
    session.record_repair(stove.run_id, "更换接头")
    assert BlockerKind.TIGHTNESS_MISSING in kinds(session)
    again = session.open_run("ignition")  # the earlier pass is not reused
    assert again.current is not None and again.current.id == "tightness-test"


def test_a_leak_at_the_recheck_sends_ignition_back_to_the_tightness_test(
    session: VisitSession, clock: FakeClock
) -> None:
    complete(session, "indoor-purge", clock)
    view = pass_tightness(session, clock)
    for _ in range(4):
        view = do_step(session, view, clock)
    assert view.current is not None and view.current.id == "leak-recheck"
    session.answer(view.run_id, "leak-recheck", "yes")
    view = session.record_repair(view.run_id, "紧固接口")
    assert view.current is not None and view.current.id == "tightness-test"
    assert BlockerKind.TIGHTNESS_MISSING in kinds(session)


def test_community_gas_on_needs_its_second_leak_check(
    session: VisitSession, clock: FakeClock
) -> None:
    community = session.open_run("community-gas-connection")
    while community.current is not None and community.current.id != "second-leak-check":
        clock.advance(seconds=10)
        community = do_step(session, community, clock)
    assert BlockerKind.LEAK_CHECK_MISSING in kinds(session)
    session.answer(community.run_id, "second-leak-check", "yes")
    assert BlockerKind.LEAK_CHECK_MISSING in kinds(session)
    session.record_repair(community.run_id, "修复接口")
    session.answer(community.run_id, "second-leak-check", "no")
    assert BlockerKind.LEAK_CHECK_MISSING not in kinds(session)
    assert BlockerKind.PURGE_MISSING not in kinds(session)  # the community purge counts


def test_a_mistaken_refusal_is_corrected_with_both_in_the_trail(
    session: VisitSession, clock: FakeClock
) -> None:
    refuse_private_alteration(session)
    run = next(v for v in session.runs() if v.status == RunStatus.REFUSED)
    wrong = next(e for e in run.events if e.kind == EventKind.ANSWERED)
    clock.advance(seconds=20)
    view = session.correct(run.run_id, wrong.event_id, "no", "按错键,管道未改造")
    assert view.status == RunStatus.IN_PROGRESS
    assert view.current is not None and view.current.id == "concealed-piping"
    assert BlockerKind.REFUSAL_STANDS not in kinds(session)
    trail = [e.kind for e in view.events]
    assert EventKind.REFUSED in trail and EventKind.CORRECTED in trail
    corrected = next(e for e in view.events if e.kind == EventKind.CORRECTED)
    assert corrected.value["reason"] == "按错键,管道未改造"


def test_a_run_without_answers_can_be_discarded(session: VisitSession, clock: FakeClock) -> None:
    view = session.open_run("ignition")
    assert view.discardable()
    session.discard(view.run_id)
    assert session.runs() == ()
    assert session.repo.visit_runs(session.visit_id) == []
    view = session.open_run("indoor-purge")
    view = do_step(session, view, clock)
    assert not view.discardable()
    with pytest.raises(NotDiscardable):
        session.discard(view.run_id)


def test_a_start_pressure_below_the_minimum_is_refused_at_once(
    session: VisitSession, clock: FakeClock
) -> None:
    view = session.open_run("ignition")
    with pytest.raises(InvalidAnswer, match="起始压力不足"):
        session.answer(view.run_id, "tightness-test", {"unit": "kPa", "start": 3})
    with pytest.raises(InvalidAnswer, match="起始压力不足"):
        session.answer(view.run_id, "tightness-test", {"unit": "mmH2O", "start": 5.5})
    assert session.view(view.run_id).pending_reading("tightness-test") is None


def test_a_new_session_after_a_crash_derives_the_same_state(
    session: VisitSession, repo: VisitRepository, shipped, clock: FakeClock
) -> None:
    refuse_private_alteration(session)
    view = pass_tightness(session, clock)
    reopened = VisitSession(repo, shipped, session.visit_id, actor="王师傅", clock=clock)
    assert reopened.safety() == session.safety()
    assert {v.run_id: v.status for v in reopened.runs()} == {
        v.run_id: v.status for v in session.runs()
    }
    with pytest.raises(SafetyBlocked):
        reopened.answer(view.run_id, "alarm-cutoff-test", "yes")


def test_a_community_run_begun_after_ignition_does_not_make_it_a_violation(
    session: VisitSession, repo: VisitRepository, clock: FakeClock
) -> None:
    """The second-leak-check rule counts a community run only from when it began."""
    complete(session, "indoor-purge", clock)
    complete(session, "ignition", clock)
    clock.advance(minutes=5)
    session.open_run("community-gas-connection")
    stored = repo.safety_facts(session.visit_id)
    assert not [v for v in audit(stored) if v.kind == ViolationKind.IGNITION_WITHOUT_GATES]
    # …while the live state now asks for the leak check before any further ignition
    assert BlockerKind.LEAK_CHECK_MISSING in {b.kind for b in derive(stored).blockers}
