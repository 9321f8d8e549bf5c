"""Procedure runs and their saved events (the engine's StepEvents): session-taking queries.

Called by :class:`fieldkit.records.repo.VisitRepository` inside its transaction; each
function works in the caller's session and never commits. A run's events are its trail:
saved in the order the engine produced them (``seq``), never edited; the numeric readings
inside them are also kept as :class:`~fieldkit.records.models.Measurement` rows.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func
from sqlmodel import Session, col, select

from fieldkit.i18n import _
from fieldkit.procedures.engine import EventKind, RunStatus
from fieldkit.records.errors import (
    EventConflict,
    PayloadTooLarge,
    RecordsError,
    aware,
    get_row,
    open_visit,
)
from fieldkit.records.models import (
    Customer,
    CustomerSignature,
    Measurement,
    ProcedureRunRecord,
    StepResult,
    Visit,
)
from fieldkit.records.queries import FINISHED_RUN_STATUSES, runs_of_visit, trail_of_run
from fieldkit.records.visits import clean_seals

MAX_STEP_VALUE_CHARS = 20_000  # = fieldkit.sync.schema.MAX_JSON_OBJECT
# Event kinds that end a run, and the run status they imply.
_TERMINAL_KINDS = {
    EventKind.COMPLETED.value: RunStatus.COMPLETED.value,
    EventKind.REFUSED.value: RunStatus.REFUSED.value,
    EventKind.ABANDONED.value: RunStatus.ABANDONED.value,
}


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

    def row(self) -> tuple[str, float, str]:
        return (self.quantity, self.value, self.unit)


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


def stored_event(row: StepResult) -> StoredEvent:
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


def start_run(
    session: Session,
    visit_id: uuid.UUID,
    *,
    procedure_id: str,
    procedure_version: int,
    actor: str,
    now: datetime,
    run_id: uuid.UUID | None = None,
    started_at: datetime | None = None,
    events: Sequence[StepEventLike] = (),
    run_status: str | None = None,
) -> ProcedureRunRecord:
    """Register a procedure run together with its first events (one transaction)."""
    visit = open_visit(session, visit_id)
    run = ProcedureRunRecord(
        id=run_id or uuid.uuid4(),
        visit_id=visit_id,
        procedure_id=procedure_id,
        procedure_version=int(procedure_version),
        actor=actor,
        started_at=aware(started_at) if started_at else (aware(events[0].at) if events else now),
    )
    if events and _kind(events[0].kind) == "started":
        info = events[0].value
        if isinstance(info.get("content_hash"), str):
            run.content_hash = info["content_hash"]
        if isinstance(info.get("override"), dict):
            run.override = dict(info["override"])
    session.add(run)
    session.flush()
    if events or run_status is not None:
        save_events(session, visit, run, events, run_status, now=now)
    return run


def run_of_visit(session: Session, visit_id: uuid.UUID, run_id: uuid.UUID) -> ProcedureRunRecord:
    """The run, checked to belong to this visit."""
    run: ProcedureRunRecord = get_row(session, ProcedureRunRecord, run_id, _("run"))
    if run.visit_id != visit_id:
        raise EventConflict(_("Run {run} belongs to another visit").format(run=run_id))
    return run


def discard_run(session: Session, visit_id: uuid.UUID, run_id: uuid.UUID) -> None:
    """Delete a run opened by mistake, with its derived events; refused once it holds
    an action (an answer, reading, timer, repair, correction or abandonment). The ORM
    definition that :func:`fieldkit.records.plain_hazards.discard_run` (the product's path)
    is checked against row by row."""
    from fieldkit.procedures.engine import ACTION_KINDS

    open_visit(session, visit_id)
    run_of_visit(session, visit_id, run_id)
    rows = trail_of_run(session, run_id)
    if any(row.kind in {k.value for k in ACTION_KINDS} for row in rows):
        raise RecordsError(_("A run with answers cannot be discarded"))
    for measurement in session.exec(select(Measurement).where(Measurement.run_id == run_id)).all():
        session.delete(measurement)
    session.flush()
    for row in rows:
        session.delete(row)
    session.flush()
    session.delete(get_row(session, ProcedureRunRecord, run_id, _("run")))


def save_events(
    session: Session,
    visit: Visit,
    run: ProcedureRunRecord,
    events: Sequence[StepEventLike],
    run_status: str | None,
    *,
    now: datetime,
) -> list[StoredEvent]:
    """Save the events of one engine action in the caller's transaction (idempotent per
    event id; the same id with other content raises :class:`EventConflict`)."""
    last_seq = session.exec(
        select(func.max(StepResult.seq)).where(StepResult.run_id == run.id)
    ).one()
    seq = -1 if last_seq is None else int(last_seq)
    stored: list[StoredEvent] = []
    saved_at = now
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
        at = aware(event.at)
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
            stored.append(stored_event(existing))
            continue
        already_read = pending_reading(session, run.id, event.step_id, kind)
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
            apply_captured(session, visit, value, at)
        if status is None and kind in _TERMINAL_KINDS:
            status = _TERMINAL_KINDS[kind]
        stored.append(stored_event(row))
    if status is not None and status != run.status:
        run.status = str(getattr(status, "value", status))
        if run.status in FINISHED_RUN_STATUSES and run.ended_at is None:
            run.ended_at = max((s.at for s in stored), default=saved_at)
        session.add(run)
    return stored


def pending_reading(
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


def apply_captured(session: Session, visit: Visit, value: dict[str, Any], at: datetime) -> None:
    """Answers that describe the visit: the handover data (meter no., seals, reading,
    remaining gas) update the visit's meter; a sign-off's customer name is the signature."""
    changed = False
    if isinstance(value.get("meter_no"), str) and value["meter_no"].strip():
        visit.meter_no = value["meter_no"].strip()
        changed = True
    seals = value.get("seal_nos")
    if isinstance(seals, list) and all(isinstance(x, str) for x in seals):
        visit.seal_nos = clean_seals(seals)
        changed = True
    for field in ("meter_reading", "remaining_gas"):
        if _is_number(value.get(field)):
            setattr(visit, field, float(value[field]))
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


def set_run_status(
    session: Session, run_id: uuid.UUID, status: str, *, now: datetime
) -> ProcedureRunRecord:
    run: ProcedureRunRecord = get_row(session, ProcedureRunRecord, run_id, _("run"))
    open_visit(session, run.visit_id)
    run.status = str(getattr(status, "value", status))
    if run.status in FINISHED_RUN_STATUSES and run.ended_at is None:
        run.ended_at = now
    session.add(run)
    return run


def run_events(session: Session, run_id: uuid.UUID) -> list[StoredEvent]:
    """The saved events of a run, in the order they were produced."""
    get_row(session, ProcedureRunRecord, run_id, _("run"))
    return [stored_event(r) for r in trail_of_run(session, run_id)]


def resume(session: Session, visit_id: uuid.UUID) -> VisitResume:
    """Everything needed to rebuild the visit's procedure runs after a crash."""
    visit: Visit = get_row(session, Visit, visit_id, _("visit"))
    customer: Customer = get_row(session, Customer, visit.customer_id, _("customer"))
    resumes = [
        RunResume(
            run_id=run.id,
            procedure_id=run.procedure_id,
            procedure_version=run.procedure_version,
            actor=run.actor,
            status=run.status,
            started_at=run.started_at,
            ended_at=run.ended_at,
            events=[stored_event(r) for r in trail_of_run(session, run.id)],
        )
        for run in runs_of_visit(session, visit_id)
    ]
    return VisitResume(visit=visit, customer=customer, runs=resumes)
