"""The visit-records service API: what the TUI, the CLI and the sync client call.

Every public method is one transaction: when it returns, the change has been committed
(``synchronous=FULL``: it is on disk). Nothing here imports Textual or FastAPI.

A closed visit is final: every method that would change it raises :class:`VisitClosed`.
A correction is a new visit (a new version), never an edit of the signed record.

Typical use::

    repo = VisitRepository(open_database())
    customer = repo.upsert_customer("0012345", name="张三", community="幸福小区", building="3")
    visit = repo.start_visit(customer_id=customer.id, technician_id="T001",
                             visit_type=VisitType.IGNITION)
    run = repo.start_run(visit.id, procedure_id="ignition", procedure_version=1, actor="T001")
    for event in engine_run.answer(step_id, value):
        repo.record_event(visit.id, run.id, event)       # durable before it returns
    ...
    repo.close_visit(visit.id, VisitOutcome.COMPLETED)   # follow-up + outbox row, one commit
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError
from sqlalchemy import func
from sqlmodel import Session, col, or_, select

from fieldkit.i18n import _, get_language
from fieldkit.records import outbox, work_orders
from fieldkit.records.closing import (
    MSG_NOT_ALLOWED,
    ClosingRules,
    bilingual,
    closing_rules,
    outcome_text,
    with_refusal_reason,
)
from fieldkit.records.db import Database
from fieldkit.records.models import (
    Customer,
    CustomerSignature,
    DeviceKind,
    DeviceReading,
    FollowUp,
    Hazard,
    HazardLevel,
    HazardStatus,
    HazardStatusChange,
    Measurement,
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
    utcnow,
)
from fieldkit.records.queries import runs_of_visit, trail_of_run
from fieldkit.records.work_orders import WorkOrderSyncResult
from fieldkit.textmodel import Text

if TYPE_CHECKING:  # pragma: no cover
    from fieldkit.sync.schema import WorkOrderPayload

FOLLOW_UP_DAYS = 3  # the follow-up call is due within 3 days of the visit (MANUAL-MAP §5)

# Run statuses that end a run (the engine's RunStatus values; "stopped" and
# "awaiting_repair" are gates that hold a run, not ends).
FINISHED_RUN_STATUSES = frozenset({"completed", "refused", "abandoned"})
# Event kinds that end a run, and the run status they imply.
_TERMINAL_KINDS = {"completed": "completed", "refused": "refused", "abandoned": "abandoned"}
# Status given to runs still open when their visit is closed.
CLOSED_WITH_VISIT = "abandoned"


_HAZARD_NEXT = {
    HazardStatus.PENDING: HazardStatus.RECHECKING,
    HazardStatus.RECHECKING: HazardStatus.FIXED,
}


class RecordsError(Exception):
    """Base of the errors this module raises; the message is for the technician."""


class NotFound(RecordsError):
    pass


class VisitClosed(RecordsError):
    """The visit is closed (final); a correction is a new visit."""


class InvalidHazardTransition(RecordsError):
    """Hazard status only moves forward: 待整改 → 复查中 → 已整改."""


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


class PayloadTooLarge(RecordsError):
    """A value exceeds a size limit of the wire schema (the back office would refuse it)."""


class EventConflict(RecordsError):
    """An event id already saved with different content, or an event for another run."""


class StepEventLike(Protocol):
    """The fields of :class:`fieldkit.procedures.engine.StepEvent` this module stores."""

    @property
    def event_id(self) -> uuid.UUID: ...
    @property
    def run_id(self) -> uuid.UUID: ...
    @property
    def step_id(self) -> str: ...
    @property
    def kind(self) -> Any: ...
    @property
    def value(self) -> dict[str, Any]: ...
    @property
    def passed(self) -> bool | None: ...
    @property
    def at(self) -> datetime: ...
    @property
    def actor(self) -> str: ...


@dataclass(frozen=True)
class MeasurementInput:
    """A numeric reading to store beside a step result."""

    quantity: str
    value: float
    unit: str


def measurements_from_value(value: dict[str, Any]) -> list[MeasurementInput]:
    """Numeric readings inside a step value, so they can be queried as measurements.

    A value carrying a ``unit`` (a measurement step: ``{"unit": "kPa", "start": 5.2,
    "end": 5.2, …}``) yields one measurement per numeric field, in that unit; a
    ``measurements`` list of ``{"quantity", "value", "unit"}`` objects is taken as is.
    Anything else yields nothing (checks, captures, confirmations).
    """
    found: list[MeasurementInput] = []
    explicit = value.get("measurements")
    if isinstance(explicit, list):
        for item in explicit:
            if (
                isinstance(item, dict)
                and isinstance(item.get("quantity"), str)
                and isinstance(item.get("unit"), str)
                and _is_number(item.get("value"))
            ):
                found.append(MeasurementInput(item["quantity"], float(item["value"]), item["unit"]))
        return found
    unit = value.get("unit")
    if isinstance(unit, str) and unit:
        for key, reading in value.items():
            if key != "unit" and _is_number(reading):
                found.append(MeasurementInput(str(key), float(reading), unit))
    return found


MAX_SEALS = 20  # = fieldkit.sync.schema.MAX_SEALS (checked by tests/records/test_close.py)
MAX_STEP_VALUE_CHARS = 20_000  # = fieldkit.sync.schema.MAX_JSON_OBJECT


def _seals(seal_nos: Sequence[str]) -> list[str]:
    seals = [s for s in (x.strip() for x in seal_nos) if s]
    if len(seals) > MAX_SEALS:
        raise PayloadTooLarge(_("At most {n} seal numbers").format(n=MAX_SEALS))
    return seals


def _check_value_size(value: dict[str, Any]) -> None:
    size = len(json.dumps(value, ensure_ascii=False, default=str))
    if size > MAX_STEP_VALUE_CHARS:
        raise PayloadTooLarge(
            _("A step value of {size} characters is too large (at most {limit})").format(
                size=size, limit=MAX_STEP_VALUE_CHARS
            )
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kind(kind: Any) -> str:
    return str(getattr(kind, "value", kind))


@dataclass(frozen=True)
class StoredEvent:
    """A step result as saved (the engine's StepEvent fields plus its position)."""

    event_id: uuid.UUID
    run_id: uuid.UUID
    seq: int
    step_id: str
    kind: str
    value: dict[str, Any]
    passed: bool | None
    at: datetime
    actor: str

    def as_dict(self) -> dict[str, Any]:
        """The StepEvent fields, ready for ``StepEvent.model_validate``."""
        return {
            "event_id": self.event_id,
            "run_id": self.run_id,
            "step_id": self.step_id,
            "kind": self.kind,
            "value": self.value,
            "passed": self.passed,
            "at": self.at,
            "actor": self.actor,
        }

    def to_step_event(self) -> Any:
        """The procedure engine's ``StepEvent`` (imported lazily)."""
        from fieldkit.procedures.engine import StepEvent

        return StepEvent.model_validate(self.as_dict())


@dataclass(frozen=True)
class RunResume:
    """One procedure run of a visit, with its saved events in order."""

    run_id: uuid.UUID
    procedure_id: str
    procedure_version: int
    actor: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    events: list[StoredEvent]

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_RUN_STATUSES

    def step_events(self) -> list[Any]:
        """Events as engine ``StepEvent`` objects for ``ProcedureRun.restore(...)``."""
        return [e.to_step_event() for e in self.events]


@dataclass(frozen=True)
class VisitResume:
    """What the TUI needs to continue an interrupted visit exactly where it stopped.

    Rebuild each unfinished run with
    ``ProcedureRun.restore(procedures[run.procedure_id], run.step_events(),
    context=VisitContext.from_events(resume.all_step_events()), …)``.
    """

    visit: Visit
    customer: Customer
    runs: list[RunResume]

    @property
    def current_run(self) -> RunResume | None:
        """The most recently started run that has not finished, if any."""
        open_runs = [r for r in self.runs if not r.finished]
        return open_runs[-1] if open_runs else None

    def all_events(self) -> list[StoredEvent]:
        return [e for run in self.runs for e in run.events]

    def all_step_events(self) -> list[Any]:
        return [e.to_step_event() for e in self.all_events()]


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


def format_address(customer: Customer) -> str:
    """小区 楼栋-单元-楼层-房号 in the way Chinese addresses are written."""
    parts = []
    if customer.community:
        parts.append(customer.community)
    if customer.building:
        parts.append(_("building {b}").format(b=customer.building))
    if customer.unit:
        parts.append(_("unit {u}").format(u=customer.unit))
    if customer.floor:
        parts.append(_("floor {f}").format(f=customer.floor))
    if customer.room:
        parts.append(_("room {r}").format(r=customer.room))
    if customer.address_detail:
        parts.append(customer.address_detail)
    return " ".join(parts)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: pass a timezone-aware time")
    return value.astimezone(UTC)


class VisitRepository:
    """The service API over one :class:`Database`.

    ``clock`` returns aware UTC times (tests inject a fixed clock); ``local_tz`` is the zone
    whose calendar day counts as "the visit date" (default: the laptop's zone).
    """

    def __init__(
        self,
        database: Database,
        clock: Callable[[], datetime] = utcnow,
        local_tz: tzinfo | None = None,
    ):
        self.database = database
        self.clock = clock
        self.local_tz = local_tz

    # ------------------------------------------------------------------ helpers
    def _now(self) -> datetime:
        return _aware(self.clock())

    @staticmethod
    def _get(session: Session, model: type[Any], ident: uuid.UUID, what: str) -> Any:
        row = session.get(model, ident)
        if row is None:
            raise NotFound(_("No {what} with id {id}").format(what=what, id=ident))
        return row

    def _open_visit(self, session: Session, visit_id: uuid.UUID) -> Visit:
        visit: Visit = self._get(session, Visit, visit_id, _("visit"))
        if visit.closed_at is not None:
            raise VisitClosed(
                _(
                    "Visit {id} is closed and cannot be changed; "
                    "a correction is recorded as a new visit."
                ).format(id=visit_id)
            )
        return visit

    # ---------------------------------------------------------------- customers
    def upsert_customer(
        self,
        customer_no: str,
        *,
        name: str | None = None,
        phone: str | None = None,
        community: str | None = None,
        building: str | None = None,
        unit: str | None = None,
        floor: str | None = None,
        room: str | None = None,
        address_detail: str | None = None,
    ) -> Customer:
        """Create the customer with this 户号, or update the fields given (not None)."""
        customer_no = customer_no.strip()
        if not customer_no:
            raise RecordsError(_("A customer number (户号) is required"))
        fields = {
            "name": name,
            "phone": phone,
            "community": community,
            "building": building,
            "unit": unit,
            "floor": floor,
            "room": room,
            "address_detail": address_detail,
        }
        with self.database.session() as session:
            return self._upsert_customer(session, customer_no, fields)

    def _upsert_customer(
        self, session: Session, customer_no: str, fields: dict[str, str | None]
    ) -> Customer:
        customer = session.exec(select(Customer).where(Customer.customer_no == customer_no)).first()
        now = self._now()
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

    def get_customer(self, customer_id: uuid.UUID) -> Customer:
        with self.database.session(readonly=True) as session:
            return self._get(session, Customer, customer_id, _("customer"))

    def find_customers(self, query: str, limit: int = 50) -> list[Customer]:
        """Customers whose 户号, name, phone or address contains ``query``."""
        escaped = query.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        with self.database.session(readonly=True) as session:
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

    # -------------------------------------------------------------- work orders
    def create_work_order(
        self,
        *,
        order_no: str,
        visit_type: VisitType | str,
        customer_id: uuid.UUID,
        assigned_to: str,
        scheduled_for: date | None = None,
        notes: str | None = None,
        work_order_id: uuid.UUID | None = None,
    ) -> WorkOrder:
        with self.database.session() as session:
            self._get(session, Customer, customer_id, _("customer"))
            now = self._now()
            order = WorkOrder(
                id=work_order_id or uuid.uuid4(),
                order_no=order_no,
                visit_type=VisitType(visit_type),
                customer_id=customer_id,
                assigned_to=assigned_to,
                scheduled_for=scheduled_for,
                notes=notes,
                created_at=now,
                updated_at=now,
            )
            session.add(order)
            return order

    def get_work_order(self, work_order_id: uuid.UUID) -> WorkOrder:
        with self.database.session(readonly=True) as session:
            return self._get(session, WorkOrder, work_order_id, _("work order"))

    def open_work_orders(self, assigned_to: str | None = None) -> list[WorkOrder]:
        """Open work orders (scheduled ones first, by date), optionally for one technician."""
        with self.database.session(readonly=True) as session:
            query = select(WorkOrder).where(WorkOrder.status == WorkOrderStatus.OPEN)
            if assigned_to is not None:
                query = query.where(WorkOrder.assigned_to == assigned_to)
            query = query.order_by(
                col(WorkOrder.scheduled_for).is_(None),
                col(WorkOrder.scheduled_for),
                col(WorkOrder.order_no),
            )
            return list(session.exec(query).all())

    def upsert_work_orders(self, orders: Sequence[WorkOrderPayload]) -> WorkOrderSyncResult:
        """Apply a page of work orders pulled from the back office (one transaction; see
        :func:`fieldkit.records.work_orders.upsert_work_orders`)."""
        return work_orders.upsert_work_orders(self.database, orders, self._now)

    def work_order_cursor(self) -> int:
        """The highest server cursor applied so far (0 before the first pull)."""
        return work_orders.work_order_cursor(self.database)

    # ------------------------------------------------------------------- visits
    def start_visit(
        self,
        *,
        customer_id: uuid.UUID,
        technician_id: str,
        visit_type: VisitType | str,
        work_order_id: uuid.UUID | None = None,
        visit_id: uuid.UUID | None = None,
        started_at: datetime | None = None,
    ) -> Visit:
        if not technician_id.strip():
            raise RecordsError(_("A technician id (工号) is required to start a visit"))
        with self.database.session() as session:
            self._get(session, Customer, customer_id, _("customer"))
            if work_order_id is not None:
                order: WorkOrder = self._get(session, WorkOrder, work_order_id, _("work order"))
                if order.status == WorkOrderStatus.CANCELLED:
                    raise RecordsError(
                        _("Work order {no} was cancelled by the back office").format(
                            no=order.order_no
                        )
                    )
            now = self._now()
            visit = Visit(
                id=visit_id or uuid.uuid4(),
                work_order_id=work_order_id,
                customer_id=customer_id,
                technician_id=technician_id,
                visit_type=VisitType(visit_type),
                started_at=_aware(started_at) if started_at else now,
                updated_at=now,
            )
            session.add(visit)
            return visit

    def get_visit(self, visit_id: uuid.UUID) -> Visit:
        with self.database.session(readonly=True) as session:
            return self._get(session, Visit, visit_id, _("visit"))

    def update_meter(
        self,
        visit_id: uuid.UUID,
        *,
        meter_no: str | None = None,
        seal_nos: Sequence[str] | None = None,
        meter_reading: float | None = None,
        remaining_gas: float | None = None,
    ) -> Visit:
        """Record the meter at this site (表钢号, 表封号/铅封号, 表底数, remaining gas)."""
        with self.database.session() as session:
            visit = self._open_visit(session, visit_id)
            if meter_no is not None:
                visit.meter_no = meter_no
            if seal_nos is not None:
                visit.seal_nos = _seals(seal_nos)
            if meter_reading is not None:
                visit.meter_reading = float(meter_reading)
            if remaining_gas is not None:
                visit.remaining_gas = float(remaining_gas)
            visit.updated_at = self._now()
            session.add(visit)
            return visit

    def set_notes(self, visit_id: uuid.UUID, notes: str | None) -> Visit:
        with self.database.session() as session:
            visit = self._open_visit(session, visit_id)
            visit.notes = notes
            visit.updated_at = self._now()
            session.add(visit)
            return visit

    def _summaries(self, session: Session, visits: Iterable[Visit]) -> list[VisitSummary]:
        out = []
        for visit in visits:
            customer: Customer = self._get(session, Customer, visit.customer_id, _("customer"))
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
                    outbox_state=outbox,
                )
            )
        return out

    def list_visits(self, *, open_only: bool = False, limit: int = 200) -> list[VisitSummary]:
        """Visits, newest first."""
        with self.database.session(readonly=True) as session:
            query = select(Visit)
            if open_only:
                query = query.where(col(Visit.closed_at).is_(None))
            query = query.order_by(col(Visit.started_at).desc()).limit(limit)
            return self._summaries(session, session.exec(query).all())

    def unfinished_visits(self) -> list[VisitSummary]:
        """Visits started but not closed (e.g. after a crash), newest first."""
        return self.list_visits(open_only=True)

    # ----------------------------------------------------------- procedure runs
    def start_run(
        self,
        visit_id: uuid.UUID,
        *,
        procedure_id: str,
        procedure_version: int,
        actor: str,
        run_id: uuid.UUID | None = None,
        started_at: datetime | None = None,
        events: Sequence[StepEventLike] = (),
        run_status: str | None = None,
    ) -> ProcedureRunRecord:
        """Register a procedure run (use the engine's ``run_id``) together with its first
        events — ``ProcedureRun.start(...)`` leaves its ``started`` event in ``run.events``;
        pass them here so the run and its start are saved in one transaction."""
        with self.database.session() as session:
            visit = self._open_visit(session, visit_id)
            run = ProcedureRunRecord(
                id=run_id or uuid.uuid4(),
                visit_id=visit_id,
                procedure_id=procedure_id,
                procedure_version=int(procedure_version),
                actor=actor,
                started_at=_aware(started_at)
                if started_at
                else (_aware(events[0].at) if events else self._now()),
            )
            session.add(run)
            session.flush()
            if events or run_status is not None:
                self._save_events(session, visit, run, events, run_status)
            return run

    def record_event(
        self,
        visit_id: uuid.UUID,
        run_id: uuid.UUID,
        event: StepEventLike,
        *,
        run_status: str | None = None,
    ) -> StoredEvent:
        """Save one engine ``StepEvent`` (+ its measurements) durably; returns after commit.

        Saving the same event again (same ``event_id`` and content — e.g. a retry after
        an uncertain commit) is harmless; the same id with other content raises
        :class:`EventConflict`. ``run_status`` (the engine's ``run.status`` after the
        answer) is stored with it, so a resumed visit knows which runs are finished.
        """
        return self.record_events(visit_id, run_id, [event], run_status=run_status)[0]

    def record_events(
        self,
        visit_id: uuid.UUID,
        run_id: uuid.UUID,
        events: Sequence[StepEventLike],
        *,
        run_status: str | None = None,
    ) -> list[StoredEvent]:
        """Save the events of one engine action together (one transaction, one fsync)."""
        with self.database.session() as session:
            visit = self._open_visit(session, visit_id)
            run: ProcedureRunRecord = self._get(session, ProcedureRunRecord, run_id, _("run"))
            if run.visit_id != visit_id:
                raise EventConflict(_("Run {run} belongs to another visit").format(run=run_id))
            return self._save_events(session, visit, run, events, run_status)

    def _save_events(
        self,
        session: Session,
        visit: Visit,
        run: ProcedureRunRecord,
        events: Sequence[StepEventLike],
        run_status: str | None,
    ) -> list[StoredEvent]:
        last_seq = session.exec(
            select(func.max(StepResult.seq)).where(StepResult.run_id == run.id)
        ).one()
        seq = -1 if last_seq is None else int(last_seq)
        stored: list[StoredEvent] = []
        saved_at = self._now()
        status = run_status
        for event in events:
            if event.run_id != run.id:
                raise EventConflict(
                    _("Event {event} belongs to run {other}, not {run}").format(
                        event=event.event_id, other=event.run_id, run=run.id
                    )
                )
            kind = _kind(event.kind)
            value = dict(event.value)
            _check_value_size(value)
            at = _aware(event.at)
            existing = session.get(StepResult, event.event_id)
            if existing is not None:
                same = (
                    existing.run_id == run.id
                    and existing.step_id == event.step_id
                    and existing.kind == kind
                    and existing.value == value
                    and existing.passed == event.passed
                    and existing.at == at
                )
                if not same:
                    raise EventConflict(
                        _("Event {event} was already saved with other content").format(
                            event=event.event_id
                        )
                    )
                stored.append(_stored(existing))
                continue
            already_read = self._pending_reading(session, run.id, event.step_id, kind)
            seq += 1
            row = StepResult(
                id=event.event_id,
                run_id=run.id,
                seq=seq,
                step_id=event.step_id,
                kind=kind,
                value=value,
                passed=event.passed,
                at=at,
                actor=event.actor,
                saved_at=saved_at,
            )
            session.add(row)
            session.flush()  # the step row first: measurements reference it
            for m in measurements_from_value(value):
                if already_read.get(m.quantity) == m.value:
                    continue  # the start reading of a held test, saved when it was taken
                session.add(
                    Measurement(
                        step_result_id=row.id,
                        run_id=run.id,
                        step_id=event.step_id,
                        quantity=m.quantity,
                        value=m.value,
                        unit=m.unit,
                        taken_at=at,
                    )
                )
            if kind == "answered":
                self._apply_captured(session, visit, value, at)
            if status is None and kind in _TERMINAL_KINDS:
                status = _TERMINAL_KINDS[kind]
            stored.append(_stored(row))
        if status is not None and status != run.status:
            run.status = str(getattr(status, "value", status))
            if run.status in FINISHED_RUN_STATUSES and run.ended_at is None:
                run.ended_at = max((s.at for s in stored), default=saved_at)
            session.add(run)
        return stored

    @staticmethod
    def _pending_reading(
        session: Session, run_id: uuid.UUID, step_id: str, kind: str
    ) -> dict[str, float]:
        """For the answer that ends a held measurement: the start reading already saved."""
        if kind != "answered":
            return {}
        last = session.exec(
            select(StepResult)
            .where(
                StepResult.run_id == run_id,
                StepResult.step_id == step_id,
                col(StepResult.kind).in_(["answered", "reading_started"]),
            )
            .order_by(col(StepResult.seq).desc())
        ).first()
        if last is None or last.kind != "reading_started":
            return {}
        return {m.quantity: m.value for m in measurements_from_value(last.value)}

    def _apply_captured(
        self, session: Session, visit: Visit, value: dict[str, Any], at: datetime
    ) -> None:
        """Answers that describe the visit: the handover data (meter no., seals, reading,
        remaining gas) update the visit's meter; a sign-off's customer name is the signature."""
        changed = False
        if isinstance(value.get("meter_no"), str) and value["meter_no"].strip():
            visit.meter_no = value["meter_no"].strip()
            changed = True
        seals = value.get("seal_nos")
        if isinstance(seals, list) and all(isinstance(x, str) for x in seals):
            visit.seal_nos = _seals(seals)
            changed = True
        for name in ("meter_reading", "remaining_gas"):
            if _is_number(value.get(name)):
                setattr(visit, name, float(value[name]))
                changed = True
        if changed:
            visit.updated_at = at
            session.add(visit)
        name = value.get("customer_name")
        if isinstance(name, str) and name.strip():
            signature = session.exec(
                select(CustomerSignature).where(CustomerSignature.visit_id == visit.id)
            ).first()
            if signature is None:
                signature = CustomerSignature(visit_id=visit.id, signer_name=name.strip())
            signature.signer_name = name.strip()
            signature.signed_at = at
            session.add(signature)

    def set_run_status(self, run_id: uuid.UUID, status: str) -> ProcedureRunRecord:
        with self.database.session() as session:
            run: ProcedureRunRecord = self._get(session, ProcedureRunRecord, run_id, _("run"))
            self._open_visit(session, run.visit_id)
            run.status = str(getattr(status, "value", status))
            if run.status in FINISHED_RUN_STATUSES and run.ended_at is None:
                run.ended_at = self._now()
            session.add(run)
            return run

    def run_events(self, run_id: uuid.UUID) -> list[StoredEvent]:
        """The saved events of a run, in the order they were produced."""
        with self.database.session(readonly=True) as session:
            self._get(session, ProcedureRunRecord, run_id, _("run"))
            return [_stored(r) for r in trail_of_run(session, run_id)]

    def visit_runs(self, visit_id: uuid.UUID) -> list[ProcedureRunRecord]:
        with self.database.session(readonly=True) as session:
            return runs_of_visit(session, visit_id)

    def resume(self, visit_id: uuid.UUID) -> VisitResume:
        """Everything needed to rebuild the visit's procedure runs after a crash."""
        with self.database.session(readonly=True) as session:
            visit: Visit = self._get(session, Visit, visit_id, _("visit"))
            customer: Customer = self._get(session, Customer, visit.customer_id, _("customer"))
            resumes = []
            for run in runs_of_visit(session, visit_id):
                rows = trail_of_run(session, run.id)
                resumes.append(
                    RunResume(
                        run_id=run.id,
                        procedure_id=run.procedure_id,
                        procedure_version=run.procedure_version,
                        actor=run.actor,
                        status=run.status,
                        started_at=run.started_at,
                        ended_at=run.ended_at,
                        events=[_stored(r) for r in rows],
                    )
                )
            return VisitResume(visit=visit, customer=customer, runs=resumes)

    # ------------------------------------------------------- swaps, hazards, …
    def record_meter_swap(
        self,
        visit_id: uuid.UUID,
        *,
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
        seals = _seals(seal_nos)
        if not new_meter_no:
            raise RecordsError(_("The new meter number is required"))
        if not seals:
            raise RecordsError(_("At least one seal number (表封号/铅封号) is required"))
        for label, number in (("gas used", gas_used), ("gas remaining", gas_remaining)):
            if number is not None and number < 0:
                raise RecordsError(_("{field} cannot be negative").format(field=_(label)))
        with self.database.session() as session:
            visit = self._open_visit(session, visit_id)
            swap = MeterSwap(
                id=swap_id or uuid.uuid4(),
                visit_id=visit_id,
                old_meter_no=old_meter_no.strip(),
                new_meter_no=new_meter_no,
                seal_nos=seals,
                old_meter_reading=old_meter_reading,
                gas_used=gas_used,
                gas_remaining=gas_remaining,
                swapped_at=_aware(swapped_at) if swapped_at else self._now(),
                reason=reason,
            )
            session.add(swap)
            visit.meter_no = new_meter_no
            visit.seal_nos = seals
            if gas_remaining is not None:
                visit.remaining_gas = gas_remaining
            visit.updated_at = self._now()
            session.add(visit)
            return swap

    def add_hazard(
        self,
        visit_id: uuid.UUID,
        *,
        description: str,
        level: HazardLevel | str,
        deadline: date | None = None,
        basis: str | None = None,
        hazard_id: uuid.UUID | None = None,
    ) -> Hazard:
        """A hazard found in this visit; it starts as 待整改 (pending)."""
        if not description.strip():
            raise RecordsError(_("Describe the hazard"))
        with self.database.session() as session:
            self._open_visit(session, visit_id)
            now = self._now()
            hazard = Hazard(
                id=hazard_id or uuid.uuid4(),
                visit_id=visit_id,
                description=description.strip(),
                level=HazardLevel(level),
                status=HazardStatus.PENDING,
                found_at=now,
                deadline=deadline,
                basis=basis,
                updated_at=now,
            )
            session.add(hazard)
            return hazard

    def set_hazard_status(
        self,
        hazard_id: uuid.UUID,
        status: HazardStatus | str,
        *,
        note: str,
        actor: str,
        visit_id: uuid.UUID | None = None,
    ) -> Hazard:
        """Move a hazard one step forward (待整改 → 复查中 → 已整改) with a note.

        ``visit_id`` is the (open) visit in which the change is made — by default the visit
        that found the hazard; a hazard of a closed visit is rechecked in a new visit (e.g.
        a 复查 visit), which then carries the hazard's new status in its record.
        """
        target = HazardStatus(status)
        if not note.strip():
            raise RecordsError(_("A note is required when a hazard's status changes"))
        with self.database.session() as session:
            hazard: Hazard = self._get(session, Hazard, hazard_id, _("hazard"))
            self._open_visit(session, visit_id or hazard.visit_id)
            if _HAZARD_NEXT.get(hazard.status) != target:
                raise InvalidHazardTransition(
                    _(
                        "A hazard's status only moves forward "
                        "(pending → rechecking → fixed): {old} → {new} is not allowed"
                    ).format(old=hazard.status.value, new=target.value)
                )
            now = self._now()
            session.add(
                HazardStatusChange(
                    hazard_id=hazard.id,
                    visit_id=visit_id or hazard.visit_id,
                    from_status=hazard.status,
                    to_status=target,
                    note=note.strip(),
                    actor=actor,
                    changed_at=now,
                )
            )
            hazard.status = target
            hazard.updated_at = now
            session.add(hazard)
            return hazard

    def visit_hazards(self, visit_id: uuid.UUID) -> list[Hazard]:
        """The hazards found in this visit, in the order they were found."""
        with self.database.session(readonly=True) as session:
            self._get(session, Visit, visit_id, _("visit"))
            return list(
                session.exec(
                    select(Hazard)
                    .where(Hazard.visit_id == visit_id)
                    .order_by(col(Hazard.found_at), col(Hazard.id))
                ).all()
            )

    def visit_meter_swaps(self, visit_id: uuid.UUID) -> list[MeterSwap]:
        """The meter swaps recorded in this visit, oldest first."""
        with self.database.session(readonly=True) as session:
            self._get(session, Visit, visit_id, _("visit"))
            return list(
                session.exec(
                    select(MeterSwap)
                    .where(MeterSwap.visit_id == visit_id)
                    .order_by(col(MeterSwap.swapped_at))
                ).all()
            )

    def hazard_trail(self, hazard_id: uuid.UUID) -> list[HazardStatusChange]:
        with self.database.session(readonly=True) as session:
            return list(
                session.exec(
                    select(HazardStatusChange)
                    .where(HazardStatusChange.hazard_id == hazard_id)
                    .order_by(col(HazardStatusChange.changed_at))
                ).all()
            )

    def open_hazards(self) -> list[Hazard]:
        """Hazards not yet fixed, oldest first."""
        with self.database.session(readonly=True) as session:
            return list(
                session.exec(
                    select(Hazard)
                    .where(Hazard.status != HazardStatus.FIXED)
                    .order_by(col(Hazard.found_at))
                ).all()
            )

    def sign(
        self,
        visit_id: uuid.UUID,
        signer_name: str,
        *,
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
        with self.database.session() as session:
            self._open_visit(session, visit_id)
            signature = session.exec(
                select(CustomerSignature).where(CustomerSignature.visit_id == visit_id)
            ).first()
            if signature is None:
                signature = CustomerSignature(visit_id=visit_id, signer_name=signer_name)
            signature.signer_name = signer_name
            signature.signed_at = _aware(signed_at) if signed_at else self._now()
            signature.image_png = image_png
            session.add(signature)
            return signature

    def attach_device_reading(
        self,
        visit_id: uuid.UUID,
        *,
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
        with self.database.session() as session:
            self._open_visit(session, visit_id)
            reading = DeviceReading(
                id=reading_id or uuid.uuid4(),
                visit_id=visit_id,
                kind=DeviceKind(kind),
                port=port,
                raw_hex=raw_hex.lower(),
                decoded=dict(decoded),
                diagnosis=[dict(d) for d in diagnosis],
                read_at=_aware(read_at) if read_at else self._now(),
            )
            session.add(reading)
            return reading

    # -------------------------------------------------------------------- close
    def close_visit(
        self,
        visit_id: uuid.UUID,
        outcome: VisitOutcome | str,
        reason: str | None = None,
        *,
        ended_at: datetime | None = None,
    ) -> OutboxItem:
        """Close the visit: set its outcome, the follow-up due date (visit date + 3 days)
        and write its outbox row with the full payload — all in ONE transaction.

        到访不遇 (not_home), 拒检 (customer_refused), 不予通气 (refused_gas), stopped_unsafe
        and incomplete need a reason. Runs still open are marked ``abandoned`` (to keep the
        reason in a run's own trail, call the engine's ``run.abandon(reason)`` and save its
        events first).

        The visit-level safety rules (:mod:`fieldkit.records.closing`) are checked in the
        same transaction: an outcome they do not allow raises :class:`OutcomeNotAllowed`
        (see ``closing_rules(visit_id)`` for what is allowed). After a refusal the engine's
        refusal reason is recorded with ``refused_gas`` (and used when no reason is given).
        """
        from fieldkit.records.export import visit_payload
        from fieldkit.sync.schema import content_hash

        outcome = VisitOutcome(outcome)
        reason = reason.strip() if reason else None
        with self.database.session() as session:
            visit = self._open_visit(session, visit_id)
            rules = closing_rules(session, visit)
            if not rules.allows(outcome):
                raise OutcomeNotAllowed(outcome, rules)
            if rules.refusal_reason is not None:
                reason = with_refusal_reason(reason, rules.refusal_reason)
            if outcome != VisitOutcome.COMPLETED and not reason:
                raise RecordsError(
                    _("A reason is required when a visit ends as {outcome}").format(
                        outcome=outcome.value
                    )
                )
            now = self._now()
            visit.ended_at = _aware(ended_at) if ended_at else now
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
            visit_day = visit.started_at.astimezone(self.local_tz or _local_tz()).date()
            session.add(
                FollowUp(visit_id=visit_id, due_date=visit_day + timedelta(days=FOLLOW_UP_DAYS))
            )
            session.flush()
            try:
                payload = visit_payload(session, visit_id)
            except ValidationError as exc:  # e.g. a list over the schema's size limits
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                    for err in exc.errors()[:5]
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

    def closing_rules(self, visit_id: uuid.UUID) -> ClosingRules:
        """The outcomes the visit may be closed with now (and why others are not)."""
        with self.database.session(readonly=True) as session:
            visit: Visit = self._get(session, Visit, visit_id, _("visit"))
            return closing_rules(session, visit)

    def follow_up(self, visit_id: uuid.UUID) -> FollowUp | None:
        with self.database.session(readonly=True) as session:
            return session.exec(select(FollowUp).where(FollowUp.visit_id == visit_id)).first()

    def follow_ups_due(self, on_or_before: date) -> list[FollowUp]:
        with self.database.session(readonly=True) as session:
            return list(
                session.exec(
                    select(FollowUp)
                    .where(col(FollowUp.done_at).is_(None), FollowUp.due_date <= on_or_before)
                    .order_by(col(FollowUp.due_date))
                ).all()
            )

    # ------------------------------------------------------------------- outbox
    # The outbox aggregate lives in fieldkit.records.outbox; these delegate to it.
    def pending_outbox(self, limit: int | None = None) -> list[OutboxItem]:
        """Outbox rows still to send (pending, or failed attempts to retry), oldest first.
        Conflicts and rejected rows are not retried: they wait for a person."""
        return outbox.pending_outbox(self.database, limit)

    def outbox_items(self, state: OutboxState | str | None = None) -> list[OutboxItem]:
        return outbox.outbox_items(self.database, state)

    def outbox_count(self) -> int:
        """How many closed visits are waiting to reach the back office."""
        return outbox.outbox_count(self.database)

    def mark_sent(self, item_id: uuid.UUID, server_ack: dict[str, Any] | None = None) -> OutboxItem:
        """The server confirmed the record: it leaves the queue (the row stays as history)."""
        with _outbox_errors():
            return outbox.mark_sent(self.database, item_id, server_ack, self._now)

    def mark_conflict(self, item_id: uuid.UUID, detail: str) -> OutboxItem:
        """The server holds different content under this visit id (409): keep ours, flag it."""
        with _outbox_errors():
            return outbox.mark_conflict(self.database, item_id, detail, self._now)

    def mark_failed_attempt(self, item_id: uuid.UUID, error: str) -> OutboxItem:
        """A send failed (network, 5xx): count it and keep the row."""
        with _outbox_errors():
            return outbox.mark_failed_attempt(self.database, item_id, error, self._now)

    def mark_rejected(self, item_id: uuid.UUID, error: str) -> OutboxItem:
        """The server refused the record (4xx): set aside with the server's message."""
        with _outbox_errors():
            return outbox.mark_rejected(self.database, item_id, error, self._now)


@contextmanager
def _outbox_errors() -> Iterator[None]:
    try:
        yield
    except outbox.OutboxNotFound as exc:
        raise NotFound(str(exc)) from None


def _stored(row: StepResult) -> StoredEvent:
    return StoredEvent(
        event_id=row.id,
        run_id=row.run_id,
        seq=row.seq,
        step_id=row.step_id,
        kind=row.kind,
        value=dict(row.value),
        passed=row.passed,
        at=row.at,
        actor=row.actor,
    )


def _local_tz() -> Any:
    """The laptop's local time zone (the visit *date* is the local calendar day)."""
    return datetime.now().astimezone().tzinfo


# Module-level shortcuts for the sync client (each opens its own transaction).
pending_outbox = outbox.pending_outbox
mark_sent = outbox.mark_sent
mark_conflict = outbox.mark_conflict
mark_failed_attempt = outbox.mark_failed_attempt
mark_rejected = outbox.mark_rejected
outbox_count = outbox.outbox_count
upsert_work_orders = work_orders.upsert_work_orders
