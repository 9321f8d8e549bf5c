"""Tables of the visit database on the laptop (SQLModel on SQLite).

Conventions:

* every row's primary key is a UUID made on the laptop (``uuid4``) — or, for step results,
  the procedure engine's ``event_id`` — so a record keeps its identity through sync;
* every timestamp is timezone-aware UTC (:class:`UTCDateTime` refuses naive values and
  gives aware ones back);
* enums are stored as their string values (:class:`EnumText`), readable in any SQLite tool;
* step values and device data are JSON columns.

The tables live in their own metadata (not SQLModel's global one), so the schema the
migrations manage is exactly this module. Changing a table means a new alembic revision
under ``migrations/versions`` (``tests/records/test_db.py`` fails on drift).
"""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from fieldkit.procedures.engine import RunStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC; naive datetimes are refused, aware ones come back."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: fieldkit stores timezone-aware UTC only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class EnumText(TypeDecorator[StrEnum]):
    """A :class:`StrEnum` stored as its value in a VARCHAR(32)."""

    impl = sa.String(32)
    cache_ok = True

    def __init__(self, enum: type[StrEnum]):
        super().__init__()
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Any) -> StrEnum | None:
        if value is None:
            return None
        return self.enum(value)


class VisitType(StrEnum):
    """Kinds of visit (the wire schema's ``VisitType``)."""

    COMMUNITY_GAS_ON = "community_gas_on"  # 小区通气
    IGNITION = "ignition"  # 通气点火
    INSPECTION = "inspection"  # 安检
    REPAIR = "repair"  # 维修
    RECHECK = "recheck"  # 复查


class VisitOutcome(StrEnum):
    """How a visit ended (the wire schema's ``VisitOutcome``)."""

    COMPLETED = "completed"
    REFUSED_GAS = "refused_gas"  # 不予通气
    STOPPED_UNSAFE = "stopped_unsafe"
    NOT_HOME = "not_home"  # 到访不遇
    CUSTOMER_REFUSED = "customer_refused"  # 拒检
    INCOMPLETE = "incomplete"


class WorkOrderStatus(StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"
    DONE = "done"


class HazardLevel(StrEnum):
    MAJOR = "major"  # 重大
    GENERAL = "general"  # 一般


class HazardStatus(StrEnum):
    """待整改 → 复查中 → 已整改, forward only."""

    PENDING = "pending"  # 待整改
    RECHECKING = "rechecking"  # 复查中
    FIXED = "fixed"  # 已整改


class DeviceKind(StrEnum):
    METER = "meter"
    CARD = "card"


class OutboxState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    CONFLICT = "conflict"
    FAILED = "failed"
    REJECTED = "rejected"  # refused by the server (4xx): set aside with its message


# Named constraints, so later batch migrations on SQLite can find and alter them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class RecordsModel(
    SQLModel, registry=registry(metadata=sa.MetaData(naming_convention=NAMING_CONVENTION))
):
    """Base of every visit-database table (own metadata, see the module docstring)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Building a table class takes a few ms (this module: ~50 ms on a quiet laptop).
        # Before each one, an audit event where an import running in the background may
        # pause (the TUI's worker lets a key press go first: fieldkit.tui.preload); this
        # package does not know who listens.
        sys.audit("fieldkit.checkpoint", cls.__qualname__)
        super().__init_subclass__(**kwargs)


metadata = RecordsModel.metadata


def _id() -> Any:
    return Field(default_factory=uuid.uuid4, primary_key=True, sa_type=sa.Uuid)


def _ts(*, nullable: bool = False, index: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)


def _fk(target: str, *, nullable: bool = False, index: bool = True) -> Any:
    return Field(
        default=None if nullable else ...,
        foreign_key=target,
        sa_type=sa.Uuid,
        nullable=nullable,
        index=index,
    )


def _json(default: Any = dict) -> Any:
    return Field(default_factory=default, sa_type=sa.JSON, nullable=False)


class Customer(RecordsModel, table=True):
    """A gas customer and the site (户号 and the address 小区/楼栋/单元/楼层/房号)."""

    __tablename__ = "customer"

    id: uuid.UUID = _id()
    customer_no: str = Field(unique=True, index=True, max_length=64)  # 户号
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=64)
    community: str | None = Field(default=None, max_length=200)  # 小区
    building: str | None = Field(default=None, max_length=64)  # 楼栋
    unit: str | None = Field(default=None, max_length=64)  # 单元
    floor: str | None = Field(default=None, max_length=64)  # 楼层
    room: str | None = Field(default=None, max_length=64)  # 房号
    address_detail: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class WorkOrder(RecordsModel, table=True):
    """A job dispatched by the back office (pulled by sync) or opened on the laptop."""

    __tablename__ = "work_order"

    id: uuid.UUID = _id()
    order_no: str = Field(unique=True, index=True, max_length=64)
    visit_type: VisitType = Field(sa_type=EnumText(VisitType))
    customer_id: uuid.UUID = _fk("customer.id")
    assigned_to: str = Field(max_length=64)
    scheduled_for: date | None = None
    notes: str | None = Field(default=None, max_length=2000)
    status: WorkOrderStatus = Field(default=WorkOrderStatus.OPEN, sa_type=EnumText(WorkOrderStatus))
    server_cursor: int | None = None
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Visit(RecordsModel, table=True):
    """One visit to one customer. ``closed_at`` set → the visit is final and read-only."""

    __tablename__ = "visit"

    id: uuid.UUID = _id()
    work_order_id: uuid.UUID | None = _fk("work_order.id", nullable=True)
    customer_id: uuid.UUID = _fk("customer.id")
    technician_id: str = Field(max_length=64)
    visit_type: VisitType = Field(sa_type=EnumText(VisitType))
    started_at: datetime = _ts(index=True)
    ended_at: datetime | None = _ts(nullable=True)
    closed_at: datetime | None = _ts(nullable=True, index=True)
    outcome: VisitOutcome | None = Field(default=None, sa_type=EnumText(VisitOutcome))
    outcome_reason: str | None = Field(default=None, max_length=2000)
    meter_no: str | None = Field(default=None, max_length=64)  # 表钢号
    seal_nos: list[str] = _json(list)  # 表封号/铅封号
    meter_reading: float | None = None  # 表底数
    remaining_gas: float | None = None
    notes: str | None = Field(default=None, max_length=4000)
    updated_at: datetime = _ts()


class ProcedureRunRecord(RecordsModel, table=True):
    """One run of a procedure (id = the engine's ``run_id``) within a visit."""

    __tablename__ = "procedure_run"

    id: uuid.UUID = _id()
    visit_id: uuid.UUID = _fk("visit.id")
    procedure_id: str = Field(max_length=100)
    procedure_version: int
    actor: str = Field(max_length=64)
    status: str = Field(default="in_progress", max_length=32)
    started_at: datetime = _ts()
    ended_at: datetime | None = _ts(nullable=True)
    content_hash: str | None = Field(default=None, max_length=64)  # SHA-256 of the file run
    override: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)  # local revision

    @property
    def run_status(self) -> RunStatus:
        return RunStatus(self.status)


class StepResult(RecordsModel, table=True):
    """One procedure-engine ``StepEvent`` (id = its ``event_id``), saved when produced."""

    __tablename__ = "step_result"
    __table_args__ = (sa.UniqueConstraint("run_id", "seq", name="uq_step_result_run_id_seq"),)

    id: uuid.UUID = _id()
    run_id: uuid.UUID = _fk("procedure_run.id")
    seq: int  # order within the run (0, 1, 2, …)
    step_id: str = Field(max_length=100)
    kind: str = Field(max_length=32)
    value: dict[str, Any] = _json()
    passed: bool | None = None
    at: datetime = _ts()
    actor: str = Field(max_length=64)
    saved_at: datetime = _ts()


class Measurement(RecordsModel, table=True):
    """A numeric reading taken in a step (pressure, hold time, …) with its unit."""

    __tablename__ = "measurement"

    id: uuid.UUID = _id()
    step_result_id: uuid.UUID = _fk("step_result.id")
    run_id: uuid.UUID = _fk("procedure_run.id")
    step_id: str = Field(max_length=100)
    quantity: str = Field(max_length=100)
    value: float
    unit: str = Field(max_length=32)
    taken_at: datetime = _ts()


class MeterSwap(RecordsModel, table=True):
    """A meter replaced during the visit (前锋 swap: new meter no., seal no., gas used/left)."""

    __tablename__ = "meter_swap"

    id: uuid.UUID = _id()
    visit_id: uuid.UUID = _fk("visit.id")
    old_meter_no: str = Field(max_length=64)
    new_meter_no: str = Field(max_length=64)
    seal_nos: list[str] = _json(list)
    old_meter_reading: float | None = None
    gas_used: float | None = None
    gas_remaining: float | None = None
    swapped_at: datetime = _ts()
    reason: str | None = Field(default=None, max_length=2000)


class Hazard(RecordsModel, table=True):
    """A safety hazard found in a visit; its status only moves forward."""

    __tablename__ = "hazard"

    id: uuid.UUID = _id()
    visit_id: uuid.UUID = _fk("visit.id")
    description: str = Field(max_length=2000)
    level: HazardLevel = Field(sa_type=EnumText(HazardLevel))
    status: HazardStatus = Field(default=HazardStatus.PENDING, sa_type=EnumText(HazardStatus))
    found_at: datetime = _ts()
    deadline: date | None = None  # 整改期限
    basis: str | None = Field(default=None, max_length=500)
    refusal_code: str | None = Field(
        default=None, max_length=32
    )  # a 不予通气 class (RefusalCondition)
    updated_at: datetime = _ts()


class HazardStatusChange(RecordsModel, table=True):
    """The note trail of a hazard (备注留痕): every status change, when, by whom, why."""

    __tablename__ = "hazard_status_change"

    id: uuid.UUID = _id()
    hazard_id: uuid.UUID = _fk("hazard.id")
    visit_id: uuid.UUID = _fk("visit.id")  # the visit in which the change was made
    from_status: HazardStatus = Field(sa_type=EnumText(HazardStatus))
    to_status: HazardStatus = Field(sa_type=EnumText(HazardStatus))
    note: str = Field(max_length=2000)
    actor: str = Field(max_length=64)
    changed_at: datetime = _ts()


class CustomerSignature(RecordsModel, table=True):
    """The customer's sign-off on the handover form: name and time (a drawn image later)."""

    __tablename__ = "customer_signature"

    id: uuid.UUID = _id()
    visit_id: uuid.UUID = Field(foreign_key="visit.id", sa_type=sa.Uuid, unique=True)
    signer_name: str = Field(max_length=200)
    signed_at: datetime = _ts()
    image_png: bytes | None = Field(default=None, sa_type=sa.LargeBinary)


class DeviceReading(RecordsModel, table=True):
    """What a meter or IC card said (raw bytes kept beside the decoded value)."""

    __tablename__ = "device_reading"

    id: uuid.UUID = _id()
    visit_id: uuid.UUID = _fk("visit.id")
    kind: DeviceKind = Field(sa_type=EnumText(DeviceKind))
    port: str | None = Field(default=None, max_length=200)
    raw_hex: str
    decoded: dict[str, Any] = _json()
    diagnosis: list[dict[str, Any]] = _json(list)
    read_at: datetime = _ts()


class FollowUp(RecordsModel, table=True):
    """The follow-up call due 3 days after the visit (五个一: one call afterwards)."""

    __tablename__ = "follow_up"

    id: uuid.UUID = _id()
    visit_id: uuid.UUID = Field(foreign_key="visit.id", sa_type=sa.Uuid, unique=True)
    due_date: date = Field(index=True)
    done_at: datetime | None = _ts(nullable=True)
    result: str | None = Field(default=None, max_length=2000)


class OutboxItem(RecordsModel, table=True):
    """A closed visit waiting for (or done with) the back office."""

    __tablename__ = "outbox_item"

    id: uuid.UUID = _id()
    visit_id: uuid.UUID = Field(foreign_key="visit.id", sa_type=sa.Uuid, unique=True)
    payload: dict[str, Any] = _json()  # VisitPayload.model_dump(mode="json")
    content_hash: str = Field(max_length=64)
    state: OutboxState = Field(
        default=OutboxState.PENDING, sa_type=EnumText(OutboxState), index=True
    )
    attempts: int = 0
    last_error: str | None = None
    server_ack: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    sent_at: datetime | None = _ts(nullable=True)


class SyncState(RecordsModel, table=True):
    """What the sync client remembers between runs (e.g. the server's epoch)."""

    __tablename__ = "sync_state"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=500)
    updated_at: datetime = _ts()
