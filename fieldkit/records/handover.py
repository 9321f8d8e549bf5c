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

from sqlmodel import Session, col, or_, select

from fieldkit.i18n import _
from fieldkit.records.db import Database
from fieldkit.records.models import (
    Customer,
    CustomerSignature,
    Hazard,
    MeterSwap,
    ProcedureRunRecord,
    StepResult,
    Visit,
    VisitOutcome,
    VisitType,
)
from fieldkit.records.repo import (
    MeasurementInput,
    NotFound,
    format_address,
    measurements_from_value,
)


@dataclass(frozen=True)
class TestLine:
    procedure_id: str
    step_id: str
    title: str
    passed: bool | None  # None: a repair recorded after a failed test
    readings: list[str]
    at: datetime
    repair: str | None = None


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


# The labels live beside the enums' users in one place (fieldkit.records.labels).
from fieldkit.records.labels import (  # noqa: E402
    LEVEL_LABELS,
    OUTCOME_LABELS,
    STATUS_LABELS,
    VISIT_TYPE_LABELS,
)


def _step_titles() -> dict[tuple[str, str], str]:
    """(procedure id, step id) → title in the current language, if procedures load."""
    try:
        from fieldkit.i18n import pick
        from fieldkit.procedures.library import load_procedures

        procedures, _problems = load_procedures()
    except Exception:  # the form still prints with step ids
        return {}
    titles: dict[tuple[str, str], str] = {}
    for proc_id, procedure in procedures.items():
        for step in getattr(procedure, "steps", []):
            titles[(proc_id, step.id)] = pick(step.title)
    return titles


def _reading(m: MeasurementInput) -> str:
    labels = {"start": _("start"), "end": _("end")}
    return f"{labels.get(m.quantity, m.quantity)} {m.value:g} {m.unit}"


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
    titles = _step_titles()
    rows = session.exec(
        select(StepResult, ProcedureRunRecord)
        .join(ProcedureRunRecord, col(ProcedureRunRecord.id) == col(StepResult.run_id))
        .where(
            ProcedureRunRecord.visit_id == visit_id,
            or_(
                col(StepResult.passed).is_not(None) & (StepResult.kind == "answered"),
                StepResult.kind == "repair_recorded",
            ),
        )
        .order_by(col(ProcedureRunRecord.started_at), col(StepResult.seq))
    ).all()
    for step, run in rows:
        if step.kind == "repair_recorded":
            form.tests.append(
                TestLine(
                    procedure_id=run.procedure_id,
                    step_id=step.step_id,
                    title=titles.get((run.procedure_id, step.step_id), step.step_id),
                    passed=None,
                    readings=[],
                    at=step.at,
                    repair=str(step.value.get("description") or ""),
                )
            )
            continue
        form.tests.append(
            TestLine(
                procedure_id=run.procedure_id,
                step_id=step.step_id,
                title=titles.get((run.procedure_id, step.step_id), step.step_id),
                passed=bool(step.passed),
                readings=[_reading(m) for m in measurements_from_value(step.value)],
                at=step.at,
            )
        )
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
    return form


def _fmt_time(value: datetime | None, tz: tzinfo | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def handover_sections(form: HandoverForm, tz: tzinfo | None = None) -> list[tuple[str, list[str]]]:
    """The form as (heading, lines) sections, in the current language."""
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
                _("Meter no.: {no}").format(no=form.meter_no or dash),
                _("Seal no(s).: {seals}").format(seals=", ".join(form.seal_nos) or dash),
                _("Meter reading: {value}").format(value=_num(form.meter_reading)),
                _("Remaining gas: {value}").format(value=_num(form.remaining_gas)),
            ],
        ),
    ]
    if form.swaps:
        sections.append(
            (
                _("Meter replaced"),
                [
                    _(
                        "{date}: old meter {old} → new meter {new}; seal no(s). {seals}; "
                        "gas used {used}; gas remaining {left}"
                    ).format(
                        date=_fmt_time(s.swapped_at, tz),
                        old=s.old_meter_no or dash,
                        new=s.new_meter_no,
                        seals=", ".join(s.seal_nos),
                        used=_num(s.gas_used),
                        left=_num(s.gas_remaining),
                    )
                    for s in form.swaps
                ],
            )
        )
    test_lines = []
    for t in form.tests:
        if t.repair is not None:
            test_lines.append(
                _("[repaired] {title}: {repair}").format(title=t.title, repair=t.repair)
            )
            continue
        verdict = _("passed") if t.passed else _("failed")
        line = f"[{verdict}] {t.title}"
        if t.readings:
            line += " — " + "; ".join(t.readings)
        test_lines.append(line)
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
