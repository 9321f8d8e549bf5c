"""The server's safety flags (``visit_safety_flag``) as a reader understands them.

The server stores each flag's kind and an English detail (ids, step, time, blocker kinds:
:mod:`fieldkit.safety.audit`). The console shows the kind by name and rebuilds the reason
in the reader's language from the detail's parts; a detail it cannot read is shown as
stored, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fieldkit.safety.audit import ViolationKind

AUDIT_FAILED = "audit_failed"  # the server's re-derivation itself failed (safety_flags.py)
FLAG_KINDS: tuple[str, ...] = (*(k.value for k in ViolationKind), AUDIT_FAILED)

# What closed the step (fieldkit.safety.state.BlockerKind), as msgids.
BLOCKERS = {
    "refusal_stands": "gas was refused (不予通气) and the refusal still stood",
    "hazard_open": "a major hazard was still open",
    "purge_missing": "no completed purge and venting",
    "leak_check_missing": "no leak check",
    "tightness_missing": "no tightness test",
}
ROLES = {"gas_in": "gas-in", "ignition": "ignition"}

_STEP = re.compile(
    r"^(?P<procedure>\S+) run \S+: step (?P<step>\S+) \((?P<role>[\w-]+)\) done at "
    r"(?P<at>\S+) while closed by: (?P<what>.+)$"
)
_OVERRIDE = re.compile(
    r"^(?P<procedure>\S+) v(?P<version>\S+) run \S+ under a local override approved by "
    r"(?P<by>.*) on (?P<on>.*) per (?P<standard>.*); file sha256 \S+$"
)
_COMPLETED = re.compile(r"^closed as completed while closed by: (?P<what>.+)$")


def _blockers(what: str, _: Callable[[str], str]) -> str:
    names = [b.strip() for b in what.split(",") if b.strip()]
    return _("; ").join(_(BLOCKERS[n]) if n in BLOCKERS else n for n in names)


def _time(text: str, tz: Any) -> str:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return text
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def explain(kind: str, detail: str, _: Callable[[str], str], tz: Any) -> str:
    """The flag's reason in the reader's language (the stored detail when unreadable)."""
    detail = detail or ""
    if kind in (ViolationKind.GAS_IN_AFTER_REFUSAL, ViolationKind.IGNITION_WITHOUT_GATES):
        found = _STEP.match(detail)
        if found:
            role = found["role"]
            return _(
                "{procedure}: step {step} ({role}) was done at {at} although {blockers}"
            ).format(
                procedure=found["procedure"],
                step=found["step"],
                role=_(ROLES[role]) if role in ROLES else role,
                at=_time(found["at"], tz),
                blockers=_blockers(found["what"], _),
            )
    elif kind == ViolationKind.LOCAL_OVERRIDE:
        found = _OVERRIDE.match(detail)
        if found:
            return _(
                "{procedure} (version {version}) was run under a local procedure override "
                "approved by {by} on {on} per {standard}"
            ).format(**found.groupdict())
    elif kind == ViolationKind.COMPLETED_WHILE_BLOCKED:
        found = _COMPLETED.match(detail)
        if found:
            return _("The visit was closed as completed although {blockers}").format(
                blockers=_blockers(found["what"], _)
            )
    elif kind == AUDIT_FAILED:
        return _("The server could not re-derive this visit's safety state: {detail}").format(
            detail=detail
        )
    return detail
