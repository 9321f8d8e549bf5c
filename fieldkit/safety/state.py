"""The visit's safety state: derived from every stored fact of the visit, nothing else.

:func:`derive` is pure: the same stored runs, events and hazards give the same state on
the laptop (the session service consults it before accepting a step), after a crash (it
is re-derived from the saved events) and on the back office (re-derived from the pushed
visit). The invariants, with their sources, are in docs/safety.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from fieldkit.i18n import _
from fieldkit.procedures.engine import EventKind, StepEvent
from fieldkit.safety.facts import HazardFacts, RunFacts, VisitFacts
from fieldkit.safety.rules import (
    CORRECTION_CODES,
    IGNITION,
    LEAK_CHECK_BEFORE_IGNITION,
    PIPEWORK_STEPS,
    PURGE_PROCEDURES,
    TIGHTNESS_FACT,
    StepRole,
    step_role,
)


def N_(message: str) -> str:
    return message


class BlockerKind(StrEnum):
    REFUSAL_STANDS = "refusal_stands"
    HAZARD_OPEN = "hazard_open"
    PURGE_MISSING = "purge_missing"
    LEAK_CHECK_MISSING = "leak_check_missing"
    TIGHTNESS_MISSING = "tightness_missing"


# Blockers that close gas-in (and so ignition); the others close ignition only.
GAS_IN_KINDS = frozenset({BlockerKind.REFUSAL_STANDS})
COMPLETE_KINDS = frozenset({BlockerKind.REFUSAL_STANDS, BlockerKind.HAZARD_OPEN})

REFUSAL_REASONS = {
    "private_alteration": N_("private alteration of the indoor gas piping (私改)"),
    "concealed_piping": N_("pipes, valves or meter boxed in (包管、包阀、包表)"),
    "no_pipe_clamps": N_("indoor piping without pipe clamps (无管卡)"),
    "non_compliant_installation": N_("installation does not meet the code"),
}
SRC_PURGE_RULES = N_("manual, 户内燃气置换放散要求 rules 5–8")
SRC_IGNITION_1 = N_("manual, 通气点火操作步骤 item 1 (置换放散完后…)")
SRC_COMMUNITY_4 = N_("manual, 小区通气流程 item 4 (检测无泄漏后方可通气点火)")
SRC_TIGHTNESS = N_(
    "CJJ 94-2009 ch. 8 as commonly quoted [U]; manual, 小区通气流程 item 4 (压力无压降为合格)"
)
SRC_HAZARD = N_("manual, 户内燃气置换放散要求 rules 5–8; 重大 hazards: utility practice [S]")


@dataclass(frozen=True)
class Blocker:
    """Why gas-in/ignition (or closing as 已完成) is closed, and what would clear it."""

    kind: BlockerKind
    reason: str
    clears_by: str
    source: str


@dataclass(frozen=True)
class SafetyState:
    blockers: tuple[Blocker, ...] = ()

    def of_kind(self, *kinds: BlockerKind) -> tuple[Blocker, ...]:
        return tuple(b for b in self.blockers if b.kind in kinds)

    def gas_in_allowed(self) -> bool:
        return not self.of_kind(*GAS_IN_KINDS)

    def ignition_allowed(self) -> bool:
        return not self.blockers

    def complete_allowed(self) -> bool:
        """May the visit close as 已完成 (no standing refusal, no open blocking hazard)."""
        return not self.of_kind(*COMPLETE_KINDS)

    def blockers_for_step(self, procedure_id: str, step_id: str) -> tuple[Blocker, ...]:
        role = step_role(procedure_id, step_id)
        if role == StepRole.IGNITION:
            return self.blockers
        if role == StepRole.GAS_IN:
            return self.of_kind(*GAS_IN_KINDS)
        return ()

    def blockers_for(self, procedure_id: str) -> tuple[Blocker, ...]:
        """What blocks that procedure's gas-in/ignition steps (empty: nothing does)."""
        if procedure_id == IGNITION:
            return self.blockers
        if procedure_id in PURGE_PROCEDURES:
            return self.of_kind(*GAS_IN_KINDS)
        return ()


def _refusals(facts: VisitFacts, timeline: list[StepEvent]) -> list[Blocker]:
    positions: dict[uuid.UUID, int] = {}

    def position(event_id: uuid.UUID) -> int | None:
        if not positions:  # built when a refusal correction is met (rare), once
            positions.update((e.event_id, index) for index, e in enumerate(timeline))
        return positions.get(event_id)

    blockers: list[Blocker] = []
    for run in facts.runs:
        refused: StepEvent | None = None
        corrected_at: int | None = None
        for event in run.events:
            if event.kind == EventKind.REFUSED:
                refused, corrected_at = event, None
            elif event.kind == EventKind.CORRECTED and refused is not None:
                refused = None  # a mistaken answer was corrected: the refusal is withdrawn
            elif event.kind == EventKind.REFUSAL_CORRECTED and refused is not None:
                corrected_at = position(event.event_id)
        if refused is None:
            continue
        code = str(refused.value.get("refusal_code", ""))
        if corrected_at is not None and _rechecked(
            facts, timeline, run.procedure_id, refused, corrected_at
        ):
            continue
        reason = _(REFUSAL_REASONS[code]) if code in REFUSAL_REASONS else code
        if corrected_at is not None:
            clears = _("re-run the refused check (a new run of the procedure) and pass it")
        elif code in CORRECTION_CODES:
            clears = _(
                "record the correction (what was done, by whom), then re-run the check and pass it"
            )
        else:
            clears = _("record the repair, then re-run the check and pass it")
        blockers.append(
            Blocker(
                BlockerKind.REFUSAL_STANDS,
                _("gas was refused in this visit (不予通气): {reason}").format(reason=reason),
                clears,
                _(SRC_PURGE_RULES),
            )
        )
    return blockers


def _rechecked(
    facts: VisitFacts, timeline: list[StepEvent], procedure_id: str, refused: StepEvent, after: int
) -> bool:
    """A passed answer to the same check, in any run of the same procedure, after ``after``."""
    corrected = timeline[after]
    for event in timeline[after + 1 :]:
        if (
            event.at > corrected.at  # strictly after the correction was recorded
            and event.kind == EventKind.ANSWERED
            and event.step_id == refused.step_id
            and event.passed is True
            and facts.procedure_of(event.run_id) == procedure_id
        ):
            return True
    return False


def _hazards(hazards: tuple[HazardFacts, ...]) -> list[Blocker]:
    blockers = []
    for hazard in hazards:
        if hazard.fixed_at is not None or not (hazard.major or hazard.refusal_code):
            continue
        what = (
            _(REFUSAL_REASONS[hazard.refusal_code])
            if hazard.refusal_code in REFUSAL_REASONS
            else _("major hazard (重大)")
        )
        blockers.append(
            Blocker(
                BlockerKind.HAZARD_OPEN,
                _("an open hazard: {what} — {description}").format(
                    what=what, description=hazard.description or "-"
                ),
                _("rectify it and record the hazard as fixed (已整改)"),
                _(SRC_HAZARD),
            )
        )
    return blockers


def _ignition_gates(facts: VisitFacts, timeline: list[StepEvent]) -> list[Blocker]:
    blockers = []
    purged = any(
        event.kind == EventKind.COMPLETED and facts.procedure_of(event.run_id) in PURGE_PROCEDURES
        for event in timeline
    )
    if not purged:
        blockers.append(
            Blocker(
                BlockerKind.PURGE_MISSING,
                _("no completed purge and venting (置换放散) in this visit"),
                _("complete the purge procedure in this visit first"),
                _(SRC_IGNITION_1),
            )
        )
    for procedure_id, step_id in LEAK_CHECK_BEFORE_IGNITION:
        # only a run begun by then counts (a later community run does not make an earlier
        # ignition a violation in the history audit)
        if not any(run.procedure_id == procedure_id and run.events for run in facts.runs):
            continue
        answers = [
            e
            for e in timeline
            if e.kind == EventKind.ANSWERED
            and e.step_id == step_id
            and facts.procedure_of(e.run_id) == procedure_id
        ]
        if not answers or answers[-1].passed is not True:
            blockers.append(
                Blocker(
                    BlockerKind.LEAK_CHECK_MISSING,
                    _("the second leak check (二次检漏) has not passed"),
                    _("do the second leak check and find no leak"),
                    _(SRC_COMMUNITY_4),
                )
            )
    tight = False
    voided = False
    for event in timeline:
        if event.kind == EventKind.ESTABLISHED and event.value.get("fact") == TIGHTNESS_FACT:
            tight, voided = True, False
        elif event.kind == EventKind.REVOKED and event.value.get("fact") == TIGHTNESS_FACT:
            tight = False
        elif (
            event.kind == EventKind.REPAIR_RECORDED
            and tight
            and (facts.procedure_of(event.run_id) or "", event.step_id) in PIPEWORK_STEPS
        ):
            tight, voided = False, True
    if not tight:
        blockers.append(
            Blocker(
                BlockerKind.TIGHTNESS_MISSING,
                _("the piping was repaired after the tightness test; it must be re-tested")
                if voided
                else _("no passed tightness test (严密性试验) in this visit"),
                _("do the tightness test and pass it (no pressure drop)"),
                _(SRC_TIGHTNESS),
            )
        )
    return blockers


def _runs_keeping(facts: VisitFacts, keep: Callable[[StepEvent], bool]) -> tuple[RunFacts, ...]:
    return tuple(
        RunFacts(run.run_id, run.procedure_id, tuple(e for e in run.events if keep(e)), run.order)
        for run in facts.runs
    )


def derive(facts: VisitFacts, *, upto: int | None = None) -> SafetyState:
    """The visit's safety state from its stored facts (optionally only from the first
    ``upto`` events of the visit's order: the state before that event)."""
    timeline = list(facts.in_order)
    if upto is not None:
        # the first events in order (the history audit asks this for every gated action):
        # the order holds the runs' own event objects, so they are kept by identity (no id
        # hashing); by id if the order was given with other (equal) objects
        timeline = timeline[:upto]
        held = {id(e) for e in timeline}
        runs = _runs_keeping(facts, lambda e: id(e) in held)
        if sum(len(run.events) for run in runs) != len(timeline):
            kept_ids = {e.event_id for e in timeline}
            runs = _runs_keeping(facts, lambda e: e.event_id in kept_ids)
        facts = facts.sharing_order(runs, facts.hazards, tuple(timeline))
    blockers = (
        _refusals(facts, timeline) + _hazards(facts.hazards) + _ignition_gates(facts, timeline)
    )
    return SafetyState(tuple(blockers))


def completion_blockers(facts: VisitFacts) -> tuple[Blocker, ...]:
    """What stops the visit being closed 已完成: ``derive(facts).of_kind(*COMPLETE_KINDS)``
    without deriving the ignition gates, which never close it (the back office asks this
    of every pushed visit)."""
    blockers = _refusals(facts, list(facts.in_order)) + _hazards(facts.hazards)
    return tuple(b for b in blockers if b.kind in COMPLETE_KINDS)


def voided_tightness(facts: VisitFacts) -> list[tuple[uuid.UUID, StepEvent]]:
    """Pipework repairs that void an earlier tightness pass (for the engine's visit context)."""
    out = []
    tight = False
    for event in facts.timeline():
        procedure_id = facts.procedure_of(event.run_id) or ""
        if event.kind == EventKind.ESTABLISHED and event.value.get("fact") == TIGHTNESS_FACT:
            tight = True
        elif event.kind == EventKind.REVOKED and event.value.get("fact") == TIGHTNESS_FACT:
            tight = False
        elif (
            event.kind == EventKind.REPAIR_RECORDED
            and (procedure_id, event.step_id) in PIPEWORK_STEPS
            and tight
        ):
            tight = False
            out.append((event.run_id, event))
    return out
