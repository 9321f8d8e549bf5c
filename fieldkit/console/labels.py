"""Display names (English msgids, translated by the console catalog) of stored codes."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "visit_type": {
        "community_gas_on": "Community gas-on",
        "ignition": "Gas-on and ignition",
        "inspection": "Safety inspection",
        "repair": "Repair",
        "recheck": "Recheck",
    },
    "outcome": {
        "completed": "Completed",
        "refused_gas": "Gas refused (unsafe)",
        "stopped_unsafe": "Stopped: unsafe",
        "not_home": "Nobody home",
        "customer_refused": "Customer refused",
        "incomplete": "Incomplete",
    },
    "work_order_status": {"open": "Open", "cancelled": "Cancelled", "done": "Done"},
    "hazard_status": {
        "open": "Not yet fixed",
        "pending": "Awaiting rectification",
        "rechecking": "Rechecking",
        "fixed": "Fixed",
    },
    "hazard_action": {
        "notified": "Customer notified",
        "rechecking": "Rechecking",
        "fixed": "Fixed",
    },
    "level": {"major": "Major", "general": "General"},
    "follow_up_status": {
        "pending": "Not yet called",
        "due_today": "Due today",
        "overdue": "Overdue",
        "done": "Done",
    },
    "satisfaction": {
        "satisfied": "Satisfied",
        "basically_satisfied": "Basically satisfied",
        "unsatisfied": "Unsatisfied",
    },
    "stage": {
        "open": "Not closed",
        "overdue": "Overdue",
        "accepted": "Accepted",
        "dispatched": "Dispatched",
        "handled": "Handled",
        "confirmed": "Customer confirmed",
        "closed": "Closed",
    },
    "channel": {
        "phone": "Phone",
        "hotline": "Hotline",
        "counter": "Service counter",
        "online": "Online",
        "follow_up": "Follow-up call",
    },
    "action": {
        "login": "Signed in",
        "login.failed": "Sign-in failed",
        "logout": "Signed out",
        "staff.create": "Staff account created",
        "work_order.create": "Work order created",
        "work_order.assign": "Work order assigned",
        "work_order.cancel": "Work order cancelled",
        "technician.enrol": "Technician enrolled",
        "device.token_issued": "Device token issued",
        "device.token_revoked": "Device token revoked",
        "follow_up.call": "Follow-up call recorded",
        "complaint.accepted": "Complaint accepted",
        "complaint.dispatched": "Complaint dispatched",
        "complaint.handled": "Complaint handled",
        "complaint.confirmed": "Complaint confirmed by the customer",
        "complaint.closed": "Complaint closed",
        "export": "List downloaded",
        "handover.pdf": "Handover form downloaded",
        "hazard.status": "Hazard status changed",
        "hazard.notified": "Customer notified of a hazard",
    },
    "flag_kind": {
        "gas_in_after_refusal": "Gas-in after a refusal",
        "ignition_without_gates": "Ignition without its gates",
        "local_override": "Work under a local procedure override",
        "completed_while_blocked": "Closed as completed while blocked",
        "audit_failed": "Safety re-derivation failed",
    },
    "role": {
        "admin": "Administrator",
        "dispatcher": "Dispatcher",
        "service": "Customer service",
        "supervisor": "Supervisor",
    },
}

# Which label table a list column's values come from.
COLUMN_KIND = {
    "visit_type": "visit_type",
    "outcome": "outcome",
    "level": "level",
    "satisfaction": "satisfaction",
    "stage": "stage",
    "channel": "channel",
    "action": "action",
    "kind": "flag_kind",
}


def label(kind: str, value: object) -> str:
    """The msgid naming ``value`` (the value itself when it is not a known code)."""
    return LABELS.get(kind, {}).get(str(value), str(value))


def all_msgids() -> list[str]:
    return sorted({m for table in LABELS.values() for m in table.values()})
