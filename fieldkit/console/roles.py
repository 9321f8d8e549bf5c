"""Who may do what in the console. ``admin`` may do everything."""

from __future__ import annotations

D, S, V = "dispatcher", "service", "supervisor"

PERMISSIONS: dict[str, frozenset[str]] = {
    "work_orders.view": frozenset({D, S, V}),
    "work_orders.edit": frozenset({D}),
    "technicians.view": frozenset({D, V}),
    "technicians.edit": frozenset({V}),  # enrol, issue and revoke device tokens
    "visits.view": frozenset({D, S, V}),
    "visit.review": frozenset({S, V}),
    "hazards.view": frozenset({D, V}),
    "hazards.edit": frozenset({V}),  # move a hazard forward, note a notice
    "safety.view": frozenset({V}),
    "follow_ups.view": frozenset({S, V}),
    "follow_ups.edit": frozenset({S}),
    "complaints.view": frozenset({S, V}),
    "complaints.edit": frozenset({S, V}),
    "audit.view": frozenset(),
}

HOME: dict[str, str] = {
    "admin": "work_orders",
    D: "work_orders",
    S: "follow_ups",
    V: "visits",
}


def allowed(role: str, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(permission)
    return role == "admin" or role in PERMISSIONS[permission]
