"""Visit-level safety rules on closing, with the real engine and the shipped procedures:
a refusal, a failed test never put right, and an ignition visit without its ignition run
or signature cannot be closed as completed (whatever screen or command asks)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from fieldkit.i18n import set_language
from fieldkit.procedures.engine import ProcedureRun, RunStatus, VisitContext
from fieldkit.procedures.library import load_procedures
from fieldkit.procedures.models import Procedure
from fieldkit.records.crashdriver import ScriptedClock, act
from fieldkit.records.db import Database
from fieldkit.records.models import CustomerSignature, VisitOutcome
from fieldkit.records.repo import OutcomeNotAllowed, RecordsError, VisitRepository

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def procedures() -> dict[str, Procedure]:
    found, problems = load_procedures()
    assert {"ignition", "indoor-purge"} <= set(found), problems
    return found


@pytest.fixture
def repo(db: Database) -> VisitRepository:
    return VisitRepository(db)


def _visit(repo: VisitRepository, visit_type: str = "ignition") -> uuid.UUID:
    customer = repo.upsert_customer("0012345", name="张三", community="幸福小区")
    return repo.start_visit(customer_id=customer.id, technician_id="T001", visit_type=visit_type).id


def _run(repo: VisitRepository, visit_id: uuid.UUID, procedure: Procedure) -> ProcedureRun:
    state = repo.resume(visit_id)
    run = ProcedureRun.start(
        procedure,
        run_id=uuid.uuid4(),
        actor="T001",
        context=VisitContext.from_events(state.all_step_events(), visit_id=visit_id),
        clock=ScriptedClock(T0),
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
    return run


def _save(repo: VisitRepository, visit_id: uuid.UUID, run: ProcedureRun, events: list) -> None:
    repo.record_events(visit_id, run.run_id, events, run_status=run.status.value)


def _refused(repo: VisitRepository, procedures: dict[str, Procedure]) -> uuid.UUID:
    visit_id = _visit(repo)
    run = _run(repo, visit_id, procedures["indoor-purge"])
    assert run.current is not None and run.current.id == "private-alteration"
    _save(
        repo,
        visit_id,
        run,
        run.answer("private-alteration", {"answer": "yes", "note": "厨房管道改到阳台"}),
    )
    assert run.status == RunStatus.REFUSED
    return visit_id


def _failed_tightness(
    repo: VisitRepository, procedures: dict[str, Procedure]
) -> tuple[uuid.UUID, ProcedureRun]:
    visit_id = _visit(repo)
    run = _run(repo, visit_id, procedures["ignition"])
    while run.open_gate is None:  # the scripted first test drops: a failed test
        _save(repo, visit_id, run, act(run))
    assert run.status == RunStatus.AWAITING_REPAIR
    return visit_id, run


def _closed(repo: VisitRepository, visit_id: uuid.UUID) -> bool:
    return repo.get_visit(visit_id).closed_at is not None


def test_after_a_refusal_only_refused_gas_with_the_engines_reason(
    repo: VisitRepository, procedures: dict[str, Procedure]
) -> None:
    visit_id = _refused(repo, procedures)
    rules = repo.closing_rules(visit_id)
    assert rules.allowed == (VisitOutcome.REFUSED_GAS,)
    assert rules.refusal_reason is not None and "私自改造" in rules.refusal_reason.zh
    for outcome in ("completed", "not_home", "stopped_unsafe", "incomplete"):
        with pytest.raises(OutcomeNotAllowed) as caught:
            repo.close_visit(visit_id, outcome, "任意原因")
        assert caught.value.allowed == (VisitOutcome.REFUSED_GAS,)
        assert not _closed(repo, visit_id)
        assert repo.outbox_items() == []
    error = caught.value
    assert "不予通气" in error.text.zh and "gas refused" in error.text.en
    assert str(error) == error.text.zh  # Chinese is the default language
    set_language("en")
    try:
        assert "only be closed as gas refused" in str(OutcomeNotAllowed(error.outcome, rules))
    finally:
        set_language("zh")
    # No reason given: the engine's reason (and the technician's note) is recorded.
    repo.close_visit(visit_id, "refused_gas")
    visit = repo.get_visit(visit_id)
    assert visit.outcome == VisitOutcome.REFUSED_GAS
    assert "私自改造" in (visit.outcome_reason or "")
    assert "厨房管道改到阳台" in (visit.outcome_reason or "")


def test_the_technicians_reason_is_kept_beside_the_engines(
    repo: VisitRepository, procedures: dict[str, Procedure]
) -> None:
    visit_id = _refused(repo, procedures)
    repo.close_visit(visit_id, "refused_gas", "已告知用户恢复原管道后再约")
    reason = repo.get_visit(visit_id).outcome_reason or ""
    assert "私自改造" in reason and "已告知用户恢复原管道后再约" in reason


def test_a_failed_test_not_put_right_allows_only_stopped_or_incomplete(
    repo: VisitRepository, procedures: dict[str, Procedure]
) -> None:
    visit_id, _run = _failed_tightness(repo, procedures)
    rules = repo.closing_rules(visit_id)
    assert rules.allowed == (VisitOutcome.STOPPED_UNSAFE, VisitOutcome.INCOMPLETE)
    assert rules.why is not None and "tightness-test" in rules.why.en
    for outcome in ("completed", "refused_gas", "not_home", "customer_refused"):
        with pytest.raises(OutcomeNotAllowed):
            repo.close_visit(visit_id, outcome, "原因")
    with pytest.raises(RecordsError):  # a reason is required
        repo.close_visit(visit_id, "stopped_unsafe")
    assert not _closed(repo, visit_id)
    repo.close_visit(visit_id, "stopped_unsafe", "接口漏气，未能当场修复")
    assert repo.get_visit(visit_id).outcome == VisitOutcome.STOPPED_UNSAFE


def test_abandoning_the_held_run_does_not_free_the_visit(
    repo: VisitRepository, procedures: dict[str, Procedure]
) -> None:
    visit_id, run = _failed_tightness(repo, procedures)
    _save(repo, visit_id, run, run.abandon("用户不同意维修"))
    assert repo.resume(visit_id).runs[0].status == "abandoned"
    with pytest.raises(OutcomeNotAllowed):
        repo.close_visit(visit_id, "completed")
    assert repo.closing_rules(visit_id).allowed == (
        VisitOutcome.STOPPED_UNSAFE,
        VisitOutcome.INCOMPLETE,
    )
    repo.close_visit(visit_id, "incomplete", "用户不同意维修")


def test_ignition_completed_needs_the_completed_run_and_the_signature(
    repo: VisitRepository, db: Database, procedures: dict[str, Procedure]
) -> None:
    visit_id, run = _failed_tightness(repo, procedures)
    _save(repo, visit_id, run, act(run))  # the repair: the test is reopened
    rules = repo.closing_rules(visit_id)
    assert VisitOutcome.COMPLETED not in rules.allowed
    assert VisitOutcome.NOT_HOME in rules.allowed  # no gate holds any more
    assert rules.why is not None and "ignition procedure" in rules.why.en
    while not run.status.finished:
        _save(repo, visit_id, run, act(run))
    assert run.status == RunStatus.COMPLETED
    assert repo.closing_rules(visit_id).allows("completed")
    # Without the signature (here: its row removed) an ignition visit is not completed.
    with db.session() as session:
        session.delete(
            session.exec(
                select(CustomerSignature).where(CustomerSignature.visit_id == visit_id)
            ).one()
        )
    with pytest.raises(OutcomeNotAllowed) as caught:
        repo.close_visit(visit_id, "completed")
    assert "签字" in caught.value.text.zh and "signature" in caught.value.text.en
    repo.sign(visit_id, "张三")
    repo.close_visit(visit_id, "completed")
    assert repo.get_visit(visit_id).outcome == VisitOutcome.COMPLETED


def test_an_ignition_visit_without_any_run_is_not_completed(repo: VisitRepository) -> None:
    visit_id = _visit(repo)
    repo.sign(visit_id, "张三")
    with pytest.raises(OutcomeNotAllowed):
        repo.close_visit(visit_id, "completed")
    repo.close_visit(visit_id, "not_home", "敲门无人应答")


def test_other_visit_types_close_as_completed_without_an_ignition_run(
    repo: VisitRepository,
) -> None:
    visit_id = _visit(repo, "inspection")
    assert repo.closing_rules(visit_id).allowed == tuple(VisitOutcome)
    repo.close_visit(visit_id, "completed")
