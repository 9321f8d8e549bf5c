"""Closing a visit: follow-up date, the outbox row and its payload, finality; outbox and
work-order sync helpers. Real SQLite, real wire schema."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlmodel import select

from fieldkit.records import repo as repo_module
from fieldkit.records.db import Database
from fieldkit.records.export import ExportError, visit_payload
from fieldkit.records.models import (
    FollowUp,
    HazardStatus,
    OutboxItem,
    OutboxState,
    VisitType,
    WorkOrderStatus,
)
from fieldkit.records.repo import (
    PayloadTooLarge,
    RecordsError,
    VisitClosed,
    VisitRepository,
)
from fieldkit.sync import schema
from fieldkit.sync.schema import (
    Address,
    CustomerPayload,
    VisitPayload,
    WorkOrderPayload,
    canonical_json,
    canonical_text,
    content_hash,
)

T0 = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
CHINA = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Event:
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
    return VisitRepository(db, clock=lambda: T0, local_tz=CHINA)


def _full_visit(repo: VisitRepository) -> uuid.UUID:
    customer = repo.upsert_customer(
        "0012345",
        name="张三",
        phone="13800000000",
        community="幸福小区",
        building="3",
        unit="2",
        floor="5",
        room="502",
    )
    order = repo.create_work_order(
        order_no="WO-1", visit_type="repair", customer_id=customer.id, assigned_to="T001"
    )
    visit = repo.start_visit(
        customer_id=customer.id,
        technician_id="T001",
        # A repair visit: its runs are left open here, which an ignition visit would not
        # allow to close as completed (tests/records/test_closing_rules.py).
        visit_type=VisitType.REPAIR,
        work_order_id=order.id,
    )
    repo.update_meter(visit.id, meter_no="QF-1", seal_nos=["F-1"], meter_reading=0.0)
    run = repo.start_run(visit.id, procedure_id="ignition", procedure_version=2, actor="T001")
    repo.record_event(
        visit.id,
        run.id,
        Event(run.id, "tightness", value={"unit": "kPa", "start": 5.1, "end": 5.1}, passed=True),
    )
    repo.record_event(
        visit.id, run.id, Event(run.id, "alarm", value={"answer": "yes"}, passed=True)
    )
    repo.record_meter_swap(
        visit.id,
        old_meter_no="QF-1",
        new_meter_no="QF-2",
        seal_nos=["F-2", "F-3"],
        gas_used=12.5,
        gas_remaining=7.5,
    )
    repo.add_hazard(visit.id, description="软管过长", level="general", basis="CJJ 51")
    repo.sign(visit.id, "张三", image_png=b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)
    repo.attach_device_reading(
        visit.id,
        kind="card",
        raw=b"\x01\x02",
        decoded={"gas": 7.5},
        diagnosis=[{"entry": "qianfeng-ic.02"}],
    )
    return visit.id


def test_closing_writes_exactly_one_valid_outbox_row(repo: VisitRepository) -> None:
    visit_id = _full_visit(repo)
    item = repo.close_visit(visit_id, "completed")
    with repo.database.session(readonly=True) as session:
        rows = session.exec(select(OutboxItem)).all()
    assert len(rows) == 1 and rows[0].id == item.id
    stored = rows[0]
    assert stored.state == OutboxState.PENDING and stored.attempts == 0
    payload = VisitPayload.model_validate(stored.payload)
    assert content_hash(payload) == stored.content_hash
    # The stored JSON is the dump, and its canonical text is the payload's.
    assert stored.payload == payload.model_dump(mode="json")
    assert canonical_text(stored.payload) == canonical_json(payload)
    assert payload.visit_id == visit_id
    assert payload.outcome == "completed"
    assert payload.customer.address.community == "幸福小区"
    assert payload.meter is not None and payload.meter.meter_no == "QF-2"
    assert payload.meter.seal_nos == ["F-2", "F-3"]
    [run] = payload.procedure_runs
    assert run.procedure_version == 2 and run.status == "abandoned"  # closed while in progress
    assert [s.step_id for s in run.steps] == ["tightness", "alarm"]
    assert {(m.quantity, m.value, m.unit) for m in run.measurements} == {
        ("start", 5.1, "kPa"),
        ("end", 5.1, "kPa"),
    }
    assert payload.meter_swaps[0].gas_remaining == 7.5
    assert payload.hazards[0].status == "pending"
    assert payload.signature is not None and payload.signature.signer_name == "张三"
    assert payload.signature.image_png_base64
    assert payload.device_readings[0].raw_hex == "0102"
    assert repo.outbox_count() == 1
    assert repo.get_work_order(payload.work_order_id).status == WorkOrderStatus.DONE


def test_follow_up_is_due_three_days_after_the_local_visit_date(db: Database) -> None:
    # 2026-11-23 20:00 UTC is 2026-11-24 04:00 in China: the visit date is the 24th.
    late = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    repo = VisitRepository(db, clock=lambda: late, local_tz=CHINA)
    customer = repo.upsert_customer("C9")
    visit = repo.start_visit(customer_id=customer.id, technician_id="T1", visit_type="repair")
    repo.close_visit(visit.id, "not_home", "敲门无人应答，已留通知单")
    follow_up = repo.follow_up(visit.id)
    assert follow_up is not None and follow_up.due_date == date(2026, 11, 27)
    payload = VisitPayload.model_validate(repo.outbox_items()[0].payload)
    assert payload.follow_up_due == date(2026, 11, 27)
    assert payload.outcome == "not_home" and payload.outcome_reason == "敲门无人应答，已留通知单"
    assert payload.procedure_runs == [] and payload.meter is None
    assert [f.visit_id for f in repo.follow_ups_due(date(2026, 11, 27))] == [visit.id]
    assert repo.follow_ups_due(date(2026, 11, 26)) == []


@pytest.mark.parametrize("outcome", ["not_home", "customer_refused", "refused_gas"])
def test_outcomes_other_than_completed_need_a_reason(repo: VisitRepository, outcome: str) -> None:
    customer = repo.upsert_customer("C1")
    visit = repo.start_visit(customer_id=customer.id, technician_id="T1", visit_type="inspection")
    with pytest.raises(RecordsError):
        repo.close_visit(visit.id, outcome)
    assert repo.get_visit(visit.id).closed_at is None
    assert repo.outbox_items() == []
    with pytest.raises(ValueError):
        repo.close_visit(visit.id, "gone fishing", "x")


def test_a_closed_visit_cannot_be_changed(repo: VisitRepository) -> None:
    visit_id = _full_visit(repo)
    run_id = repo.resume(visit_id).runs[0].run_id
    hazard_id = (
        VisitPayload.model_validate(repo.close_visit(visit_id, "completed").payload)
        .hazards[0]
        .hazard_id
    )
    attempts = [
        lambda: repo.close_visit(visit_id, "completed"),
        lambda: repo.record_event(visit_id, run_id, Event(run_id, "late")),
        lambda: repo.start_run(visit_id, procedure_id="x", procedure_version=1, actor="T1"),
        lambda: repo.update_meter(visit_id, meter_no="X"),
        lambda: repo.set_notes(visit_id, "edit"),
        lambda: repo.record_meter_swap(
            visit_id, old_meter_no="a", new_meter_no="b", seal_nos=["s"]
        ),
        lambda: repo.add_hazard(visit_id, description="x", level="major"),
        lambda: repo.set_hazard_status(hazard_id, "rechecking", note="x", actor="T1"),
        lambda: repo.sign(visit_id, "李四"),
        lambda: repo.attach_device_reading(visit_id, kind="meter", raw=b"", decoded={}),
        lambda: repo.set_run_status(run_id, "completed"),
    ]
    for attempt in attempts:
        with pytest.raises(VisitClosed):
            attempt()
    assert len(repo.outbox_items()) == 1


def test_export_is_deterministic_and_refuses_open_visits(repo: VisitRepository) -> None:
    visit_id = _full_visit(repo)
    with repo.database.session(readonly=True) as session, pytest.raises(ExportError):
        visit_payload(session, visit_id)
    item = repo.close_visit(visit_id, "completed")
    with repo.database.session(readonly=True) as session:
        again = visit_payload(session, visit_id)
    assert content_hash(again) == item.content_hash


def test_a_hazard_is_rechecked_in_a_new_visit(repo: VisitRepository) -> None:
    first = _full_visit(repo)
    repo.close_visit(first, "completed")
    hazard = repo.open_hazards()[0]
    customer_id = repo.get_visit(first).customer_id
    recheck = repo.start_visit(customer_id=customer_id, technician_id="T2", visit_type="recheck")
    repo.set_hazard_status(
        hazard.id, HazardStatus.RECHECKING, note="复查", actor="T2", visit_id=recheck.id
    )
    repo.set_hazard_status(
        hazard.id, HazardStatus.FIXED, note="已更换软管", actor="T2", visit_id=recheck.id
    )
    item = repo.close_visit(recheck.id, "completed")
    payload = VisitPayload.model_validate(item.payload)
    assert [(h.hazard_id, h.status) for h in payload.hazards] == [(hazard.id, "fixed")]
    assert [t.visit_id for t in repo.hazard_trail(hazard.id)] == [recheck.id, recheck.id]


def test_outbox_state_transitions(repo: VisitRepository) -> None:
    visit_id = _full_visit(repo)
    item = repo.close_visit(visit_id, "completed")
    assert [i.id for i in repo.pending_outbox()] == [item.id]
    failed = repo.mark_failed_attempt(item.id, "connection reset")
    assert failed.state == OutboxState.FAILED and failed.attempts == 1
    assert [i.id for i in repo.pending_outbox()] == [item.id]  # retried
    sent = repo.mark_sent(item.id, {"status": "stored"})
    assert sent.state == OutboxState.SENT and sent.sent_at == T0 and sent.last_error is None
    assert repo.pending_outbox() == [] and repo.outbox_count() == 0
    late = repo.mark_failed_attempt(item.id, "late timeout")
    assert late.state == OutboxState.SENT  # never un-sent
    # module-level shortcuts used by the sync client
    assert repo_module.pending_outbox(repo.database) == []
    assert repo_module.outbox_count(repo.database) == 0


def test_conflicts_wait_for_a_person(repo: VisitRepository) -> None:
    item = repo.close_visit(_full_visit(repo), "completed")
    conflict = repo_module.mark_conflict(repo.database, item.id, "server has hash abc")
    assert conflict.state == OutboxState.CONFLICT and conflict.last_error == "server has hash abc"
    assert repo.pending_outbox() == []
    assert [i.id for i in repo.outbox_items("conflict")] == [item.id]


def test_closing_rolls_back_entirely_when_the_payload_is_invalid(repo: VisitRepository) -> None:
    customer = repo.upsert_customer("C1")
    visit = repo.start_visit(customer_id=customer.id, technician_id="T1", visit_type="inspection")
    for i in range(schema.MAX_HAZARDS + 1):
        repo.add_hazard(visit.id, description=f"h{i}", level="general")
    with pytest.raises(PayloadTooLarge):
        repo.close_visit(visit.id, "completed")
    assert repo.get_visit(visit.id).closed_at is None
    assert repo.outbox_items() == [] and repo.follow_up(visit.id) is None


def test_size_limits_match_the_wire_schema(repo: VisitRepository) -> None:
    assert schema.MAX_SEALS == repo_module.MAX_SEALS
    assert schema.MAX_JSON_OBJECT == repo_module.MAX_STEP_VALUE_CHARS
    customer = repo.upsert_customer("C1")
    visit = repo.start_visit(customer_id=customer.id, technician_id="T1", visit_type="repair")
    with pytest.raises(PayloadTooLarge):
        repo.update_meter(visit.id, seal_nos=[f"S{i}" for i in range(schema.MAX_SEALS + 1)])
    run = repo.start_run(visit.id, procedure_id="p", procedure_version=1, actor="T1")
    with pytest.raises(PayloadTooLarge):
        repo.record_event(visit.id, run.id, Event(run.id, "s", value={"x": "y" * 30_000}))
    assert repo.run_events(run.id) == []


def _order(n: int, cursor: int, **kw: Any) -> WorkOrderPayload:
    base: dict[str, Any] = {
        "work_order_id": uuid.UUID(int=n),
        "order_no": f"WO-{n}",
        "visit_type": "inspection",
        "customer": CustomerPayload(
            customer_no=f"C{n}", name="王五", address=Address(community="幸福小区", room="101")
        ),
        "assigned_to": "T001",
        "scheduled_for": date(2026, 11, 24),
        "cursor": cursor,
    }
    base.update(kw)
    return WorkOrderPayload(**base)


def test_work_order_pull_creates_updates_and_cancels(repo: VisitRepository) -> None:
    result = repo.upsert_work_orders([_order(1, 10), _order(2, 11)])
    assert (result.created, result.updated, result.cancelled, result.max_cursor) == (2, 0, 0, 11)
    assert {o.order_no for o in repo.open_work_orders("T001")} == {"WO-1", "WO-2"}
    assert repo.work_order_cursor() == 11
    result = repo_module.upsert_work_orders(
        repo.database,
        [_order(1, 12, notes="带压力表"), _order(2, 13, deleted=True), _order(3, 14, deleted=True)],
    )
    assert (result.created, result.updated, result.cancelled) == (0, 1, 1)
    assert result.skipped == ["WO-3"]  # a tombstone for an order never seen
    orders = {o.order_no: o for o in repo.open_work_orders()}
    assert set(orders) == {"WO-1"} and orders["WO-1"].notes == "带压力表"
    assert repo.get_work_order(uuid.UUID(int=2)).status == WorkOrderStatus.CANCELLED
    # A replayed old page changes nothing.
    result = repo.upsert_work_orders([_order(1, 10, notes="old")])
    assert result.skipped == ["WO-1"]
    assert repo.get_work_order(uuid.UUID(int=1)).notes == "带压力表"
    # The customer came with the order.
    assert repo.find_customers("C1")[0].community == "幸福小区"


def test_a_cancelled_work_order_cannot_start_a_visit(repo: VisitRepository) -> None:
    repo.upsert_work_orders([_order(1, 1)])
    repo.upsert_work_orders([_order(1, 2, status="cancelled")])
    order = repo.get_work_order(uuid.UUID(int=1))
    with pytest.raises(RecordsError):
        repo.start_visit(
            customer_id=order.customer_id,
            technician_id="T001",
            visit_type="inspection",
            work_order_id=order.id,
        )


def test_follow_up_rows_are_unique_per_visit(repo: VisitRepository) -> None:
    visit_id = _full_visit(repo)
    repo.close_visit(visit_id, "completed")
    with repo.database.session(readonly=True) as session:
        assert len(session.exec(select(FollowUp)).all()) == 1
