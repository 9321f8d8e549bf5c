"""The typed snapshot of one visit that the safety state is derived from.

Built by the records layer (:mod:`fieldkit.records.safety_facts`) from the laptop's
database, or by the back office from a pushed visit — the same shape either way, so both
derive the same state with the same code.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

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
        return list(self.in_order)

    @cached_property
    def in_order(self) -> tuple[StepEvent, ...]:
        """:meth:`timeline` as a tuple, computed once per (frozen) value."""
        # the facts are frozen: sorted once per value (derive and the audit ask many times)
        keyed = [
            ((event.at, run.order, index), event)
            for run in self.runs
            for index, event in enumerate(run.events)
        ]
        keyed.sort(key=lambda item: item[0])
        return tuple(event for _, event in keyed)

    @cached_property
    def _procedures(self) -> dict[uuid.UUID, str]:
        return {run.run_id: run.procedure_id for run in reversed(self.runs)}

    def sharing_order(
        self,
        runs: tuple[RunFacts, ...],
        hazards: tuple[HazardFacts, ...],
        order: tuple[StepEvent, ...],
    ) -> VisitFacts:
        """Other facts of this visit whose events, in order, are ``order`` (a subsequence of
        this value's order, already sorted): derived without sorting again."""
        other = VisitFacts(self.visit_id, runs, hazards)
        other.__dict__["in_order"] = order  # cached_property's slot: frozen, computed here
        return other

    def procedure_of(self, run_id: uuid.UUID) -> str | None:
        return self._procedures.get(run_id)
