"""The visit-records service API: what the TUI, the CLI, the session service and the sync
client call — a thin transactional façade over one query module per aggregate:

* :mod:`fieldkit.records.visits` — customers and visits (start, meter, swaps, signature,
  device readings, closing with its follow-up and outbox row);
* :mod:`fieldkit.records.runs` — procedure runs and their saved events;
* :mod:`fieldkit.records.hazards` — hazards and their note trail;
* :mod:`fieldkit.records.work_orders` and :mod:`fieldkit.records.outbox` — sync state;
* :mod:`fieldkit.records.safety_facts` — what the visit's safety state is derived from.

Every public method is one transaction: when it returns, the change has been committed
(``synchronous=FULL``: it is on disk). Nothing here imports Textual or FastAPI. A closed
visit is final: every method that would change it raises :class:`VisitClosed`; a
correction is a new visit (a new version), never an edit of the signed record.

Typical use::

    repo = VisitRepository(open_database())
    customer = repo.upsert_customer("0012345", name="张三", community="幸福小区", building="3")
    visit = repo.start_visit(customer_id=customer.id, technician_id="T001",
                             visit_type=VisitType.IGNITION)
    run = repo.start_run(visit.id, procedure_id="ignition", procedure_version=1, actor="T001")
    repo.record_events(visit.id, run.id, engine_run.answer(step_id, value))  # durable
    ...
    repo.close_visit(visit.id, VisitOutcome.COMPLETED)   # follow-up + outbox row, one commit
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from fieldkit.i18n import _
from fieldkit.records import hazards as hazard_queries
from fieldkit.records import outbox, plain, plain_hazards, plain_save, runs, visits, work_orders
from fieldkit.records.address import format_address as format_address
from fieldkit.records.closing import ClosingRules, rules_from
from fieldkit.records.db import Database
from fieldkit.records.errors import EventConflict as EventConflict
from fieldkit.records.errors import InvalidHazardTransition as InvalidHazardTransition
from fieldkit.records.errors import NotFound as NotFound
from fieldkit.records.errors import PayloadTooLarge as PayloadTooLarge
from fieldkit.records.errors import RecordsError as RecordsError
from fieldkit.records.errors import VisitClosed as VisitClosed
from fieldkit.records.errors import aware, get_row
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
    MeterSwap,
    OutboxItem,
    OutboxState,
    ProcedureRunRecord,
    Visit,
    VisitOutcome,
    VisitType,
    WorkOrder,
    utcnow,
)
from fieldkit.records.queries import FINISHED_RUN_STATUSES as FINISHED_RUN_STATUSES
from fieldkit.records.queries import runs_of_visit
from fieldkit.records.runs import MAX_STEP_VALUE_CHARS as MAX_STEP_VALUE_CHARS
from fieldkit.records.runs import MeasurementInput as MeasurementInput
from fieldkit.records.runs import RunResume as RunResume
from fieldkit.records.runs import StepEventLike as StepEventLike
from fieldkit.records.runs import StoredEvent as StoredEvent
from fieldkit.records.runs import VisitResume as VisitResume
from fieldkit.records.runs import measurements_from_value as measurements_from_value
from fieldkit.records.visits import CLOSED_WITH_VISIT as CLOSED_WITH_VISIT
from fieldkit.records.visits import FOLLOW_UP_DAYS as FOLLOW_UP_DAYS
from fieldkit.records.visits import MAX_SEALS as MAX_SEALS
from fieldkit.records.visits import OutcomeNotAllowed as OutcomeNotAllowed
from fieldkit.records.visits import VisitSummary as VisitSummary
from fieldkit.records.work_orders import WorkOrderSyncResult
from fieldkit.safety import HazardFacts, VisitFacts

if TYPE_CHECKING:  # pragma: no cover
    from fieldkit.sync.schema import WorkOrderPayload


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

    def _now(self) -> datetime:
        return aware(self.clock())

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
            return visits.upsert_customer(session, customer_no, fields, now=self._now())

    def get_customer(self, customer_id: uuid.UUID) -> Customer:
        with self.database.session(readonly=True) as session:
            customer: Customer = get_row(session, Customer, customer_id, _("customer"))
            return customer

    def find_customers(self, query: str, limit: int = 50) -> list[Customer]:
        """Customers whose 户号, name, phone or address contains ``query``."""
        with self.database.session(readonly=True) as session:
            return visits.find_customers(session, query, limit)

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
            return work_orders.create_work_order(
                session,
                now=self._now(),
                order_no=order_no,
                visit_type=visit_type,
                customer_id=customer_id,
                assigned_to=assigned_to,
                scheduled_for=scheduled_for,
                notes=notes,
                work_order_id=work_order_id,
            )

    def get_work_order(self, work_order_id: uuid.UUID) -> WorkOrder:
        with self.database.session(readonly=True) as session:
            order: WorkOrder = get_row(session, WorkOrder, work_order_id, _("work order"))
            return order

    def open_work_orders(self, assigned_to: str | None = None) -> list[WorkOrder]:
        """Open work orders (scheduled ones first, by date), optionally for one technician."""
        with self.database.session(readonly=True) as session:
            return work_orders.open_work_orders(session, assigned_to)

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
        with self.database.session() as session:
            return visits.start_visit(
                session,
                customer_id=customer_id,
                technician_id=technician_id,
                visit_type=visit_type,
                now=self._now(),
                work_order_id=work_order_id,
                visit_id=visit_id,
                started_at=started_at,
            )

    def get_visit(self, visit_id: uuid.UUID) -> Visit:
        with self.database.session(readonly=True) as session:
            visit: Visit = get_row(session, Visit, visit_id, _("visit"))
            return visit

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
            return visits.update_meter(
                session,
                visit_id,
                now=self._now(),
                meter_no=meter_no,
                seal_nos=seal_nos,
                meter_reading=meter_reading,
                remaining_gas=remaining_gas,
            )

    def set_notes(self, visit_id: uuid.UUID, notes: str | None) -> Visit:
        with self.database.session() as session:
            return visits.set_notes(session, visit_id, notes, now=self._now())

    def list_visits(self, *, open_only: bool = False, limit: int = 200) -> list[VisitSummary]:
        """Visits, newest first."""
        with self.database.session(readonly=True) as session:
            return visits.list_visits(session, open_only=open_only, limit=limit)

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
        if plain_save.plain_enough(events):  # plain SQL: a run is opened on every procedure
            run_id = run_id or uuid.uuid4()
            begun = aware(started_at) if started_at else (aware(events[0].at) if events else None)
            begun = begun or self._now()
            first = events[0].value if events and runs._kind(events[0].kind) == "started" else None
            with plain_save.writing(self.database) as connection:
                plain_save.insert_run(
                    connection,
                    visit_id,
                    run_id,
                    procedure_id=procedure_id,
                    procedure_version=procedure_version,
                    actor=actor,
                    started_at=begun,
                    started=first,
                )
                if events or run_status is not None:
                    saved = plain_save.save(
                        connection, visit_id, run_id, events, run_status, now=self._now()
                    )
                    if saved is None:  # an event id already stored: not a new run
                        raise EventConflict(_("Event already saved in another run"))
            with plain.reading(self.database, snapshot=False) as connection:
                status = plain.run_status(connection, run_id)
            return ProcedureRunRecord(
                id=run_id,
                visit_id=visit_id,
                procedure_id=procedure_id,
                procedure_version=int(procedure_version),
                actor=actor,
                status=status,
                started_at=begun,
            )
        with self.database.session() as session:
            return runs.start_run(
                session,
                visit_id,
                procedure_id=procedure_id,
                procedure_version=procedure_version,
                actor=actor,
                now=self._now(),
                run_id=run_id,
                started_at=started_at,
                events=events,
                run_status=run_status,
            )

    def discard_run(self, visit_id: uuid.UUID, run_id: uuid.UUID) -> None:
        """Delete a run opened by mistake, with its derived events; refused once it holds
        an action (an answer, reading, timer, repair, correction or abandonment)."""
        with plain_save.writing(self.database) as connection:  # plain SQL, as the ORM's
            plain_hazards.discard_run(connection, visit_id, run_id)

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
        if plain_save.plain_enough(events):  # plain SQL: every answer of a visit
            with plain_save.writing(self.database) as connection:
                saved = plain_save.save(
                    connection, visit_id, run_id, events, run_status, now=self._now()
                )
            if saved is not None:
                return saved
        with self.database.session() as session:
            visit = visits.open_visit(session, visit_id)
            run = runs.run_of_visit(session, visit_id, run_id)
            return runs.save_events(session, visit, run, events, run_status, now=self._now())

    def set_run_status(self, run_id: uuid.UUID, status: str) -> ProcedureRunRecord:
        with self.database.session() as session:
            return runs.set_run_status(session, run_id, status, now=self._now())

    def run_events(self, run_id: uuid.UUID) -> list[StoredEvent]:
        """The saved events of a run, in the order they were produced."""
        with self.database.session(readonly=True) as session:
            return runs.run_events(session, run_id)

    def visit_runs(self, visit_id: uuid.UUID) -> list[ProcedureRunRecord]:
        with self.database.session(readonly=True) as session:
            return runs_of_visit(session, visit_id)

    def resume(self, visit_id: uuid.UUID) -> VisitResume:
        """Everything needed to rebuild the visit's procedure runs after a crash."""
        with self.database.session(readonly=True) as session:
            return runs.resume(session, visit_id)

    def safety_facts(self, visit_id: uuid.UUID) -> VisitFacts:
        """Everything stored for the visit that its safety state is derived from (read
        with plain SQL: the session service reads it on every restore)."""
        with plain.reading(self.database) as connection:
            facts = plain.facts_of(connection, visit_id)
            if (
                not facts.runs
                and not facts.hazards
                and not plain.visit_exists(connection, visit_id)
            ):
                raise NotFound(_("No {what} with id {id}").format(what=_("visit"), id=visit_id))
            return facts

    def run_versions(self, visit_id: uuid.UUID) -> dict[uuid.UUID, int]:
        """The procedure file version each run of the visit was started with."""
        with plain.reading(self.database, snapshot=False) as connection:
            return plain.run_versions(connection, visit_id)

    def hazard_facts(self, visit_id: uuid.UUID) -> tuple[HazardFacts, ...]:
        """The visit's hazards as the safety state sees them (read afresh, plain SQL)."""
        with plain.reading(self.database, snapshot=False) as connection:
            return plain.hazards_of(connection, visit_id)

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
        """Record a meter replacement (see :func:`fieldkit.records.visits.record_meter_swap`);
        the visit's current meter becomes the new one."""
        with self.database.session() as session:
            return visits.record_meter_swap(
                session,
                visit_id,
                now=self._now(),
                old_meter_no=old_meter_no,
                new_meter_no=new_meter_no,
                seal_nos=seal_nos,
                old_meter_reading=old_meter_reading,
                gas_used=gas_used,
                gas_remaining=gas_remaining,
                swapped_at=swapped_at,
                reason=reason,
                swap_id=swap_id,
            )

    def visit_meter_swaps(self, visit_id: uuid.UUID) -> list[MeterSwap]:
        """The meter swaps recorded in this visit, oldest first."""
        with self.database.session(readonly=True) as session:
            return visits.meter_swaps(session, visit_id)

    def add_hazard(
        self,
        visit_id: uuid.UUID,
        *,
        description: str,
        level: HazardLevel | str,
        deadline: date | None = None,
        basis: str | None = None,
        refusal_code: str | None = None,
    ) -> Hazard:
        """A hazard found in this visit (a fresh id); it starts as 待整改 (pending).
        ``refusal_code`` names its 不予通气 class (a RefusalCondition value) when it is one.
        Plain SQL: the same checks and rows as :func:`fieldkit.records.hazards.add_hazard`."""
        with plain_save.writing(self.database) as connection:
            return plain_hazards.add_hazard(
                connection,
                visit_id,
                now=self._now(),
                description=description,
                level=level,
                deadline=deadline,
                basis=basis,
                refusal_code=refusal_code,
            )

    def set_hazard_status(
        self,
        hazard_id: uuid.UUID,
        status: HazardStatus | str,
        *,
        note: str,
        actor: str,
        visit_id: uuid.UUID | None = None,
    ) -> Hazard:
        """Move a hazard one step forward (待整改 → 复查中 → 已整改) with a note (see
        :func:`fieldkit.records.hazards.set_hazard_status`; plain SQL, the same rows)."""
        with plain_save.writing(self.database) as connection:
            return plain_hazards.set_hazard_status(
                connection,
                hazard_id,
                status,
                now=self._now(),
                note=note,
                actor=actor,
                visit_id=visit_id,
            )

    def visit_hazards(self, visit_id: uuid.UUID) -> list[Hazard]:
        """The hazards found in this visit, in the order they were found."""
        with self.database.session(readonly=True) as session:
            return hazard_queries.visit_hazards(session, visit_id)

    def hazard_trail(self, hazard_id: uuid.UUID) -> list[HazardStatusChange]:
        with self.database.session(readonly=True) as session:
            return hazard_queries.hazard_trail(session, hazard_id)

    def open_hazards(self) -> list[Hazard]:
        """Hazards not yet fixed, oldest first."""
        with self.database.session(readonly=True) as session:
            return hazard_queries.open_hazards(session)

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
        with self.database.session() as session:
            return visits.sign(
                session,
                visit_id,
                signer_name,
                now=self._now(),
                image_png=image_png,
                signed_at=signed_at,
            )

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
        with self.database.session() as session:
            return visits.attach_device_reading(
                session,
                visit_id,
                now=self._now(),
                kind=kind,
                raw=raw,
                decoded=decoded,
                diagnosis=diagnosis,
                port=port,
                read_at=read_at,
                reading_id=reading_id,
            )

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
        with self.database.session() as session:
            return visits.close_visit(
                session,
                visit_id,
                outcome,
                reason,
                now=self._now(),
                local_tz=self.local_tz or _local_tz(),
                ended_at=ended_at,
            )

    def closing_rules(self, visit_id: uuid.UUID) -> ClosingRules:
        """The outcomes the visit may be closed with now (and why others are not)."""
        with plain.reading(self.database) as connection:  # plain SQL: read on every check
            inputs = plain.closing_inputs(connection, visit_id)
            if inputs is None:
                raise NotFound(_("No {what} with id {id}").format(what=_("visit"), id=visit_id))
            visit_type, heads, signed = inputs
            facts = plain.facts_of(connection, visit_id)
            return rules_from(visit_id, visit_type, heads, facts, signed=signed)

    def follow_up(self, visit_id: uuid.UUID) -> FollowUp | None:
        with self.database.session(readonly=True) as session:
            return visits.follow_up(session, visit_id)

    def follow_ups_due(self, on_or_before: date) -> list[FollowUp]:
        with self.database.session(readonly=True) as session:
            return visits.follow_ups_due(session, on_or_before)

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
