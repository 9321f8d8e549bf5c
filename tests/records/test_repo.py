"""The service API against a real SQLite file."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from fieldkit.records.db import Database, open_database
from fieldkit.records.models import (
    HazardLevel,
    HazardStatus,
    Measurement,
    OutboxState,
    VisitType,
)
from fieldkit.records.repo import (
    EventConflict,
    InvalidHazardTransition,
    NotFound,
    RecordsError,
    VisitRepository,
    measurements_from_value,
)

T0 = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Event:
    """The StepEvent fields (see fieldkit.procedures.engine.StepEvent)."""

    run_id: uuid.UUID
    step_id: str
    kind: str = "answered"
    value: dict[str, Any] = field(default_factory=dict)
    passed: bool | None = None
    at: datetime = T0
    actor: str = "T001"
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)


@pytest.fixture
def repo(db: Database) -> VisitRepository:
    return VisitRepository(db, clock=lambda: T0, local_tz=UTC)


def _visit(repo: VisitRepository) -> uuid.UUID:
    customer = repo.upsert_customer(
        "0012345", name="张三", community="幸福小区", building="3", unit="2", floor="5", room="502"
    )
    return repo.start_visit(
        customer_id=customer.id, technician_id="T001", visit_type=VisitType.IGNITION
    ).id


def test_customers_are_upserted_by_customer_no(repo: VisitRepository) -> None:
    first = repo.upsert_customer("0012345", name="张三", community="幸福小区")
    second = repo.upsert_customer("0012345", phone="13800000000")
    assert first.id == second.id
    again = repo.get_customer(first.id)
    assert (again.name, again.phone, again.community) == ("张三", "13800000000", "幸福小区")
    assert [c.customer_no for c in repo.find_customers("幸福")] == ["0012345"]
    assert repo.find_customers("nobody") == []
    repo.upsert_customer("A_1", name="100%")
    assert [c.customer_no for c in repo.find_customers("_")] == ["A_1"]  # not a wildcard
    assert [c.customer_no for c in repo.find_customers("%")] == ["A_1"]
    with pytest.raises(RecordsError):
        repo.upsert_customer("  ")


def test_work_orders_created_and_listed(repo: VisitRepository) -> None:
    customer = repo.upsert_customer("C1")
    order = repo.create_work_order(
        order_no="WO-1",
        visit_type="inspection",
        customer_id=customer.id,
        assigned_to="T001",
        scheduled_for=date(2026, 11, 24),
    )
    assert [o.id for o in repo.open_work_orders("T001")] == [order.id]
    assert repo.open_work_orders("T999") == []
    with pytest.raises(NotFound):
        repo.create_work_order(
            order_no="WO-2", visit_type="repair", customer_id=uuid.uuid4(), assigned_to="T001"
        )


def test_start_visit_and_unfinished_visits(repo: VisitRepository) -> None:
    visit_id = _visit(repo)
    unfinished = repo.unfinished_visits()
    assert [v.visit_id for v in unfinished] == [visit_id]
    assert unfinished[0].customer_no == "0012345"
    assert "幸福小区" in unfinished[0].address
    visit = repo.get_visit(visit_id)
    assert visit.started_at == T0 and visit.started_at.tzinfo is not None
    with pytest.raises(RecordsError):
        repo.start_visit(customer_id=visit.customer_id, technician_id=" ", visit_type="repair")
    with pytest.raises(NotFound):
        repo.start_visit(customer_id=uuid.uuid4(), technician_id="T001", visit_type="repair")


def test_record_event_is_durable_and_ordered(repo: VisitRepository, db_path: Any) -> None:
    visit_id = _visit(repo)
    run = repo.start_run(visit_id, procedure_id="ignition", procedure_version=1, actor="T001")
    events = [
        Event(run.id, "tightness", value={"unit": "kPa", "start": 5.2, "end": 5.2}, passed=True),
        Event(run.id, "alarm-test", value={"answer": "yes"}, passed=True),
        Event(run.id, "valve-closed-run", value={"answer": "no"}, passed=True),
    ]
    for e in events:
        repo.record_event(visit_id, run.id, e)
    # A second, independent connection sees every event (committed, not just cached).
    other = open_database(f"sqlite:///{db_path.as_posix()}")
    try:
        stored = VisitRepository(other).run_events(run.id)
    finally:
        other.close()
    assert [s.event_id for s in stored] == [e.event_id for e in events]
    assert [s.seq for s in stored] == [0, 1, 2]
    assert stored[0].value == {"unit": "kPa", "start": 5.2, "end": 5.2}
    assert stored[0].at == T0
    with repo.database.session() as session:
        rows = session.exec(select(Measurement).order_by(Measurement.quantity)).all()
        assert [(m.quantity, m.value, m.unit) for m in rows] == [
            ("end", 5.2, "kPa"),
            ("start", 5.2, "kPa"),
        ]


def test_saving_the_same_event_twice_is_harmless_but_other_content_conflicts(
    repo: VisitRepository,
) -> None:
    visit_id = _visit(repo)
    run = repo.start_run(visit_id, procedure_id="ignition", procedure_version=1, actor="T001")
    event = Event(run.id, "alarm-test", value={"answer": "yes"}, passed=True)
    repo.record_event(visit_id, run.id, event)
    repo.record_event(visit_id, run.id, event)
    assert len(repo.run_events(run.id)) == 1
    forged = Event(run.id, "alarm-test", value={"answer": "no"}, event_id=event.event_id)
    with pytest.raises(EventConflict):
        repo.record_event(visit_id, run.id, forged)
    with pytest.raises(EventConflict):
        repo.record_event(visit_id, run.id, Event(uuid.uuid4(), "alarm-test"))
    assert len(repo.run_events(run.id)) == 1


def test_failed_transaction_saves_nothing(repo: VisitRepository) -> None:
    visit_id = _visit(repo)
    run = repo.start_run(visit_id, procedure_id="ignition", procedure_version=1, actor="T001")
    good = Event(run.id, "a", value={"answer": "yes"})
    bad = Event(uuid.uuid4(), "b")  # wrong run: the whole batch is refused
    with pytest.raises(EventConflict):
        repo.record_events(visit_id, run.id, [good, bad])
    assert repo.run_events(run.id) == []


def test_naive_timestamps_are_refused(repo: VisitRepository) -> None:
    visit_id = _visit(repo)
    run = repo.start_run(visit_id, procedure_id="ignition", procedure_version=1, actor="T001")
    with pytest.raises(ValueError, match="naive"):
        repo.record_event(visit_id, run.id, Event(run.id, "a", at=datetime(2026, 1, 1)))


def test_terminal_event_finishes_the_run_and_resume_reports_it(repo: VisitRepository) -> None:
    visit_id = _visit(repo)
    first = repo.start_run(visit_id, procedure_id="indoor-purge", procedure_version=1, actor="T1")
    repo.record_event(visit_id, first.id, Event(first.id, "windows-open", passed=True))
    repo.record_event(visit_id, first.id, Event(first.id, "end", kind="completed"))
    second = repo.start_run(
        visit_id,
        procedure_id="ignition",
        procedure_version=1,
        actor="T1",
        started_at=T0 + timedelta(minutes=5),
    )
    repo.record_event(
        visit_id, second.id, Event(second.id, "tightness", value={"x": 1}), run_status="in_progress"
    )
    state = repo.resume(visit_id)
    assert [r.procedure_id for r in state.runs] == ["indoor-purge", "ignition"]
    assert state.runs[0].finished and state.runs[0].status == "completed"
    assert state.current_run is not None and state.current_run.run_id == second.id
    assert [e.step_id for e in state.current_run.events] == ["tightness"]
    assert len(state.all_events()) == 3
    assert state.customer.customer_no == "0012345"


def test_meter_swap_records_what_the_manual_asks(repo: VisitRepository) -> None:
    visit_id = _visit(repo)
    repo.update_meter(visit_id, meter_no="OLD-1", seal_nos=["S1"], meter_reading=120.5)
    swap = repo.record_meter_swap(
        visit_id,
        old_meter_no="OLD-1",
        new_meter_no="NEW-9",
        seal_nos=["F-001", " F-002 ", ""],
        gas_used=120.5,
        gas_remaining=8.2,
        reason="字轮不转动",
    )
    assert swap.seal_nos == ["F-001", "F-002"]
    assert swap.swapped_at == T0
    visit = repo.get_visit(visit_id)
    assert (visit.meter_no, visit.seal_nos, visit.remaining_gas) == (
        "NEW-9",
        ["F-001", "F-002"],
        8.2,
    )
    with pytest.raises(RecordsError):
        repo.record_meter_swap(visit_id, old_meter_no="A", new_meter_no="B", seal_nos=[])
    with pytest.raises(RecordsError):
        repo.record_meter_swap(
            visit_id, old_meter_no="A", new_meter_no="B", seal_nos=["S"], gas_remaining=-1
        )


def test_hazard_status_moves_forward_only_with_a_note_trail(repo: VisitRepository) -> None:
    visit_id = _visit(repo)
    hazard = repo.add_hazard(
        visit_id, description="软管穿墙", level=HazardLevel.MAJOR, deadline=date(2026, 11, 30)
    )
    assert hazard.status == HazardStatus.PENDING
    with pytest.raises(InvalidHazardTransition):
        repo.set_hazard_status(hazard.id, "fixed", note="跳过复查", actor="T001")
    with pytest.raises(RecordsError):
        repo.set_hazard_status(hazard.id, "rechecking", note=" ", actor="T001")
    repo.set_hazard_status(hazard.id, "rechecking", note="用户已更换软管，待复查", actor="T001")
    with pytest.raises(InvalidHazardTransition):
        repo.set_hazard_status(hazard.id, "pending", note="back", actor="T001")
    fixed = repo.set_hazard_status(hazard.id, HazardStatus.FIXED, note="复查合格", actor="T002")
    assert fixed.status == HazardStatus.FIXED
    with pytest.raises(InvalidHazardTransition):
        repo.set_hazard_status(hazard.id, "fixed", note="again", actor="T002")
    trail = repo.hazard_trail(hazard.id)
    assert [(t.from_status, t.to_status, t.actor) for t in trail] == [
        (HazardStatus.PENDING, HazardStatus.RECHECKING, "T001"),
        (HazardStatus.RECHECKING, HazardStatus.FIXED, "T002"),
    ]
    assert repo.open_hazards() == []


def test_signature_and_device_reading(repo: VisitRepository) -> None:
    visit_id = _visit(repo)
    with pytest.raises(RecordsError):
        repo.sign(visit_id, "  ")
    with pytest.raises(RecordsError):
        repo.sign(visit_id, "张三", image_png=b"GIF89a")
    repo.sign(visit_id, "张", image_png=None)
    signature = repo.sign(visit_id, "张三")
    assert signature.signer_name == "张三" and signature.signed_at == T0
    reading = repo.attach_device_reading(
        visit_id,
        kind="meter",
        raw=b"\x68\x30\x16",
        decoded={"remaining_gas": 8.2},
        diagnosis=[{"entry": "qianfeng-ic.01"}],
        port="/dev/ttyUSB0",
    )
    assert reading.raw_hex == "683016"
    with pytest.raises(RecordsError):
        repo.attach_device_reading(visit_id, kind="card", raw="zz", decoded={})


def test_outbox_helpers_reject_unknown_items(repo: VisitRepository) -> None:
    with pytest.raises(NotFound):
        repo.mark_sent(uuid.uuid4(), {})
    assert repo.pending_outbox() == []
    assert repo.outbox_count() == 0
    assert OutboxState.PENDING.value == "pending"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"unit": "kPa", "start": 5, "end": 4.9, "ok": True}, {("start", 5.0), ("end", 4.9)}),
        ({"answer": "yes"}, set()),
        (
            {"measurements": [{"quantity": "hold", "value": 15, "unit": "min"}, {"bad": 1}]},
            {("hold", 15.0)},
        ),
    ],
)
def test_measurements_are_extracted_from_step_values(
    value: dict[str, Any], expected: set[tuple[str, float]]
) -> None:
    assert {(m.quantity, m.value) for m in measurements_from_value(value)} == expected


@pytest.mark.parametrize("typed", [float("nan"), float("inf"), -5.0, 1e300])
def test_a_meter_reading_must_be_a_volume_a_meter_can_show(
    repo: VisitRepository, typed: float
) -> None:
    """表底数 "nan" was stored as nothing, "inf" was saved and then kept the visit from
    closing (an English pydantic message), a negative reading was kept as typed."""
    visit_id = _visit(repo)
    with pytest.raises(RecordsError, match="表底数"):
        repo.update_meter(visit_id, meter_no="M-1", meter_reading=typed)
    with pytest.raises(RecordsError, match="旧表最终读数"):
        repo.record_meter_swap(
            visit_id,
            old_meter_no="M-1",
            new_meter_no="M-2",
            seal_nos=["S"],
            old_meter_reading=typed,
        )
    assert repo.get_visit(visit_id).meter_reading is None
    repo.update_meter(visit_id, meter_no="M-1", meter_reading=0.0)
    assert repo.get_visit(visit_id).meter_reading == 0.0


def test_text_longer_than_the_back_office_takes_is_refused_when_typed(
    repo: VisitRepository,
) -> None:
    """A 5 000-character 表钢号 was saved; the visit then could not be closed ("无法结束该
    上门记录：meter_no: String should have at most 200 characters")."""
    visit_id = _visit(repo)
    with pytest.raises(RecordsError, match="表钢号超过 200 个字符"):
        repo.update_meter(visit_id, meter_no="M" * 5000)
    with pytest.raises(RecordsError, match="表封号/铅封号超过 200 个字符"):
        repo.update_meter(visit_id, seal_nos=["S" * 201])
    with pytest.raises(RecordsError, match="隐患描述超过 4000 个字符"):
        repo.add_hazard(visit_id, description="x" * 4001, level="general")
    with pytest.raises(RecordsError, match="户号超过 200 个字符"):
        repo.upsert_customer("9" * 201)
    repo.update_meter(visit_id, meter_no="M" * 200, seal_nos=["S" * 200])
    repo.close_visit(visit_id, "not_home", "没人在家")  # the payload builds: nothing too long
