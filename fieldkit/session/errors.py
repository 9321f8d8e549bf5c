"""Errors of the visit session service (all :class:`ProcedureError`, messages translated)."""

from __future__ import annotations

from dataclasses import dataclass

from fieldkit.i18n import _
from fieldkit.procedures.engine import (
    ClockError,
    GateClosed,
    InvalidAnswer,
    ProcedureError,
    ReplayError,
    RunFinished,
    StepOutOfOrder,
    TimerNotElapsed,
)
from fieldkit.safety import Blocker


@dataclass(frozen=True)
class RefusalPreview:
    """What a refusal-triggering answer would do, for the confirmation dialog."""

    rule: str  # the manual's rule, in the UI language
    consequence: str  # 不予通气, the job stops, it is recorded, what clears it


class SafetyBlocked(GateClosed):
    """The visit's safety state forbids the step (a standing refusal, an open hazard, …)."""

    def __init__(self, blockers: tuple[Blocker, ...]):
        self.blockers = blockers
        reasons = "; ".join(f"{b.reason} ({b.clears_by})" for b in blockers)
        super().__init__(_("Closed for this visit: {reasons}").format(reasons=reasons))


class RefusalNeedsConfirmation(ProcedureError):
    """The answer would refuse gas (不予通气); ask, then answer again with confirmed=True."""

    def __init__(self, preview: RefusalPreview):
        self.preview = preview
        super().__init__(preview.consequence)


class NotDiscardable(ProcedureError):
    """Only a run with no answers can be discarded; abandon it (with a reason) instead."""


__all__ = [
    "ClockError",
    "GateClosed",
    "InvalidAnswer",
    "NotDiscardable",
    "ProcedureError",
    "RefusalNeedsConfirmation",
    "RefusalPreview",
    "ReplayError",
    "RunFinished",
    "SafetyBlocked",
    "StepOutOfOrder",
    "TimerNotElapsed",
]
