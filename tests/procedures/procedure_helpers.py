"""Helpers shared by the procedure tests (imported as a plain module)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fieldkit.procedures.engine import ProcedureRun, VisitContext
from fieldkit.procedures.models import Procedure


class FakeClock:
    """A clock the test moves by hand (UTC-aware)."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def start(
    procedure: Procedure,
    clock: FakeClock,
    context: VisitContext | None = None,
    actor: str = "王师傅",
) -> ProcedureRun:
    return ProcedureRun.start(
        procedure,
        run_id=uuid.uuid4(),
        actor=actor,
        context=context or VisitContext.new(uuid.uuid4()),
        clock=clock,
    )


def pass_tightness(run: ProcedureRun, clock: FakeClock, step_id: str = "tightness-test") -> None:
    """A held tightness test that passes: 5.2 kPa, held 15 min, no drop."""
    run.answer(step_id, {"unit": "kPa", "start": 5.2})
    clock.advance(minutes=15)
    run.answer(step_id, {"unit": "kPa", "end": 5.2})


def passing_answer(step: Any) -> Any:
    """A value that passes a step that needs no timer (checks, instructions, captures)."""
    kind = step.kind
    if kind == "instruction":
        return True
    if kind == "check":
        return step.pass_answer.value
    if kind == "capture":
        values: dict[str, Any] = {}
        for field in step.fields:
            if field.type == "text":
                values[field.name] = "QF-0012345"
            elif field.type == "number":
                values[field.name] = 12.5
            else:
                values[field.name] = ["F-001", "F-002"]
        return values
    if kind == "sign_off":
        return {"customer_name": "李女士"}
    raise AssertionError(f"no simple passing answer for {kind}")
