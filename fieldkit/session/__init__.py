"""fieldkit.session: the visit session service (open/resume, answer, repair, correct,
discard, abandon, close), each call saved before it returns and checked against the
visit's safety state. UI-free; the TUI, the crash driver and the tests call it."""

from fieldkit.session.errors import (
    ClockError,
    GateClosed,
    InvalidAnswer,
    NotDiscardable,
    ProcedureError,
    RefusalNeedsConfirmation,
    RefusalPreview,
    ReplayError,
    RunFinished,
    SafetyBlocked,
    StepOutOfOrder,
    TimerNotElapsed,
)
from fieldkit.session.service import VisitSession
from fieldkit.session.views import OverrideInfo, RunView

__all__ = [
    "ClockError",
    "GateClosed",
    "InvalidAnswer",
    "NotDiscardable",
    "OverrideInfo",
    "ProcedureError",
    "RefusalNeedsConfirmation",
    "RefusalPreview",
    "ReplayError",
    "RunFinished",
    "RunView",
    "SafetyBlocked",
    "StepOutOfOrder",
    "TimerNotElapsed",
    "VisitSession",
]
