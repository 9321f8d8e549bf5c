"""Helpers for the session tests: a clock the test moves, and a scripted technician."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fieldkit.procedures.models import (
    CaptureStep,
    CheckStep,
    FieldType,
    InstructionStep,
    MeasurementStep,
    SignOffStep,
    Step,
    TimerStep,
)
from fieldkit.session import RunView, VisitSession


class FakeClock:
    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def passing_value(step: Step) -> Any:
    if isinstance(step, CheckStep):
        return step.pass_answer.value
    if isinstance(step, InstructionStep | TimerStep):
        return True
    if isinstance(step, CaptureStep):
        values: dict[str, Any] = {}
        for spec in step.fields:
            if spec.type == FieldType.TEXT:
                values[spec.name] = "QF-0012345"
            elif spec.type == FieldType.NUMBER:
                values[spec.name] = 12.5
            else:
                values[spec.name] = ["F-1"] * 0 + [f"F-{i}" for i in range(max(spec.min_items, 1))]
        return values
    if isinstance(step, SignOffStep):
        return {"customer_name": "张三"}
    raise AssertionError(step)


def do_step(session: VisitSession, view: RunView, clock: FakeClock) -> RunView:
    """Do the current step the passing way (readings: 5.2 kPa held, no drop)."""
    step = view.current
    assert step is not None
    if isinstance(step, MeasurementStep):
        if step.hold is not None:
            if view.pending_reading(step.id) is None:
                view = session.answer(view.run_id, step.id, {"unit": "kPa", "start": 5.2})
            clock.advance(minutes=step.hold.minutes)
            return session.answer(view.run_id, step.id, {"unit": "kPa", "end": 5.2})
        return session.answer(view.run_id, step.id, {"unit": "kPa", "start": 5.2, "end": 5.2})
    if isinstance(step, TimerStep):
        session.start_timer(view.run_id, step.id)
        clock.advance(minutes=step.minutes)
    return session.answer(view.run_id, step.id, passing_value(step))


def complete(session: VisitSession, procedure_id: str, clock: FakeClock) -> RunView:
    view = session.open_run(procedure_id)
    for _ in range(100):
        if view.current is None:
            return view
        clock.advance(seconds=30)
        view = do_step(session, view, clock)
    raise AssertionError("did not finish")


def new_visit(repo: Any, visit_type: str = "ignition") -> uuid.UUID:
    customer = repo.upsert_customer(f"C-{uuid.uuid4().hex[:8]}", name="张三")
    return repo.start_visit(customer_id=customer.id, technician_id="T001", visit_type=visit_type).id
