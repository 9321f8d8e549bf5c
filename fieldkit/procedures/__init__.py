"""fieldkit.procedures: the manual's procedures as data, and the engine that runs them.

* :mod:`fieldkit.procedures.models` — the typed shape of ``data/procedures/*.yaml``;
* :mod:`fieldkit.procedures.library` — :func:`load_procedures` (shipped + ``FIELDKIT_DATA``);
* :mod:`fieldkit.procedures.engine` — :class:`ProcedureRun`, a UI-free state machine whose
  safety gates cannot be skipped, and its audit trail of :class:`StepEvent`;
* :mod:`fieldkit.procedures.units` — Pa / kPa / mmH2O conversion.

No Textual, no FastAPI, no I/O beyond reading the procedure files.
"""

from fieldkit.procedures.engine import (
    ClockError,
    EventKind,
    FactRecord,
    GateClosed,
    InvalidAnswer,
    OpenGate,
    ProcedureError,
    ProcedureRun,
    ReplayError,
    RunFinished,
    RunStatus,
    StepEvent,
    StepOutOfOrder,
    TimerNotElapsed,
    VisitContext,
    status_label,
)
from fieldkit.procedures.library import load_procedures, load_procedures_strict
from fieldkit.procedures.models import (
    Gate,
    GateKind,
    Procedure,
    RefusalCondition,
    Step,
)

__all__ = [
    "ClockError",
    "EventKind",
    "FactRecord",
    "Gate",
    "GateClosed",
    "GateKind",
    "InvalidAnswer",
    "OpenGate",
    "Procedure",
    "ProcedureError",
    "ProcedureRun",
    "RefusalCondition",
    "ReplayError",
    "RunFinished",
    "RunStatus",
    "Step",
    "StepEvent",
    "StepOutOfOrder",
    "TimerNotElapsed",
    "VisitContext",
    "load_procedures",
    "load_procedures_strict",
    "status_label",
]
