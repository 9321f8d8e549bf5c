"""Violations in a visit's history: what the back office flags on every pushed visit.

The state before each gas-in or ignition action is re-derived with :func:`derive` from
the events before it, so a visit recorded by an old laptop, a tampered database or a
utility's override is judged by the same invariants as the laptop's session service.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from fieldkit.procedures.engine import RUN_STEP, EventKind
from fieldkit.safety.facts import HazardFacts, VisitFacts
from fieldkit.safety.rules import StepRole, step_role
from fieldkit.safety.state import BlockerKind, completion_blockers, derive

ACTIONS = frozenset(
    {EventKind.ANSWERED, EventKind.READING_STARTED, EventKind.TIMER_STARTED, EventKind.CORRECTED}
)


class ViolationKind(StrEnum):
    GAS_IN_AFTER_REFUSAL = "gas_in_after_refusal"  # a gas-in/ignition step while 不予通气 stood
    IGNITION_WITHOUT_GATES = "ignition_without_gates"  # no purge / tightness / leak check / hazard
    LOCAL_OVERRIDE = "local_override"  # a procedure file below a safety floor was run
    COMPLETED_WHILE_BLOCKED = "completed_while_blocked"  # 已完成 with a refusal or hazard open


@dataclass(frozen=True)
class Violation:
    kind: ViolationKind
    detail: str  # English, for the back office's audit (ids and blocker kinds)


def _open_at(hazards: tuple[HazardFacts, ...], at: datetime) -> tuple[HazardFacts, ...]:
    """The hazards as they stood at ``at``: found before it, and not fixed yet if their
    fix was recorded after it."""
    return tuple(
        replace(h, fixed_at=None) if h.fixed_at is not None and h.fixed_at > at else h
        for h in hazards
        if h.found_at < at
    )


def audit(facts: VisitFacts, *, outcome: str | None = None) -> list[Violation]:
    """Every violation of the invariants in the visit's stored history (one per run/kind)."""
    out: list[Violation] = []
    seen: set[tuple[ViolationKind, str]] = set()
    timeline = facts.in_order
    procedures: dict[int, str] = {}  # by identity of a run id (a run's events share it)
    for index, event in enumerate(timeline):
        if event.kind not in ACTIONS or event.step_id == RUN_STEP:
            continue
        procedure_id = procedures.get(id(event.run_id))
        if procedure_id is None:  # looked up once per run, not per event (a UUID hashes slowly)
            procedure_id = procedures[id(event.run_id)] = facts.procedure_of(event.run_id) or ""
        role = step_role(procedure_id, event.step_id)
        if role == StepRole.NONE:
            continue
        before = facts.sharing_order(facts.runs, _open_at(facts.hazards, event.at), timeline)
        state = derive(before, upto=index)  # the events before this one
        blockers = state.blockers_for_step(procedure_id, event.step_id)
        if not blockers:
            continue
        refused = any(b.kind == BlockerKind.REFUSAL_STANDS for b in blockers)
        kind = (
            ViolationKind.GAS_IN_AFTER_REFUSAL if refused else ViolationKind.IGNITION_WITHOUT_GATES
        )
        key = (kind, str(event.run_id))
        if key in seen:
            continue
        seen.add(key)
        what = ", ".join(sorted({b.kind.value for b in blockers}))
        out.append(
            Violation(
                kind,
                f"{procedure_id} run {event.run_id}: step {event.step_id} ({role.value}) done at "
                f"{event.at.isoformat()} while closed by: {what}",
            )
        )
    for run in facts.runs:
        started = run.events[0] if run.events else None
        if started is None or started.kind != EventKind.STARTED:
            continue
        override = started.value.get("override")
        if isinstance(override, dict):
            out.append(
                Violation(
                    ViolationKind.LOCAL_OVERRIDE,
                    f"{run.procedure_id} v{started.value.get('version')} run {run.run_id} "
                    f"under a local override approved by {override.get('approved_by')!s} "
                    f"on {override.get('approved_on')!s} per {override.get('standard')!s}; "
                    f"file sha256 {started.value.get('content_hash')!s}",
                )
            )
    if outcome == "completed":
        blocking = completion_blockers(facts)
        if blocking:
            what = ", ".join(sorted({b.kind.value for b in blocking}))
            out.append(
                Violation(
                    ViolationKind.COMPLETED_WHILE_BLOCKED,
                    f"closed as completed while closed by: {what}",
                )
            )
    return out
