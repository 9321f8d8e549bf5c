"""English msgids of the records enums' labels (translated with ``_`` where shown).

One label set for every part (handover form, closing rules, CLI), beside the enums; the
run statuses' labels are the engine's :func:`fieldkit.procedures.engine.status_label`.
"""

from __future__ import annotations

from fieldkit.i18n import _
from fieldkit.records.models import HazardLevel, HazardStatus, VisitOutcome, VisitType

VISIT_TYPE_LABELS = {
    VisitType.COMMUNITY_GAS_ON: "community gas-on",
    VisitType.IGNITION: "gas-on and ignition",
    VisitType.INSPECTION: "safety inspection",
    VisitType.REPAIR: "repair",
    VisitType.RECHECK: "recheck",
}
OUTCOME_LABELS = {
    VisitOutcome.COMPLETED: "completed",
    VisitOutcome.REFUSED_GAS: "gas refused (not safe to supply)",
    VisitOutcome.STOPPED_UNSAFE: "stopped: unsafe",
    VisitOutcome.NOT_HOME: "nobody home",
    VisitOutcome.CUSTOMER_REFUSED: "customer refused the inspection",
    VisitOutcome.INCOMPLETE: "incomplete",
}
LEVEL_LABELS = {HazardLevel.MAJOR: "major", HazardLevel.GENERAL: "general"}
STATUS_LABELS = {
    HazardStatus.PENDING: "to be fixed",
    HazardStatus.RECHECKING: "being rechecked",
    HazardStatus.FIXED: "fixed",
}


def outcome_label(outcome: VisitOutcome | str) -> str:
    """The outcome in the UI language."""
    return _(OUTCOME_LABELS[VisitOutcome(outcome)])
