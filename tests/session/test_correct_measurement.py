"""A mistyped reading corrected: an appended correction, the gate judged again from the
corrected readings by the step's own pass rules, the original kept in the trail and on
the handover."""

from __future__ import annotations

import pytest

from fieldkit.procedures.engine import EventKind, RunStatus
from fieldkit.records.handover import build_handover, handover_text
from fieldkit.records.repo import VisitRepository
from fieldkit.safety import BlockerKind
from fieldkit.safety.audit import audit
from fieldkit.session import GateClosed, InvalidAnswer, RunView, VisitSession
from tests.session.helpers import FakeClock, complete


def kinds(session: VisitSession) -> set[BlockerKind]:
    return {b.kind for b in session.safety().blockers}


def tightness(session: VisitSession, clock: FakeClock, end: float) -> RunView:
    """Purge done, then the tightness test read as 5.2 kPa → ``end`` after the hold."""
    complete(session, "indoor-purge", clock)
    view = session.open_run("ignition")
    clock.advance(seconds=30)
    session.answer(view.run_id, "tightness-test", {"unit": "kPa", "start": 5.2})
    clock.advance(minutes=15)
    return session.answer(view.run_id, "tightness-test", {"unit": "kPa", "end": end})


def reading_answers(view: RunView) -> list:
    return [
        e for e in view.events if e.kind == EventKind.ANSWERED and e.step_id == "tightness-test"
    ]


def test_a_pass_corrected_into_a_fail_closes_ignition_again(
    session: VisitSession, repo: VisitRepository, shipped, clock: FakeClock
) -> None:
    view = tightness(session, clock, end=5.2)
    assert view.current is not None and view.current.id == "alarm-cutoff-test"
    assert BlockerKind.TIGHTNESS_MISSING not in kinds(session)
    typed = reading_answers(view)[-1]
    clock.advance(seconds=20)
    view = session.correct(
        view.run_id, typed.event_id, {"unit": "kPa", "start": 5.2, "end": 4.9}, "读数抄错"
    )
    # judged by the rule (no drop): the gate holds the run, tightness is not passed
    assert view.status == RunStatus.AWAITING_REPAIR
    assert view.open_gate is not None and view.open_gate.step_id == "tightness-test"
    assert BlockerKind.TIGHTNESS_MISSING in kinds(session)
    with pytest.raises(GateClosed):
        session.answer(view.run_id, "alarm-cutoff-test", "yes")
    # both readings stay in the trail, the correction (with its reason) between them
    answers = reading_answers(view)
    assert [a.passed for a in answers] == [True, False]
    corrected = next(e for e in view.events if e.kind == EventKind.CORRECTED)
    assert corrected.value["corrects"] == str(typed.event_id)
    assert corrected.value["reason"] == "读数抄错"
    # a crash: the same state from what is stored
    again = VisitSession(repo, shipped, session.visit_id, actor="王师傅", clock=clock)
    assert again.safety() == session.safety()
    assert again.view(view.run_id).status == RunStatus.AWAITING_REPAIR
    # the handover shows the original, the corrected readings and the reason
    text = handover_text(build_handover(repo.database, session.visit_id))
    assert "读数抄错" in text
    assert "5.2 kPa" in text and "4.9 kPa" in text
    assert not audit(session.facts())  # nothing was done while closed


def test_a_fail_corrected_into_a_pass_opens_it_only_by_the_gate_rules(
    session: VisitSession, clock: FakeClock
) -> None:
    view = tightness(session, clock, end=4.9)
    assert view.status == RunStatus.AWAITING_REPAIR
    typed = reading_answers(view)[-1]
    clock.advance(seconds=20)
    # still a drop after the correction: still failed, still closed
    view = session.correct(
        view.run_id, typed.event_id, {"unit": "kPa", "start": 5.2, "end": 5.1}, "末读数抄错"
    )
    assert view.status == RunStatus.AWAITING_REPAIR
    assert BlockerKind.TIGHTNESS_MISSING in kinds(session)
    # a start below the minimum is the start rule's failure, whatever the end
    typed = reading_answers(view)[-1]
    clock.advance(seconds=20)
    view = session.correct(
        view.run_id, typed.event_id, {"unit": "kPa", "start": 3.0, "end": 3.0}, "单位看错"
    )
    assert view.status == RunStatus.AWAITING_REPAIR
    assert BlockerKind.TIGHTNESS_MISSING in kinds(session)
    # no drop from a valid start: the test passes and the run goes on
    typed = reading_answers(view)[-1]
    clock.advance(seconds=20)
    view = session.correct(
        view.run_id, typed.event_id, {"unit": "kPa", "start": 5.2, "end": 5.2}, "末读数抄错"
    )
    assert view.status == RunStatus.IN_PROGRESS
    assert view.current is not None and view.current.id == "alarm-cutoff-test"
    assert BlockerKind.TIGHTNESS_MISSING not in kinds(session)
    assert [a.passed for a in reading_answers(view)] == [False, False, False, True]


def test_a_bad_corrected_reading_records_nothing(session: VisitSession, clock: FakeClock) -> None:
    view = tightness(session, clock, end=5.2)
    typed = reading_answers(view)[-1]
    before = session.facts()
    for bad in (
        {"unit": "psi", "start": 5.2, "end": 5.2},
        {"unit": "kPa", "start": 0, "end": 5.2},
        {"unit": "kPa", "start": 5.2, "end": -1},
        {"unit": "kPa", "start": 5.2},
        "5.2",
    ):
        with pytest.raises(InvalidAnswer):
            session.correct(view.run_id, typed.event_id, bad, "读数抄错")
    with pytest.raises(InvalidAnswer):
        session.correct(view.run_id, typed.event_id, {"unit": "kPa", "start": 5.2, "end": 5}, " ")
    assert session.facts() == before
    assert session.repo.safety_facts(session.visit_id) == before


def test_a_start_reading_of_a_hold_under_way_is_not_an_answer(
    session: VisitSession, clock: FakeClock
) -> None:
    complete(session, "indoor-purge", clock)
    view = session.open_run("ignition")
    view = session.answer(view.run_id, "tightness-test", {"unit": "kPa", "start": 5.2})
    started = next(e for e in view.events if e.kind == EventKind.READING_STARTED)
    with pytest.raises(InvalidAnswer):
        session.correct(
            view.run_id, started.event_id, {"unit": "kPa", "start": 5.3, "end": 5.3}, "抄错"
        )
