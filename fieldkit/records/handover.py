"""The handover form (设施交接单) the customer reads and signs at the end of a visit.

The manual's ignition procedure ends with "the handover form signed by the customer"; the
form lists the customer and address, the meter (表钢号, 表封号/铅封号, reading, remaining
gas), any meter swap, the tests done with their readings, the hazards and the signature.
It is built from the visit's rows, so it can be printed before the visit is closed (to be
signed) and after it (as the record).
"""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from fieldkit.i18n import _
from fieldkit.records.address import format_address
from fieldkit.records.db import Database
from fieldkit.records.errors import NotFound
from fieldkit.records.models import (
    Customer,
    CustomerSignature,
    Hazard,
    HazardLevel,
    HazardStatus,
    MeterSwap,
    ProcedureRunRecord,
    StepResult,
    Visit,
    VisitOutcome,
    VisitType,
)
from fieldkit.records.runs import MeasurementInput, measurements_from_value

NOT_APPLICABLE_ANSWER = "n/a"  # the engine's answer for 不适用 (procedures.engine.NOT_APPLICABLE)
VOLUME_UNIT = "m³"  # the unit of meter readings and gas quantities on the form
UTILITY_MARK = "*"  # marks a field the manual does not list (the utility's own addition)
# The engine's appended correction of an answer: {"corrects": event id, "reason", "value"}.
CORRECTION_KINDS = frozenset({"corrected"})
REFUSAL_CORRECTED = "refusal_corrected"  # after 不予通气: {"what": …, "by": …}


def N_(message: str) -> str:
    """Mark ``message`` for translation where it is defined; translate it where it is shown."""
    return message


class Verdict(StrEnum):
    """What a line of the form's trail says about a step, as the technician recorded it.

    A "not applicable" answer is :attr:`NOT_APPLICABLE`, never :attr:`PASSED`; a failed
    test stays :attr:`FAILED` beside the :attr:`REPAIRED` line and the later pass.
    """

    PASSED = "passed"
    FAILED = "failed"
    NOT_APPLICABLE = "not_applicable"  # the technician answered 不适用
    SKIPPED = "skipped"  # the step's condition did not hold (engine: not_applicable)
    DONE = "done"  # an instruction or timer confirmed
    RECORDED = "recorded"  # handover data written down
    SIGNED = "signed"  # the customer signed
    REPAIRED = "repaired"
    FINDING = "finding"  # a symptom flow named the cause
    REFUSED = "refused"  # 不予通气
    STOPPED = "stopped"  # a stop gate (e.g. smoking during a purge)
    REUSED = "reused"  # a test passed earlier in the visit counts here
    CORRECTED = "corrected"  # an appended correction of an earlier answer
    PUT_RIGHT = "put_right"  # after 不予通气: what was done to put the site right, by whom
    ABANDONED = "abandoned"


VERDICT_LABELS = {
    Verdict.PASSED: N_("passed"),
    Verdict.FAILED: N_("failed"),
    Verdict.NOT_APPLICABLE: N_("not applicable"),
    Verdict.SKIPPED: N_("not done (condition not met)"),
    Verdict.DONE: N_("done"),
    Verdict.RECORDED: N_("recorded"),
    Verdict.SIGNED: N_("signed"),
    Verdict.REPAIRED: N_("repaired"),
    Verdict.FINDING: N_("cause found"),
    Verdict.REFUSED: N_("gas refused"),
    Verdict.STOPPED: N_("stopped"),
    Verdict.REUSED: N_("passed earlier in this visit"),
    Verdict.CORRECTED: N_("corrected"),
    Verdict.PUT_RIGHT: N_("put right after the refusal"),
    Verdict.ABANDONED: N_("abandoned"),
}
ANSWER_LABELS = {"yes": N_("yes"), "no": N_("no"), NOT_APPLICABLE_ANSWER: N_("not applicable")}


@dataclass(frozen=True)
class TestLine:
    """One line of the form's trail: a step's answer as given, or a repair, a refusal…"""

    procedure_id: str
    step_id: str
    title: str
    verdict: Verdict
    at: datetime
    run_id: uuid.UUID | None = None
    answer: str | None = None  # the answer as given, in words (是 / 否 / 不适用)
    readings: list[str] = field(default_factory=list)
    detail: str | None = None  # why it failed, the repair, the finding, the refusal reason
    note: str | None = None  # the technician's own note with the answer
    actor: str | None = None
    correction: Correction | None = None

    @property
    def passed(self) -> bool | None:
        """True/False for an answered test or check; None for every other line."""
        if self.verdict == Verdict.PASSED:
            return True
        if self.verdict == Verdict.FAILED:
            return False
        return None

    @property
    def repair(self) -> str | None:
        return self.detail if self.verdict == Verdict.REPAIRED else None


@dataclass(frozen=True)
class Correction:
    """An appended correction of an earlier answer (the original stays in the trail)."""

    original: str
    corrected: str
    reason: str
    actor: str
    at: datetime


@dataclass
class HandoverForm:
    visit_id: uuid.UUID
    visit_type: VisitType
    technician_id: str
    started_at: datetime
    closed_at: datetime | None
    outcome: VisitOutcome | None
    outcome_reason: str | None
    customer_no: str
    customer_name: str | None
    phone: str | None
    address: str
    meter_no: str | None
    seal_nos: list[str]
    meter_reading: float | None
    remaining_gas: float | None
    swaps: list[MeterSwap] = field(default_factory=list)
    tests: list[TestLine] = field(default_factory=list)
    hazards: list[Hazard] = field(default_factory=list)
    signer_name: str | None = None
    signed_at: datetime | None = None
    signature_png: bytes | None = None
    procedure_titles: dict[str, str] = field(default_factory=dict)


# The labels live beside the enums' users in one place (fieldkit.records.labels).
from fieldkit.records.labels import (  # noqa: E402
    LEVEL_LABELS,
    OUTCOME_LABELS,
    STATUS_LABELS,
    VISIT_TYPE_LABELS,
)


def _step_specs() -> dict[tuple[str, str], Any]:
    """(procedure id, step id) → the step's model, if the procedures load."""
    try:
        from fieldkit.procedures.library import load_procedures

        procedures, _problems = load_procedures()
    except Exception:  # the form still prints, with step ids for titles
        return {}
    return {
        (proc_id, step.id): step
        for proc_id, procedure in procedures.items()
        for step in getattr(procedure, "steps", [])
    }


def _procedure_titles() -> dict[str, str]:
    """Procedure id → its title in the current language, if the procedures load."""
    try:
        from fieldkit.i18n import pick
        from fieldkit.procedures.library import load_procedures

        procedures, _problems = load_procedures()
    except Exception:
        return {}
    return {proc_id: pick(p.title) for proc_id, p in procedures.items()}


def _reading(m: MeasurementInput) -> str:
    labels = {"start": _("start"), "end": _("end")}
    return f"{labels.get(m.quantity, m.quantity)} {m.value:g} {m.unit}"


def _answer_words(raw: Any) -> str:
    """An answer as the technician gave it, in words of the current language."""
    if isinstance(raw, bool):
        raw = "yes" if raw else "no"
    if isinstance(raw, str) and raw in ANSWER_LABELS:
        return _(ANSWER_LABELS[raw])
    if isinstance(raw, list):
        return ", ".join(str(x) for x in raw)
    if isinstance(raw, float | int):
        return f"{raw:g}"
    return str(raw)


def _reason(value: dict[str, Any]) -> str | None:
    """A gate's or refusal's reason ({zh, en}) in the current language."""
    from fieldkit.i18n import pick

    reason = value.get("reason")
    if isinstance(reason, dict):
        return pick(reason) or None
    return str(reason) if reason else None


def _failed_rules(value: dict[str, Any]) -> list[str]:
    out = []
    for rule in value.get("failed_rules") or []:
        if not isinstance(rule, dict):
            continue
        if rule.get("rule") == "no_drop":
            out.append(
                _("pressure drop {drop} {unit}").format(
                    drop=f"{float(rule.get('drop', 0)):g}", unit=rule.get("unit", "")
                )
            )
        elif rule.get("min") is not None and float(rule.get("value", 0)) < float(rule["min"]):
            out.append(
                _("{reading} reading {value} {unit} is below the minimum {min} {unit}").format(
                    reading=_(str(rule.get("reading", ""))),
                    value=f"{float(rule.get('value', 0)):g}",
                    min=f"{float(rule['min']):g}",
                    unit=rule.get("unit", ""),
                )
            )
        elif rule.get("max") is not None:
            out.append(
                _("{reading} reading {value} {unit} is above the maximum {max} {unit}").format(
                    reading=_(str(rule.get("reading", ""))),
                    value=f"{float(rule.get('value', 0)):g}",
                    max=f"{float(rule['max']):g}",
                    unit=rule.get("unit", ""),
                )
            )
    return out


def _captured(spec: Any, value: dict[str, Any]) -> list[str]:
    """A capture step's values with their labels and units, as written down."""
    from fieldkit.i18n import pick

    out = []
    for f in getattr(spec, "fields", []):
        if f.name not in value:
            continue
        text = _answer_words(value[f.name])
        if f.unit:
            text += f" {f.unit}"
        out.append(f"{pick(f.label)} {text}")
    return out


def _answer_text(value: Any, spec: Any) -> str:
    """An answer value ({"answer": …}, captured fields, a name…) in words."""
    if not isinstance(value, dict):
        return _answer_words(value)
    if "answer" in value:
        return _answer_words(value["answer"])
    if "customer_name" in value:
        return str(value["customer_name"])
    readings = [_reading(m) for m in measurements_from_value(value)]
    if readings:  # a measurement's readings (start, end, unit)
        return _("; ").join(readings)
    captured = _captured(spec, value)
    if captured:
        return _("; ").join(captured)
    if value.get("confirmed") is True:
        return _(VERDICT_LABELS[Verdict.DONE])
    return ", ".join(f"{k}={_answer_words(v)}" for k, v in value.items() if k != "note") or "—"


def _correction(row: Any, answers: dict[str, Any], spec: Any) -> Correction:
    """An appended correction: the answer it corrects (found by its event id), the new one,
    the reason, who and when."""
    value = row.value
    original = answers.get(str(value.get("corrects")))
    return Correction(
        original=_answer_text(original, spec) if original is not None else "—",
        corrected=_answer_text(value.get("value"), spec),
        reason=str(value.get("reason") or "—"),
        actor=row.actor,
        at=row.at,
    )


@dataclass(frozen=True)
class _Row:
    """A step event as the form reads it (a laptop ``StepResult`` or a pushed payload's)."""

    run_id: uuid.UUID
    step_id: str
    kind: str
    value: dict[str, Any]
    passed: bool | None
    at: datetime
    actor: str
    id: uuid.UUID | None = None  # the event id (a correction names the answer it corrects)


def _trail(rows: list[tuple[Any, str]], specs: dict[tuple[str, str], Any]) -> list[TestLine]:
    """The visit's step events as form lines, each answer as it was given."""
    from fieldkit.i18n import pick

    lines: list[TestLine] = []
    answers: dict[str, Any] = {}  # event id → the value answered (for corrections)
    for row, proc_id in rows:
        spec = specs.get((proc_id, row.step_id))
        title = pick(spec.title) if spec is not None else row.step_id
        kind = getattr(spec, "kind", None)
        value = row.value or {}
        note = value.get("note") if isinstance(value.get("note"), str) else None
        base = {
            "run_id": row.run_id,
            "procedure_id": proc_id,
            "step_id": row.step_id,
            "title": title,
            "at": row.at,
            "actor": row.actor,
        }
        if row.kind == "answered" and getattr(row, "id", None) is not None:
            answers[str(row.id)] = value
        if row.kind == "answered":
            readings = [_reading(m) for m in measurements_from_value(value)]
            answer: str | None = None
            if "answer" in value:
                answer = _answer_words(value["answer"])
            if value.get("answer") == NOT_APPLICABLE_ANSWER:
                verdict = Verdict.NOT_APPLICABLE
            elif kind == "capture":
                verdict = Verdict.RECORDED
                readings = _captured(spec, value)
            elif kind == "sign_off" or "customer_name" in value:
                verdict = Verdict.SIGNED
                answer = str(value.get("customer_name") or "") or None
            elif kind in ("instruction", "timer") or value.get("confirmed") is True:
                verdict = Verdict.DONE
            elif row.passed is False:
                verdict = Verdict.FAILED
            elif row.passed is True:
                verdict = Verdict.PASSED
            else:
                continue  # an answer with no result yet (cannot happen for a saved answer)
            lines.append(
                TestLine(**base, verdict=verdict, answer=answer, readings=readings, note=note)
            )
        elif row.kind == "gate_triggered":
            # Why the answer just above failed: folded into that line.
            why = [*_failed_rules(value)]
            reason = _reason(value)
            if reason and value.get("gate") != "refuse":
                why.append(reason)
            for i in range(len(lines) - 1, -1, -1):
                prev = lines[i]
                if prev.step_id == row.step_id and prev.verdict == Verdict.FAILED:
                    detail = "; ".join(why) or None
                    lines[i] = TestLine(**{**prev.__dict__, "detail": detail})
                    break
            if value.get("gate") == "stop":
                lines.append(TestLine(**base, verdict=Verdict.STOPPED, detail=reason))
        elif row.kind == "repair_recorded":
            lines.append(
                TestLine(
                    **base, verdict=Verdict.REPAIRED, detail=str(value.get("description") or "")
                )
            )
        elif row.kind == "refused":
            lines.append(
                TestLine(**base, verdict=Verdict.REFUSED, detail=_reason(value), note=note)
            )
        elif row.kind == "finding":
            text = value.get("text")
            lines.append(
                TestLine(
                    **base,
                    verdict=Verdict.FINDING,
                    detail=pick(text) if isinstance(text, dict) else (str(text) if text else None),
                )
            )
        elif row.kind == "satisfied_earlier":
            lines.append(TestLine(**base, verdict=Verdict.REUSED))
        elif row.kind == "not_applicable":
            lines.append(TestLine(**base, verdict=Verdict.SKIPPED))
        elif row.kind == "abandoned":
            lines.append(
                TestLine(
                    **{**base, "title": _("Procedure ended early")},
                    verdict=Verdict.ABANDONED,
                    detail=str(value.get("reason") or "") or None,
                )
            )
        elif row.kind in CORRECTION_KINDS:
            lines.append(
                TestLine(
                    **base, verdict=Verdict.CORRECTED, correction=_correction(row, answers, spec)
                )
            )
        elif row.kind == REFUSAL_CORRECTED:
            what, by = value.get("what"), value.get("by")
            detail = _("{what} (by {who})").format(what=what or "—", who=by or "—")
            lines.append(TestLine(**base, verdict=Verdict.PUT_RIGHT, detail=detail))
    return lines


# Kinds of step events that appear on the form (the rest — started, established, … — are
# bookkeeping the engine derives).
FORM_KINDS = (
    "answered",
    "gate_triggered",
    "repair_recorded",
    "refused",
    "finding",
    "satisfied_earlier",
    "not_applicable",
    "abandoned",
    REFUSAL_CORRECTED,
    *sorted(CORRECTION_KINDS),
)


def build_handover(database: Database, visit_id: uuid.UUID) -> HandoverForm:
    with database.session(readonly=True) as session:
        return _build(session, visit_id)


def _build(session: Session, visit_id: uuid.UUID) -> HandoverForm:
    visit = session.get(Visit, visit_id)
    if visit is None:
        raise NotFound(_("No {what} with id {id}").format(what=_("visit"), id=visit_id))
    customer = session.get(Customer, visit.customer_id)
    assert customer is not None
    form = HandoverForm(
        visit_id=visit.id,
        visit_type=visit.visit_type,
        technician_id=visit.technician_id,
        started_at=visit.started_at,
        closed_at=visit.closed_at,
        outcome=visit.outcome,
        outcome_reason=visit.outcome_reason,
        customer_no=customer.customer_no,
        customer_name=customer.name,
        phone=customer.phone,
        address=format_address(customer),
        meter_no=visit.meter_no,
        seal_nos=list(visit.seal_nos),
        meter_reading=visit.meter_reading,
        remaining_gas=visit.remaining_gas,
    )
    form.swaps = list(
        session.exec(
            select(MeterSwap)
            .where(MeterSwap.visit_id == visit_id)
            .order_by(col(MeterSwap.swapped_at))
        ).all()
    )
    rows = session.exec(
        select(StepResult, ProcedureRunRecord.procedure_id)
        .join(ProcedureRunRecord, col(ProcedureRunRecord.id) == col(StepResult.run_id))
        .where(ProcedureRunRecord.visit_id == visit_id, col(StepResult.kind).in_(FORM_KINDS))
        .order_by(col(ProcedureRunRecord.started_at), col(StepResult.run_id), col(StepResult.seq))
    ).all()
    specs = _step_specs()
    form.tests = _trail([(row, proc_id) for row, proc_id in rows], specs)
    form.procedure_titles = _procedure_titles()
    form.hazards = list(
        session.exec(
            select(Hazard).where(Hazard.visit_id == visit_id).order_by(col(Hazard.found_at))
        ).all()
    )
    signature = session.exec(
        select(CustomerSignature).where(CustomerSignature.visit_id == visit_id)
    ).first()
    if signature is not None:
        form.signer_name = signature.signer_name
        form.signed_at = signature.signed_at
        form.signature_png = signature.image_png
    return form


def handover_from_payload(payload: Any) -> HandoverForm:
    """The form of a pushed visit (a :class:`fieldkit.sync.schema.VisitPayload`), for the
    back office: the same form the laptop printed, built from what the laptop sent."""
    import base64

    c = payload.customer
    customer = Customer(
        customer_no=c.customer_no,
        name=c.name,
        phone=c.phone,
        community=c.address.community,
        building=c.address.building,
        unit=c.address.unit,
        floor=c.address.floor,
        room=c.address.room,
        address_detail=c.address.detail,
    )
    meter = payload.meter
    form = HandoverForm(
        visit_id=payload.visit_id,
        visit_type=VisitType(payload.visit_type),
        technician_id=payload.technician_id,
        started_at=payload.started_at,
        closed_at=payload.ended_at,
        outcome=VisitOutcome(payload.outcome),
        outcome_reason=payload.outcome_reason,
        customer_no=c.customer_no,
        customer_name=c.name,
        phone=c.phone,
        address=format_address(customer),
        meter_no=meter.meter_no if meter else None,
        seal_nos=list(meter.seal_nos) if meter else [],
        meter_reading=meter.reading if meter else None,
        remaining_gas=meter.remaining_gas if meter else None,
    )
    form.swaps = [
        MeterSwap(
            id=s.swap_id,
            visit_id=payload.visit_id,
            old_meter_no=s.old_meter_no,
            new_meter_no=s.new_meter_no,
            seal_nos=list(s.seal_nos),
            old_meter_reading=s.old_meter_reading,
            gas_used=s.gas_used,
            gas_remaining=s.gas_remaining,
            swapped_at=s.swapped_at,
            reason=s.reason,
        )
        for s in sorted(payload.meter_swaps, key=lambda s: s.swapped_at)
    ]
    rows = [
        (
            _Row(
                run.run_id, s.step_id, s.kind, dict(s.value), s.passed, s.at, s.actor, s.result_id
            ),
            run.procedure_id,
        )
        for run in sorted(payload.procedure_runs, key=lambda r: r.started_at)
        for s in run.steps
        if s.kind in FORM_KINDS
    ]
    form.tests = _trail(rows, _step_specs())
    form.procedure_titles = _procedure_titles()
    form.hazards = [
        Hazard(
            id=h.hazard_id,
            visit_id=payload.visit_id,
            description=h.description,
            level=HazardLevel(h.level),
            status=HazardStatus(h.status),
            found_at=h.found_at,
            deadline=h.deadline,
            basis=h.basis,
        )
        for h in sorted(payload.hazards, key=lambda h: h.found_at)
    ]
    if payload.signature is not None:
        form.signer_name = payload.signature.signer_name
        form.signed_at = payload.signature.signed_at
        if payload.signature.image_png_base64:
            form.signature_png = base64.b64decode(payload.signature.image_png_base64)
    return form


def _fmt_time(value: datetime | None, tz: tzinfo | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def _volume(value: float | None) -> str:
    """A meter reading or gas quantity with its unit (m³); a dash when not recorded."""
    return "—" if value is None else f"{value:g} {VOLUME_UNIT}"


def trail_line(t: TestLine, tz: tzinfo | None = None) -> str:
    """One trail line: ``[不适用] 报警器与电磁阀切断测试 — 回答：不适用``."""
    verdict = _(VERDICT_LABELS[t.verdict])
    line = f"[{verdict}] {t.title}"
    parts = []
    if t.answer is not None and t.verdict != Verdict.SIGNED:
        parts.append(_("answer: {answer}").format(answer=t.answer))
    elif t.answer is not None:
        parts.append(t.answer)
    parts.extend(t.readings)
    if t.detail:
        parts.append(t.detail)
    if t.correction is not None:
        c = t.correction
        parts.append(
            _("was: {original}; now: {corrected}; reason: {reason}; by {actor}, {time}").format(
                original=c.original,
                corrected=c.corrected,
                reason=c.reason,
                actor=c.actor,
                time=_fmt_time(c.at, tz),
            )
        )
    if t.note:
        parts.append(_("note: {note}").format(note=t.note))
    if parts:
        # TRANSLATORS: the separator between the parts of one line of the handover trail.
        line += " — " + _("; ").join(parts)
    return line


def _star(label: str) -> str:
    return label + UTILITY_MARK


def handover_sections(form: HandoverForm, tz: tzinfo | None = None) -> list[tuple[str, list[str]]]:
    """The form as (heading, lines) sections, in the current language.

    Fields the manual does not list for the form (its 通气点火 item 7 only says to fill in
    the 设施交接单) carry :data:`UTILITY_MARK` and a footnote: they are the utility's own.
    """
    dash = "—"
    visit_lines = [
        _("Visit: {id}").format(id=form.visit_id),
        _("Type: {type}").format(type=_(VISIT_TYPE_LABELS[form.visit_type])),
        _("Date: {time}").format(time=_fmt_time(form.started_at, tz)),
        _("Technician: {id}").format(id=form.technician_id),
    ]
    if form.outcome is not None:
        outcome = _(OUTCOME_LABELS[form.outcome])
        if form.outcome_reason:
            outcome += f" ({form.outcome_reason})"
        visit_lines.append(_("Outcome: {outcome}").format(outcome=outcome))
    sections: list[tuple[str, list[str]]] = [
        (_("Visit"), visit_lines),
        (
            _("Customer"),
            [
                _("Customer no.: {no}").format(no=form.customer_no),
                _("Name: {name}").format(name=form.customer_name or dash),
                _("Phone: {phone}").format(phone=form.phone or dash),
                _("Address: {address}").format(address=form.address or dash),
            ],
        ),
        (
            _("Meter"),
            [
                _("{label}: {value}").format(
                    label=_star(_("Meter no.")), value=form.meter_no or dash
                ),
                _("{label}: {value}").format(
                    label=_star(_("Seal no(s).")), value=", ".join(form.seal_nos) or dash
                ),
                _("{label}: {value}").format(
                    label=_star(_("Meter reading")), value=_volume(form.meter_reading)
                ),
                _("{label}: {value}").format(
                    label=_star(_("Remaining gas")), value=_volume(form.remaining_gas)
                ),
            ],
        ),
    ]
    if form.swaps:
        sections.append(
            (
                _("Meter replaced"),
                [
                    _(
                        "{date}: old meter {old}, final reading {reading}; → new meter {new}; "
                        "seal no(s). {seals}; gas used {used}; gas remaining {left}; reason: {reason}"
                    ).format(
                        date=_fmt_time(s.swapped_at, tz),
                        old=s.old_meter_no or dash,
                        reading=_volume(s.old_meter_reading),
                        new=s.new_meter_no,
                        seals=", ".join(s.seal_nos) or dash,
                        used=_volume(s.gas_used),
                        left=_volume(s.gas_remaining),
                        reason=s.reason or dash,
                    )
                    for s in form.swaps
                ],
            )
        )
    test_lines = []
    run: uuid.UUID | None = None
    for t in form.tests:
        if t.run_id != run:
            run = t.run_id
            name = form.procedure_titles.get(t.procedure_id, t.procedure_id)
            test_lines.append(_("Procedure: {procedure}").format(procedure=name))
        test_lines.append(trail_line(t, tz))
    sections.append((_("Checks and tests"), test_lines or [_("none recorded")]))
    sections.append(
        (
            _("Hazards"),
            [
                _("[{level}] {description} — {status}{deadline}").format(
                    level=_(LEVEL_LABELS[h.level]),
                    description=h.description,
                    status=_(STATUS_LABELS[h.status]),
                    deadline=(
                        _(", fix by {date}").format(date=h.deadline.isoformat())
                        if h.deadline
                        else ""
                    ),
                )
                for h in form.hazards
            ]
            or [_("none found")],
        )
    )
    if form.signer_name:
        signature = _("Customer signature: {name}   {time}").format(
            name=form.signer_name, time=_fmt_time(form.signed_at, tz)
        )
    else:
        signature = _("Customer signature: ____________   Date: ____________")
    sections.append((_("Signature"), [signature]))
    sections.append(
        (
            _("About this form"),
            [
                _(
                    "{mark} Not listed by the manual (its 通气点火 item 7 only says to fill in "
                    "the handover form): recorded by the utility's own rule."
                ).format(mark=UTILITY_MARK)
            ],
        )
    )
    return sections


def handover_text(form: HandoverForm, tz: tzinfo | None = None) -> str:
    lines = [_("Gas facility handover form"), "=" * 24]
    for heading, body in handover_sections(form, tz):
        lines.append("")
        lines.append(f"{heading}")
        lines.extend(f"  {line}" for line in body)
    return "\n".join(lines) + "\n"


def handover_html(form: HandoverForm, tz: tzinfo | None = None) -> str:
    title = html.escape(_("Gas facility handover form"))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{title}</title>",
        "<style>body{font-family:sans-serif;max-width:42em;margin:2em auto}"
        "h2{border-bottom:1px solid #888}li{margin:.2em 0}</style>",
        f"</head><body><h1>{title}</h1>",
    ]
    for heading, body in handover_sections(form, tz):
        parts.append(f"<h2>{html.escape(heading)}</h2><ul>")
        parts.extend(f"<li>{html.escape(line)}</li>" for line in body)
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
