"""The typed snapshot of one visit that the safety state is derived from.

Built by the records layer (:mod:`fieldkit.records.safety_facts`) from the laptop's
database, or by the back office from a pushed visit — the same shape either way, so both
derive the same state with the same code.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from fieldkit.procedures.engine import StepEvent


@dataclass(frozen=True)
class RunFacts:
    """One procedure run: its procedure id and its saved events, in order."""

    run_id: uuid.UUID
    procedure_id: str
    events: tuple[StepEvent, ...]
    order: int = 0  # position of the run in the visit (ties of equal timestamps)


@dataclass(frozen=True)
class HazardFacts:
    """A hazard found in the visit: its level, its refusal class (if any), when it was fixed."""

    hazard_id: uuid.UUID
    major: bool  # 重大
    refusal_code: str | None
    found_at: datetime
    fixed_at: datetime | None = None  # 已整改 (None: still open)
    description: str = ""


@dataclass(frozen=True)
class VisitFacts:
    """Everything stored for one visit that the safety invariants look at."""

    visit_id: uuid.UUID
    runs: tuple[RunFacts, ...] = ()
    hazards: tuple[HazardFacts, ...] = field(default=())

    def timeline(self) -> list[StepEvent]:
        """Every event of every run in one order: time, then run order, then trail order."""
        keyed = [
            ((event.at, run.order, index), event)
            for run in self.runs
            for index, event in enumerate(run.events)
        ]
        keyed.sort(key=lambda item: item[0])
        return [event for _, event in keyed]

    def procedure_of(self, run_id: uuid.UUID) -> str | None:
        for run in self.runs:
            if run.run_id == run_id:
                return run.procedure_id
        return None
