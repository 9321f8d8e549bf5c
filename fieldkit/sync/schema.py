"""The wire schema shared by the laptop (records, sync client) and the back-office server.

Pydantic v2 models, ``extra="forbid"``, no UI and no web framework: importable by both ends.
Size limits are part of the schema, so the server rejects a huge payload with a 4xx before
writing anything. Every datetime is timezone-aware and normalised to UTC.

A visit record is identified by its client-made UUID (``visit_id``) and the
:func:`content_hash` of its canonical JSON: the same content sent twice is harmless,
different content under the same id is a conflict (409) that the laptop keeps.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

# --- size limits (a record bigger than this is refused with 413/422, never half-stored) ---
MAX_SHORT = 200  # ids, names, numbers, units
MAX_TEXT = 4_000  # notes, descriptions, reasons
MAX_RAW_HEX = 8_192  # a device frame as hex
MAX_SIGNATURE_B64 = 1_500_000  # ~1.1 MB PNG
MAX_RUNS = 50
MAX_STEPS = 1_000
MAX_MEASUREMENTS = 1_000
MAX_SWAPS = 10
MAX_SEALS = 20
MAX_HAZARDS = 200
MAX_READINGS = 200
MAX_DIAGNOSES = 50
MAX_JSON_OBJECT = 20_000  # characters of a free-form dict (step value, decoded frame)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


NUL_MESSAGE = "must not contain a NUL character (\\u0000)"


def _no_nul(value: str) -> str:
    """Text with a NUL in it is refused: PostgreSQL cannot store it, and no form has one."""
    if "\x00" in value:
        raise ValueError(NUL_MESSAGE)
    return value


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_nul(v) for v in value)
    return False


def _small_json(value: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(value, ensure_ascii=False, default=str))
    if size > MAX_JSON_OBJECT:
        raise ValueError(f"object too large ({size} characters, at most {MAX_JSON_OBJECT})")
    if _holds_nul(value):
        raise ValueError(NUL_MESSAGE)
    return value


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
Short = Annotated[str, Field(max_length=MAX_SHORT), AfterValidator(_no_nul)]
Id = Annotated[str, Field(min_length=1, max_length=MAX_SHORT), AfterValidator(_no_nul)]
LongText = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(_no_nul)]
RequiredText = Annotated[str, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(_no_nul)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_small_json)]

VisitType = Literal["community_gas_on", "ignition", "inspection", "repair", "recheck"]
"""小区通气, 通气点火, 安检, 维修, 复查."""

VisitOutcome = Literal[
    "completed", "refused_gas", "stopped_unsafe", "not_home", "customer_refused", "incomplete"
]
"""completed, 不予通气, stopped_unsafe, 到访不遇, 拒检, incomplete."""

VISIT_TYPES: tuple[str, ...] = (
    "community_gas_on",
    "ignition",
    "inspection",
    "repair",
    "recheck",
)
VISIT_OUTCOMES: tuple[str, ...] = (
    "completed",
    "refused_gas",
    "stopped_unsafe",
    "not_home",
    "customer_refused",
    "incomplete",
)
WorkOrderStatus = Literal["open", "cancelled", "done"]
HazardLevel = Literal["major", "general"]
HazardStatus = Literal["pending", "rechecking", "fixed"]


class WireModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Address(WireModel):
    community: Short | None = None  # 小区
    building: Short | None = None  # 楼栋
    unit: Short | None = None  # 单元
    floor: Short | None = None  # 楼层
    room: Short | None = None  # 房号
    detail: LongText | None = None


class CustomerPayload(WireModel):
    customer_no: Id  # 户号
    name: Short | None = None
    phone: Short | None = None
    address: Address = Field(default_factory=Address)


class WorkOrderPayload(WireModel):
    work_order_id: UUID
    order_no: Id
    visit_type: VisitType
    customer: CustomerPayload
    assigned_to: Id  # technician id
    scheduled_for: date | None = None
    notes: LongText | None = None
    status: WorkOrderStatus = "open"
    deleted: bool = False  # tombstone: the order was cancelled or withdrawn
    cursor: int = Field(ge=0)  # server-assigned, monotonically increasing


class StepResultPayload(WireModel):
    result_id: UUID  # the procedure engine's StepEvent.event_id
    step_id: Id
    kind: Id
    value: JsonObject = Field(default_factory=dict)
    passed: bool | None = None
    at: UtcDatetime
    actor: Short


class MeasurementPayload(WireModel):
    measurement_id: UUID
    step_id: Id
    quantity: Id
    value: float = Field(allow_inf_nan=False)
    unit: Short
    taken_at: UtcDatetime


class ProcedureRunPayload(WireModel):
    run_id: UUID
    procedure_id: Id
    procedure_version: int = Field(ge=0)
    status: Id
    started_at: UtcDatetime
    ended_at: UtcDatetime | None = None
    steps: list[StepResultPayload] = Field(default_factory=list, max_length=MAX_STEPS)
    measurements: list[MeasurementPayload] = Field(
        default_factory=list, max_length=MAX_MEASUREMENTS
    )


class MeterSwapPayload(WireModel):
    swap_id: UUID
    old_meter_no: Id
    new_meter_no: Id
    seal_nos: list[Short] = Field(default_factory=list, max_length=MAX_SEALS)
    old_meter_reading: float | None = Field(default=None, allow_inf_nan=False)
    gas_used: float | None = Field(default=None, allow_inf_nan=False)
    gas_remaining: float | None = Field(default=None, allow_inf_nan=False)
    swapped_at: UtcDatetime
    reason: LongText | None = None


class MeterPayload(WireModel):
    meter_no: Short | None = None  # 表钢号
    seal_nos: list[Short] = Field(default_factory=list, max_length=MAX_SEALS)
    reading: float | None = Field(default=None, allow_inf_nan=False)
    remaining_gas: float | None = Field(default=None, allow_inf_nan=False)


class HazardPayload(WireModel):
    hazard_id: UUID
    description: RequiredText
    level: HazardLevel  # 重大 / 一般
    status: HazardStatus  # 待整改 → 复查中 → 已整改
    found_at: UtcDatetime
    deadline: date | None = None
    basis: LongText | None = None


class SignaturePayload(WireModel):
    signer_name: Id
    signed_at: UtcDatetime
    image_png_base64: Annotated[str, Field(max_length=MAX_SIGNATURE_B64)] | None = None


class DeviceReadingPayload(WireModel):
    reading_id: UUID
    kind: Literal["meter", "card"]
    port: Short | None = None
    raw_hex: Annotated[str, Field(max_length=MAX_RAW_HEX, pattern=r"^[0-9A-Fa-f\s]*$")]
    decoded: JsonObject = Field(default_factory=dict)
    diagnosis: list[JsonObject] = Field(default_factory=list, max_length=MAX_DIAGNOSES)
    read_at: UtcDatetime


class VisitPayload(WireModel):
    schema_version: Literal[1] = 1
    visit_id: UUID
    work_order_id: UUID | None = None
    technician_id: Id
    visit_type: VisitType
    customer: CustomerPayload
    meter: MeterPayload | None = None
    outcome: VisitOutcome
    outcome_reason: LongText | None = None
    started_at: UtcDatetime
    ended_at: UtcDatetime
    procedure_runs: list[ProcedureRunPayload] = Field(default_factory=list, max_length=MAX_RUNS)
    meter_swaps: list[MeterSwapPayload] = Field(default_factory=list, max_length=MAX_SWAPS)
    hazards: list[HazardPayload] = Field(default_factory=list, max_length=MAX_HAZARDS)
    signature: SignaturePayload | None = None
    device_readings: list[DeviceReadingPayload] = Field(
        default_factory=list, max_length=MAX_READINGS
    )
    follow_up_due: date
    notes: LongText | None = None


def canonical_json(payload: VisitPayload) -> str:
    """The canonical JSON text of a visit (sorted keys, no spaces, UTF-8 kept)."""
    return _canonical(payload.model_dump(mode="json"))


def _canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(payload: VisitPayload) -> str:
    """sha256 hex of :func:`canonical_json` — the record's content identity."""
    return content_hash_of_dump(payload.model_dump(mode="json"))


def content_hash_of_dump(data: dict[str, Any]) -> str:
    """:func:`content_hash` of a payload already dumped with ``model_dump(mode="json")``."""
    return hashlib.sha256(_canonical(data).encode("utf-8")).hexdigest()


# --- the push / pull envelopes ------------------------------------------------------------

MAX_BATCH = 500  # visits per push request


class VisitBatch(WireModel):
    """``POST /api/v1/visits/batch``: many visits in one request."""

    visits: list[VisitPayload] = Field(min_length=1, max_length=MAX_BATCH)


PushStatus = Literal["stored", "duplicate", "conflict", "rejected"]


class PushResult(WireModel):
    """The server's answer for one visit of a push."""

    visit_id: UUID
    status: PushStatus
    content_hash: str | None = None  # the hash the server computed from what it received
    server_hash: str | None = None  # on conflict: the hash already stored
    error: dict[str, Any] | None = None  # on rejected: {"code": …, "message": …}


class BatchResult(WireModel):
    results: list[PushResult]


class WorkOrderPage(WireModel):
    """``GET /api/v1/work-orders?since=<cursor>&limit=N``: changes ordered by cursor."""

    items: list[WorkOrderPayload]
    next_cursor: int = Field(ge=0)
    has_more: bool


class ErrorBody(WireModel):
    code: str
    message: str
    detail: Any | None = None


class ErrorResponse(WireModel):
    """Every error the server sends: ``{"error": {"code": "...", "message": "..."}}``."""

    error: ErrorBody
