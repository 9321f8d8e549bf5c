"""Customers and visits: starting, the meter at the site, swaps, the signature, device
readings and closing (one transaction with the follow-up and the outbox row).

Session-taking functions called by :class:`fieldkit.records.repo.VisitRepository` inside
its transaction; none of them commits. A closed visit is final: every function that would
change it raises :class:`~fieldkit.records.errors.VisitClosed`.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func
from sqlmodel import Session, col, or_, select

from fieldkit.i18n import _, get_language
from fieldkit.procedures.engine import RunStatus
from fieldkit.records.address import format_address
from fieldkit.records.closing import (
    MSG_NOT_ALLOWED,
    ClosingRules,
    bilingual,
    closing_rules,
    outcome_text,
    with_refusal_reason,
)
from fieldkit.records.errors import (
    MAX_LONG_TEXT,
    MAX_SHORT_TEXT,
    PayloadTooLarge,
    RecordsError,
    aware,
    checked_text,
    get_row,
    open_visit,
)
from fieldkit.records.models import (
    Customer,
    CustomerSignature,
    DeviceKind,
    DeviceReading,
    FollowUp,
    MeterSwap,
    OutboxItem,
    OutboxState,
    ProcedureRunRecord,
    StepResult,
    Visit,
    VisitOutcome,
    VisitType,
    WorkOrder,
    WorkOrderStatus,
)
from fieldkit.records.queries import FINISHED_RUN_STATUSES, runs_of_visit
from fieldkit.textmodel import Text

FOLLOW_UP_DAYS = 3  # the follow-up call is due within 3 days of the visit (MANUAL-MAP §5)
MAX_SEALS = 20  # = fieldkit.sync.schema.MAX_SEALS (checked by tests/records/test_close.py)
# Status given to runs still open when their visit is closed.
CLOSED_WITH_VISIT = RunStatus.ABANDONED.value


class OutcomeNotAllowed(RecordsError):
    """The visit's runs do not allow this outcome (see :mod:`fieldkit.records.closing`).

    ``text`` is the message in Chinese and English; ``str(error)`` is in the current
    language. ``rules.allowed`` lists the outcomes that are allowed now.
    """

    def __init__(self, outcome: VisitOutcome, rules: ClosingRules):
        self.outcome = outcome
        self.rules = rules
        self.text: Text = bilingual(
            MSG_NOT_ALLOWED,
            outcome=outcome_text(outcome),
            why=rules.why or Text(zh="-", en="-"),
        )
        super().__init__(self.text.get(get_language()))

    @property
    def allowed(self) -> tuple[VisitOutcome, ...]:
        return self.rules.allowed


@dataclass(frozen=True)
class VisitSummary:
    visit_id: uuid.UUID
    customer_no: str
    customer_name: str | None
    address: str
    visit_type: VisitType
    technician_id: str
    started_at: datetime
    closed_at: datetime | None
    outcome: VisitOutcome | None
    steps_saved: int
    outbox_state: OutboxState | None


def clean_seals(seal_nos: Sequence[str]) -> list[str]:
    """The seal numbers given (blank ones dropped), at most :data:`MAX_SEALS`."""
    seals = [s for s in (x.strip() for x in seal_nos) if s]
    if len(seals) > MAX_SEALS:
        raise PayloadTooLarge(_("At most {n} seal numbers").format(n=MAX_SEALS))
    for seal in seals:
        checked_text("seal number", seal)
    return seals


# ---------------------------------------------------------------- customers


def upsert_customer(
    session: Session, customer_no: str, fields: dict[str, str | None], *, now: datetime
) -> Customer:
    """Create the customer with this 户号, or update the fields given (not None)."""
    customer_no = customer_no.strip()
    if not customer_no:
        raise RecordsError(_("A customer number (户号) is required"))
    checked_text("customer number", customer_no)
    for key, value in fields.items():
        limit = MAX_LONG_TEXT if key == "address_detail" else MAX_SHORT_TEXT
        checked_text("customer details", value, limit)
    customer = session.exec(select(Customer).where(Customer.customer_no == customer_no)).first()
    if customer is None:
        customer = Customer(customer_no=customer_no, created_at=now, updated_at=now)
    changed = False
    for key, value in fields.items():
        if value is not None and getattr(customer, key) != value:
            setattr(customer, key, value)
            changed = True
    if changed:
        customer.updated_at = now
    session.add(customer)
    session.flush()
    return customer


def find_customers(session: Session, query: str, limit: int) -> list[Customer]:
    """Customers whose 户号, name, phone or address contains ``query``."""
    escaped = query.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    rows = session.exec(
        select(Customer)
        .where(
            or_(
                col(Customer.customer_no).like(pattern, escape="\\"),
                col(Customer.name).like(pattern, escape="\\"),
                col(Customer.phone).like(pattern, escape="\\"),
                col(Customer.community).like(pattern, escape="\\"),
                col(Customer.address_detail).like(pattern, escape="\\"),
            )
        )
        .order_by(col(Customer.customer_no))
        .limit(limit)
    ).all()
    return list(rows)


# ------------------------------------------------------------------- visits


def start_visit(
    session: Session,
    *,
    customer_id: uuid.UUID,
    technician_id: str,
    visit_type: VisitType | str,
    now: datetime,
    work_order_id: uuid.UUID | None = None,
    visit_id: uuid.UUID | None = None,
    started_at: datetime | None = None,
) -> Visit:
    if not technician_id.strip():
        raise RecordsError(_("A technician id (工号) is required to start a visit"))
    get_row(session, Customer, customer_id, _("customer"))
    if work_order_id is not None:
        order: WorkOrder = get_row(session, WorkOrder, work_order_id, _("work order"))
        if order.status == WorkOrderStatus.CANCELLED:
            raise RecordsError(
                _("Work order {no} was cancelled by the back office").format(no=order.order_no)
            )
    visit = Visit(
        id=visit_id or uuid.uuid4(),
        work_order_id=work_order_id,
        customer_id=customer_id,
        technician_id=technician_id,
        visit_type=VisitType(visit_type),
        started_at=aware(started_at) if started_at else now,
        updated_at=now,
    )
    session.add(visit)
    return visit


MAX_METER_VOLUME = 99_999_999.0
"""The largest volume (m³) a reading, a swap's volumes or remaining gas may hold: the
widest counter a gas meter or flow meter has, with room to spare."""


def checked_volume(label: str, value: float | None) -> float | None:
    """``value`` as a float when it is a finite volume from 0 to MAX_METER_VOLUME m³;
    ``label`` is the field's msgid. "nan" was stored as nothing, "inf" saved but then
    kept the visit from closing, a negative reading was taken as typed."""
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number) or not 0 <= number <= MAX_METER_VOLUME:
        raise RecordsError(
            _("{field} must be a number from 0 to {max} m³").format(
                field=_(label), max=f"{MAX_METER_VOLUME:,.0f}"
            )
        )
    return number


def update_meter(
    session: Session,
    visit_id: uuid.UUID,
    *,
    now: datetime,
    meter_no: str | None = None,
    seal_nos: Sequence[str] | None = None,
    meter_reading: float | None = None,
    remaining_gas: float | None = None,
) -> Visit:
    """Record the meter at this site (表钢号, 表封号/铅封号, 表底数, remaining gas)."""
    checked_text("meter number", meter_no)
    meter_reading = checked_volume("meter reading", meter_reading)
    remaining_gas = checked_volume("remaining gas", remaining_gas)
    visit = open_visit(session, visit_id)
    if meter_no is not None:
        visit.meter_no = meter_no
    if seal_nos is not None:
        visit.seal_nos = clean_seals(seal_nos)
    if meter_reading is not None:
        visit.meter_reading = meter_reading
    if remaining_gas is not None:
        visit.remaining_gas = remaining_gas
    visit.updated_at = now
    session.add(visit)
    return visit


def set_notes(session: Session, visit_id: uuid.UUID, notes: str | None, *, now: datetime) -> Visit:
    visit = open_visit(session, visit_id)
    visit.notes = notes
    visit.updated_at = now
    session.add(visit)
    return visit


def summaries(session: Session, visits: Iterable[Visit]) -> list[VisitSummary]:
    out = []
    for visit in visits:
        customer: Customer = get_row(session, Customer, visit.customer_id, _("customer"))
        steps = session.exec(
            select(func.count())
            .select_from(StepResult)
            .join(ProcedureRunRecord, col(ProcedureRunRecord.id) == col(StepResult.run_id))
            .where(ProcedureRunRecord.visit_id == visit.id)
        ).one()
        outbox = session.exec(
            select(OutboxItem.state).where(OutboxItem.visit_id == visit.id)
        ).first()
        out.append(
            VisitSummary(
                visit_id=visit.id,
                customer_no=customer.customer_no,
                customer_name=customer.name,
                address=format_address(customer),
                visit_type=visit.visit_type,
                technician_id=visit.technician_id,
                started_at=visit.started_at,
                closed_at=visit.closed_at,
                outcome=visit.outcome,
                steps_saved=int(steps),
                outbox_state=OutboxState(outbox) if outbox is not None else None,
            )
        )
    return out


def list_visits(session: Session, *, open_only: bool, limit: int) -> list[VisitSummary]:
    """Visits, newest first."""
    query = select(Visit)
    if open_only:
        query = query.where(col(Visit.closed_at).is_(None))
    query = query.order_by(col(Visit.started_at).desc()).limit(limit)
    return summaries(session, session.exec(query).all())


# --------------------------------------------------- swaps, signature, devices


def record_meter_swap(
    session: Session,
    visit_id: uuid.UUID,
    *,
    now: datetime,
    old_meter_no: str,
    new_meter_no: str,
    seal_nos: Sequence[str],
    old_meter_reading: float | None = None,
    gas_used: float | None = None,
    gas_remaining: float | None = None,
    swapped_at: datetime | None = None,
    reason: str | None = None,
    swap_id: uuid.UUID | None = None,
) -> MeterSwap:
    """Record a meter replacement: the manual's 前锋 swap asks for the new meter no.,
    seal no., gas used, gas remaining and the date (前锋智能燃气表常见故障 1 ⑤).
    The visit's current meter becomes the new one."""
    new_meter_no = new_meter_no.strip()
    seals = clean_seals(seal_nos)
    if not new_meter_no:
        raise RecordsError(_("The new meter number is required"))
    if not seals:
        raise RecordsError(_("At least one seal number (表封号/铅封号) is required"))
    checked_text("meter number", old_meter_no.strip())
    checked_text("meter number", new_meter_no)
    checked_text("reason", reason, MAX_LONG_TEXT)
    old_meter_reading = checked_volume("old meter reading", old_meter_reading)
    gas_used = checked_volume("gas used", gas_used)
    gas_remaining = checked_volume("gas remaining", gas_remaining)
    visit = open_visit(session, visit_id)
    swap = MeterSwap(
        id=swap_id or uuid.uuid4(),
        visit_id=visit_id,
        old_meter_no=old_meter_no.strip(),
        new_meter_no=new_meter_no,
        seal_nos=seals,
        old_meter_reading=old_meter_reading,
        gas_used=gas_used,
        gas_remaining=gas_remaining,
        swapped_at=aware(swapped_at) if swapped_at else now,
        reason=reason,
    )
    session.add(swap)
    visit.meter_no = new_meter_no
    visit.seal_nos = seals
    if gas_remaining is not None:
        visit.remaining_gas = gas_remaining
    visit.updated_at = now
    session.add(visit)
    return swap


def meter_swaps(session: Session, visit_id: uuid.UUID) -> list[MeterSwap]:
    """The meter swaps recorded in this visit, oldest first."""
    get_row(session, Visit, visit_id, _("visit"))
    return list(
        session.exec(
            select(MeterSwap)
            .where(MeterSwap.visit_id == visit_id)
            .order_by(col(MeterSwap.swapped_at))
        ).all()
    )


def sign(
    session: Session,
    visit_id: uuid.UUID,
    signer_name: str,
    *,
    now: datetime,
    image_png: bytes | None = None,
    signed_at: datetime | None = None,
) -> CustomerSignature:
    """The customer signs the handover form (name and time; a drawn image optional).
    Signing again before the visit is closed replaces the earlier signature."""
    signer_name = signer_name.strip()
    if not signer_name:
        raise RecordsError(_("The customer's name is required to sign"))
    if image_png is not None and not image_png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise RecordsError(_("The signature image is not a PNG file"))
    open_visit(session, visit_id)
    signature = session.exec(
        select(CustomerSignature).where(CustomerSignature.visit_id == visit_id)
    ).first()
    if signature is None:
        signature = CustomerSignature(visit_id=visit_id, signer_name=signer_name)
    signature.signer_name = signer_name
    signature.signed_at = aware(signed_at) if signed_at else now
    signature.image_png = image_png
    session.add(signature)
    return signature


def attach_device_reading(
    session: Session,
    visit_id: uuid.UUID,
    *,
    now: datetime,
    kind: DeviceKind | str,
    raw: bytes | str,
    decoded: dict[str, Any],
    diagnosis: Sequence[dict[str, Any]] = (),
    port: str | None = None,
    read_at: datetime | None = None,
    reading_id: uuid.UUID | None = None,
) -> DeviceReading:
    """Keep what a meter or IC card said (raw bytes as hex beside the decoded fields)."""
    raw_hex = raw.hex() if isinstance(raw, bytes | bytearray) else str(raw)
    try:
        bytes.fromhex(raw_hex)
    except ValueError as exc:
        raise RecordsError(_("The raw device data is not hexadecimal")) from exc
    open_visit(session, visit_id)
    reading = DeviceReading(
        id=reading_id or uuid.uuid4(),
        visit_id=visit_id,
        kind=DeviceKind(kind),
        port=port,
        raw_hex=raw_hex.lower(),
        decoded=dict(decoded),
        diagnosis=[dict(d) for d in diagnosis],
        read_at=aware(read_at) if read_at else now,
    )
    session.add(reading)
    return reading


# -------------------------------------------------------------------- close


def close_visit(
    session: Session,
    visit_id: uuid.UUID,
    outcome: VisitOutcome | str,
    reason: str | None,
    *,
    now: datetime,
    local_tz: tzinfo,
    ended_at: datetime | None = None,
) -> OutboxItem:
    """Close the visit (see :meth:`fieldkit.records.repo.VisitRepository.close_visit`)."""
    from fieldkit.records.export import visit_payload
    from fieldkit.sync.schema import content_hash

    outcome = VisitOutcome(outcome)
    reason = checked_text("reason", reason.strip() if reason else None, MAX_LONG_TEXT)
    visit = open_visit(session, visit_id)
    rules = closing_rules(session, visit)
    if not rules.allows(outcome):
        raise OutcomeNotAllowed(outcome, rules)
    if rules.refusal_reason is not None:
        reason = with_refusal_reason(reason, rules.refusal_reason)
    if outcome != VisitOutcome.COMPLETED and not reason:
        raise RecordsError(
            _("A reason is required when a visit ends as {outcome}").format(outcome=outcome.value)
        )
    visit.ended_at = aware(ended_at) if ended_at else now
    visit.closed_at = now
    visit.outcome = outcome
    visit.outcome_reason = reason
    visit.updated_at = now
    session.add(visit)
    for run in runs_of_visit(session, visit_id):
        if run.status not in FINISHED_RUN_STATUSES:
            run.status = CLOSED_WITH_VISIT
            run.ended_at = now
            session.add(run)
    visit_day = visit.started_at.astimezone(local_tz).date()
    session.add(FollowUp(visit_id=visit_id, due_date=visit_day + timedelta(days=FOLLOW_UP_DAYS)))
    session.flush()
    try:
        payload = visit_payload(session, visit_id)
    except ValidationError as exc:  # e.g. a list over the schema's size limits
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise PayloadTooLarge(
            _("The visit cannot be closed: {problems}").format(problems=problems)
        ) from exc
    item = OutboxItem(
        visit_id=visit_id,
        payload=payload.model_dump(mode="json"),
        content_hash=content_hash(payload),
        state=OutboxState.PENDING,
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    if visit.work_order_id is not None:
        order = session.get(WorkOrder, visit.work_order_id)
        if order is not None and order.status == WorkOrderStatus.OPEN:
            order.status = WorkOrderStatus.DONE
            order.updated_at = now
            session.add(order)
    return item


def follow_up(session: Session, visit_id: uuid.UUID) -> FollowUp | None:
    return session.exec(select(FollowUp).where(FollowUp.visit_id == visit_id)).first()


def follow_ups_due(session: Session, on_or_before: date) -> list[FollowUp]:
    return list(
        session.exec(
            select(FollowUp)
            .where(col(FollowUp.done_at).is_(None), FollowUp.due_date <= on_or_before)
            .order_by(col(FollowUp.due_date))
        ).all()
    )
