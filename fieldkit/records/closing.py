"""Which outcomes a visit may be closed with: the visit-level safety rules.

The procedure engine guards each run; these rules guard the visit as a whole, so that no
screen or command can close a visit as ``completed`` after one of its runs refused gas,
while a failed test was never put right, or (an ignition visit) without a completed
ignition procedure and the customer's signature:

* a refusal (不予通气, a refusal condition such as 私改 piping) that still stands in the
  visit's safety state (:mod:`fieldkit.safety`): only ``refused_gas`` is allowed, and the
  engine's refusal reason is recorded with it; a refusal corrected and re-checked no longer
  stands;
* an open hazard of a refusal class, or any open 重大 hazard: not ``completed``;
* a run held by a gate (``awaiting_repair`` / ``stopped``, or abandoned while its gate was
  open, and not followed by a completed run of the same procedure): only
  ``stopped_unsafe`` or ``incomplete``, with a reason;
* an ``ignition`` visit: ``completed`` only with a completed ``ignition`` run (the engine
  lets ignition complete only after a passed tightness test) and a customer signature.

:func:`closing_rules` works inside the caller's session; ``VisitRepository.closing_rules``
and ``VisitRepository.close_visit`` call it. Messages are bilingual (:class:`Text`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlmodel import Session, select

from fieldkit.i18n import catalog, get_language
from fieldkit.procedures.engine import EventKind, RunStatus, StepEvent
from fieldkit.records.models import (
    CustomerSignature,
    Visit,
    VisitOutcome,
    VisitType,
)
from fieldkit.records.queries import runs_of_visit
from fieldkit.records.safety_facts import visit_facts
from fieldkit.safety import BlockerKind, VisitFacts, derive
from fieldkit.textmodel import Text

IGNITION_PROCEDURE = "ignition"  # the procedure id an ignition visit must complete
GATE_HOLD_STATUSES = frozenset({RunStatus.AWAITING_REPAIR, RunStatus.STOPPED})
HOLDING_GATES = frozenset({"repair_then_retry", "stop"})  # gates a repair reopens
AFTER_UNRESOLVED_GATE = (VisitOutcome.STOPPED_UNSAFE, VisitOutcome.INCOMPLETE)


def N_(message: str) -> str:
    """Mark a msgid for the catalog; it is translated later, in both languages."""
    return message


MSG_REFUSED = N_(
    "Gas was refused in this visit: {reason}. The visit can only be closed as gas refused."
)
MSG_GATE = N_(
    "A safety check of this visit failed and was not put right: {step} ({reason}). "
    "The visit cannot be closed as completed; close it as stopped (unsafe) or incomplete, "
    "with the reason."
)
MSG_NO_IGNITION = N_(
    "An ignition visit is completed only after its ignition procedure is completed "
    "(which needs a passed tightness test); none is completed in this visit."
)
MSG_NO_SIGNATURE = N_(
    "An ignition visit is completed only with the customer's signature; there is none yet."
)
MSG_HAZARD = N_(
    "An open hazard blocks closing as completed: {what}. Record it as fixed first, or close "
    "the visit with another outcome."
)
MSG_NOT_ALLOWED = N_("The visit cannot be closed as {outcome}. {why}")


def bilingual(msgid: str, **values: Any) -> Text:
    """The msgid in Chinese and English at once; ``Text`` values are picked per language."""

    def fill(template: str, language: str) -> str:
        return template.format(
            **{k: (v.get(language) if isinstance(v, Text) else str(v)) for k, v in values.items()}
        )

    return Text(zh=fill(catalog("zh").get(msgid, msgid), "zh"), en=fill(msgid, "en"))


def _text(value: Any) -> Text | None:
    if isinstance(value, dict) and value.get("zh") and value.get("en"):
        return Text(zh=str(value["zh"]), en=str(value["en"]))
    if isinstance(value, str) and value.strip():
        return Text(zh=value.strip(), en=value.strip())
    return None


@dataclass(frozen=True)
class ClosingRules:
    """The outcomes a visit may be closed with now, and why others are not offered."""

    visit_id: uuid.UUID
    allowed: tuple[VisitOutcome, ...]
    why: Text | None = None
    """Why ``completed`` (or more) is not allowed; None when every outcome is."""
    preset_outcome: VisitOutcome | None = None
    refusal_reason: Text | None = None
    """The engine's refusal reason (with the technician's note) when gas was refused."""

    def allows(self, outcome: VisitOutcome | str) -> bool:
        return VisitOutcome(outcome) in self.allowed


def _gate_open_at_end(events: Sequence[StepEvent]) -> StepEvent | None:
    """The gate_triggered event still open at the end of a run's trail, if any."""
    open_gate: StepEvent | None = None
    for event in events:
        if event.kind == EventKind.GATE_TRIGGERED and str(event.value.get("gate")) in HOLDING_GATES:
            open_gate = event
        elif event.kind in (EventKind.REPAIR_RECORDED, EventKind.CORRECTED):
            open_gate = None
    return open_gate


class RunHead(Protocol):
    """What the closing rules read of a run row (its events come with the facts)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def procedure_id(self) -> str: ...
    @property
    def status(self) -> str: ...


def closing_rules(session: Session, visit: Visit) -> ClosingRules:
    """The rules for ``visit`` from what is saved (runs, their events, the signature)."""
    signed = session.exec(
        select(CustomerSignature).where(CustomerSignature.visit_id == visit.id)
    ).first()
    return rules_from(
        visit.id,
        visit.visit_type,
        runs_of_visit(session, visit.id),
        visit_facts(session, visit.id),
        signed=signed is not None,
    )


def rules_from(
    visit_id: uuid.UUID,
    visit_type: str,
    runs: Sequence[RunHead],
    facts: VisitFacts,
    *,
    signed: bool,
) -> ClosingRules:
    """The closing rules from the visit's type, its runs (oldest first), its stored facts
    and whether the customer signed."""
    every = tuple(VisitOutcome)
    trails = {run.run_id: run.events for run in facts.runs}
    state = derive(facts)
    standing = state.of_kind(BlockerKind.REFUSAL_STANDS)
    # 1. A standing refusal ends the matter: only 不予通气, with the engine's reason.
    for run in runs if standing else ():
        refused = [e for e in trails.get(run.id, ()) if e.kind == EventKind.REFUSED]
        if run.status == RunStatus.REFUSED and refused:
            reason = _text(refused[-1].value.get("reason")) if refused else None
            note = refused[-1].value.get("note") if refused else None
            if reason is not None and isinstance(note, str) and note.strip():
                reason = Text(
                    zh=f"{reason.zh}（{note.strip()}）", en=f"{reason.en} ({note.strip()})"
                )
            reason = reason or Text(zh="不予通气", en="gas refused")
            return ClosingRules(
                visit_id=visit_id,
                allowed=(VisitOutcome.REFUSED_GAS,),
                why=bilingual(MSG_REFUSED, reason=reason),
                preset_outcome=VisitOutcome.REFUSED_GAS,
                refusal_reason=reason,
            )
    # 2. A failed test never put right (held now, or abandoned while held), unless a later
    #    run of the same procedure was completed.
    for index, run in enumerate(runs):
        open_gate = _gate_open_at_end(trails.get(run.id, ()))
        held = run.status in GATE_HOLD_STATUSES or (
            run.status == RunStatus.ABANDONED and open_gate is not None
        )
        if not held:
            continue
        redone = any(
            later.procedure_id == run.procedure_id and later.status == RunStatus.COMPLETED
            for later in runs[index + 1 :]
        )
        if redone:
            continue
        reason = _text(open_gate.value.get("reason")) if open_gate is not None else None
        step = open_gate.step_id if open_gate is not None else run.procedure_id
        return ClosingRules(
            visit_id=visit_id,
            allowed=AFTER_UNRESOLVED_GATE,
            why=bilingual(MSG_GATE, step=step, reason=reason or Text(zh=run.status, en=run.status)),
            preset_outcome=VisitOutcome.STOPPED_UNSAFE,
        )
    others = tuple(o for o in every if o != VisitOutcome.COMPLETED)
    # 3. An open hazard of a refusal class or an open 重大 hazard: not 已完成.
    hazards = state.of_kind(BlockerKind.HAZARD_OPEN)
    if hazards:
        return ClosingRules(
            visit_id,
            others,
            why=Text(
                zh=_in("zh", MSG_HAZARD, "；".join(b.reason for b in hazards)),
                en=_in("en", MSG_HAZARD, "; ".join(b.reason for b in hazards)),
            ),
        )
    # 4. An ignition visit: a completed ignition run and the customer's signature.
    if visit_type == VisitType.IGNITION:
        if not any(
            r.procedure_id == IGNITION_PROCEDURE and r.status == RunStatus.COMPLETED for r in runs
        ):
            return ClosingRules(visit_id, others, why=bilingual(MSG_NO_IGNITION))
        if not signed:
            return ClosingRules(visit_id, others, why=bilingual(MSG_NO_SIGNATURE))
    return ClosingRules(visit_id, every)


def _in(language: str, msgid: str, what: str) -> str:
    template = catalog("zh").get(msgid, msgid) if language == "zh" else msgid
    return template.format(what=what)


def outcome_text(outcome: VisitOutcome) -> Text:
    """The outcome's name in both languages (the handover form's labels)."""
    from fieldkit.records.labels import OUTCOME_LABELS

    return bilingual(OUTCOME_LABELS[outcome])


def with_refusal_reason(reason: str | None, refusal: Text) -> str:
    """The reason to store for 不予通气: the engine's reason, plus the technician's words."""
    given = (reason or "").strip()
    if not given:
        return refusal.get(get_language())
    base = (refusal.zh.split("（")[0], refusal.en.split(" (")[0])
    if any(part and part in given for part in base):
        return given
    return f"{refusal.get(get_language())}; {given}"
