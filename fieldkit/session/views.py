"""Read-only snapshots of a run for the UI (refreshed after each session call)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

from fieldkit.i18n import _
from fieldkit.procedures.engine import (
    ACTION_KINDS,
    EventKind,
    OpenGate,
    ProcedureRun,
    RunStatus,
    StepEvent,
    status_label,
)
from fieldkit.procedures.models import Procedure, Step
from fieldkit.safety import Blocker


@dataclass(frozen=True)
class OverrideInfo:
    """The procedure file run is a signed-off local revision below a safety floor."""

    approved_by: str
    standard: str
    approved_on: date
    content_hash: str
    label: str  # 本地修订 · 依据 …

    @classmethod
    def of(cls, procedure: Procedure) -> OverrideInfo | None:
        override = procedure.override
        if override is None:
            return None
        return cls(
            approved_by=override.approved_by,
            standard=override.standard,
            approved_on=override.approved_on,
            content_hash=procedure.content_hash or "",
            label=_("local revision · per {standard}").format(standard=override.standard),
        )


@dataclass(frozen=True)
class RunView:
    run_id: uuid.UUID
    procedure: Procedure
    status: RunStatus
    status_label: str
    current: Step | None
    events: tuple[StepEvent, ...]
    open_gate: OpenGate | None
    refusal: StepEvent | None
    override: OverrideInfo | None
    step_index: int  # 0-based position of the current step (= step_total when none)
    step_total: int
    blockers: tuple[Blocker, ...] = ()  # what the visit's safety state closes for this run
    _run: ProcedureRun | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, run: ProcedureRun, blockers: tuple[Blocker, ...] = ()) -> RunView:
        current = run.current
        total = len(run.procedure.steps)
        return cls(
            run_id=run.run_id,
            procedure=run.procedure,
            status=run.status,
            status_label=status_label(run.status),
            current=current,
            events=tuple(run.events),
            open_gate=run.open_gate,
            refusal=run.refusal if run.status == RunStatus.REFUSED else None,
            override=OverrideInfo.of(run.procedure),
            step_index=run.procedure.index_of(current.id) if current is not None else total,
            step_total=total,
            blockers=blockers,
            _run=run,
        )

    def pending_reading(self, step_id: str) -> dict[str, object] | None:
        return self._run.pending_reading(step_id) if self._run is not None else None

    def timer_remaining(self, step_id: str) -> timedelta | None:
        return self._run.timer_remaining(step_id) if self._run is not None else None

    def discardable(self) -> bool:
        """No answer, reading, timer, repair or correction yet."""
        return (
            not any(e.kind in ACTION_KINDS and e.kind != EventKind.ABANDONED for e in self.events)
            and self.status != RunStatus.ABANDONED
        )
