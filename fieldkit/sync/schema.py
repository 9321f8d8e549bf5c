"""The wire schema shared by the laptop (records, sync client) and the back-office server.

Pydantic v2 models, ``extra="forbid"``, no UI and no web framework: importable by both ends.
Size limits are part of the schema, so the server rejects a huge payload with a 4xx before
writing anything. Every datetime is timezone-aware and normalised to UTC.

A visit record is identified by its client-made UUID (``visit_id``) and the
:func:`content_hash` of its canonical JSON: the same content sent twice is harmless,
different content under the same id is a conflict (409) that the laptop keeps.

Every value is bounded so that no input reaches the database as something it cannot store:
integers fit the column they go to, a datetime stays within years 1–9999 once converted to
UTC, text holds no NUL and no lone surrogate, free-form JSON is at most
:data:`MAX_JSON_DEPTH` deep. Types are strict: ``true`` is not ``1``, ``123`` is not a
date, ``"5"`` is not a number. A refused value is a 422 naming the field's path.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    Strict,
    model_serializer,
    model_validator,
)

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
MAX_JSON_DEPTH = 16  # nesting levels of a free-form dict
MAX_INT32 = 2**31 - 1  # an INTEGER column
MAX_INT64 = 2**63 - 1  # a BIGINT column
# An integer inside free-form JSON: as large as a float can be (PostgreSQL's JSONB gives a
# float like 1.797e308 back as the integer it equals), no larger.
MAX_JSON_INTEGER = 10**309


NUL_MESSAGE = "must not contain a NUL character (\\u0000)"
SURROGATE_MESSAGE = "must not contain a lone surrogate (\\ud800-\\udfff): it is not valid UTF-8"


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return NUL_MESSAGE
    if value.isascii():  # no surrogate possible (and no copy made to find out)
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_MESSAGE
    return None


def _clean_text(value: str) -> str:
    """Text PostgreSQL and UTF-8 can hold: no NUL (no form has one), no lone surrogate."""
    if "\x00" not in value and value.isascii():  # the common case, without another call
        return value
    problem = _text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _utc(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("the time in UTC falls outside the years 1-9999") from None
    if not 1 <= utc.year <= 9999:  # pragma: no cover - astimezone raises first
        raise ValueError("the time in UTC falls outside the years 1-9999")
    return utc


def _text_datetime(value: Any) -> Any:
    """A datetime is ISO 8601 text (or a datetime object): never a number."""
    if isinstance(value, datetime) or (isinstance(value, str) and not value.strip().isdigit()):
        return value
    raise ValueError(
        "must be an ISO 8601 date and time with a time zone, e.g. 2026-11-23T09:30:00+08:00"
    )


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _text_date(value: Any) -> Any:
    """A date is ``YYYY-MM-DD`` text (or a date object): never a number."""
    if isinstance(value, datetime):
        raise ValueError("must be a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("must be a date written YYYY-MM-DD")


def _flat_bound(value: dict[Any, Any]) -> int | None:
    """:func:`_json_scan`'s bound for the common case, a flat object of valid text, numbers,
    booleans and nulls (a step's answer); None for anything else, left to the full scan."""
    bound = 2
    texts = []
    for key, inner in value.items():
        if type(key) is not str:
            return None
        texts.append(key)
        bound += 6 * len(key) + 6
        kind = type(inner)
        if kind is str:
            texts.append(inner)
            bound += 6 * len(inner) + 2
        elif kind is bool or inner is None:
            bound += 5
        elif kind is int and -(10**19) < inner < 10**19:
            bound += 21
        elif kind is float and math.isfinite(inner):
            bound += 24
        else:
            return None
    return None if _text_problem("".join(texts)) else bound


def _json_scan(value: Any) -> tuple[str | None, int]:
    """What makes a free-form JSON value unstorable (found without recursion), and an upper
    bound of the length of its ``json.dumps`` text (so a small value is never dumped only to
    be measured: a push checks thousands of step values)."""
    if type(value) is dict:
        flat = _flat_bound(value)
        if flat is not None:
            return None, flat
    stack: list[tuple[Any, int]] = [(value, 0)]
    bound = 0
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth >= MAX_JSON_DEPTH:
                return f"nested deeper than {MAX_JSON_DEPTH} levels", bound
            bound += 2  # {} or []
            if isinstance(item, dict):
                for key, inner in item.items():
                    if not isinstance(key, str):
                        return "object keys must be text", bound
                    problem = _text_problem(key)
                    if problem:
                        return f"a key {problem}", bound
                    bound += 6 * len(key) + 6  # quoted, every character escaped, ": " and ", "
                    stack.append((inner, depth + 1))
            else:
                bound += 2 * len(item)  # ", "
                stack.extend((inner, depth + 1) for inner in item)
        elif isinstance(item, str):
            problem = _text_problem(item)
            if problem:
                return problem, bound
            bound += 6 * len(item) + 2  # at worst every character as \uXXXX
        elif isinstance(item, bool) or item is None:
            bound += 5
        elif isinstance(item, int):
            if abs(item) >= MAX_JSON_INTEGER:
                return "holds an integer of more than 309 digits", bound
            bound += 21 if -(10**19) < item < 10**19 else len(str(item))
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "holds a number that is not finite (NaN or infinity)", bound
            bound += 24  # the longest repr of a finite float: -1.7976931348623157e+308
        else:
            return f"holds a value of type {type(item).__name__}, which JSON cannot carry", bound
    return None, bound


def _json_problem(value: Any) -> str | None:
    """What makes a free-form JSON value unstorable, found without recursion."""
    return _json_scan(value)[0]


def _small_json(value: dict[str, Any]) -> dict[str, Any]:
    problem, bound = _json_scan(value)  # first: json.dumps of a deep value would recurse
    if problem:
        raise ValueError(problem)
    if bound <= MAX_JSON_OBJECT:  # surely small enough: not dumped just to be measured
        return value
    size = len(json.dumps(value, ensure_ascii=False))
    if size > MAX_JSON_OBJECT:
        raise ValueError(f"object too large ({size} characters, at most {MAX_JSON_OBJECT})")
    return value


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


def _whole_number(value: Any) -> Any:
    """An integer, written ``3`` or ``3.0`` (JSON does not tell them apart); never true/false
    or text."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return _no_bool(value)


# What the validators refuse is also in the JSON schema (OpenAPI), so a client generating
# schema-valid data never meets a hidden rule: no NUL in text; no date-time on the first or
# last day of the calendar (the only days whose UTC conversion can leave years 1-9999).
_TEXT_SCHEMA = {"pattern": "^[^\\u0000]*$"}
_DATETIME_SCHEMA = {"pattern": "^(?!0001-01-01|9999-12-31)"}

UtcDatetime = Annotated[
    AwareDatetime,
    BeforeValidator(_text_datetime),
    AfterValidator(_utc),
    Field(json_schema_extra=_DATETIME_SCHEMA),
]
IsoDate = Annotated[date, BeforeValidator(_text_date)]
Short = Annotated[
    str, Field(max_length=MAX_SHORT, json_schema_extra=_TEXT_SCHEMA), AfterValidator(_clean_text)
]
Id = Annotated[
    str,
    Field(min_length=1, max_length=MAX_SHORT, json_schema_extra=_TEXT_SCHEMA),
    AfterValidator(_clean_text),
]
LongText = Annotated[
    str, Field(max_length=MAX_TEXT, json_schema_extra=_TEXT_SCHEMA), AfterValidator(_clean_text)
]
RequiredText = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TEXT, json_schema_extra=_TEXT_SCHEMA),
    AfterValidator(_clean_text),
]
JsonObject = Annotated[dict[str, Any], AfterValidator(_small_json)]
Int32 = Annotated[int, Strict(), Field(ge=0, le=MAX_INT32), BeforeValidator(_whole_number)]
Cursor = Annotated[int, Strict(), Field(ge=0, le=MAX_INT64)]
Number = Annotated[float, BeforeValidator(_no_bool), Strict(), Field(allow_inf_nan=False)]
Flag = Annotated[bool, Strict()]

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
# The manual's 不予通气 classes (fieldkit.procedures.models.RefusalCondition; a test keeps
# the two in step): a hazard of one of these classes blocks ignition until it is fixed.
RefusalClass = Literal[
    "private_alteration", "concealed_piping", "no_pipe_clamps", "non_compliant_installation"
]


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
    scheduled_for: IsoDate | None = None
    notes: LongText | None = None
    status: WorkOrderStatus = "open"
    deleted: Flag = False  # tombstone: the order was cancelled or withdrawn
    cursor: Cursor  # server-assigned, monotonically increasing


class StepResultPayload(WireModel):
    result_id: UUID  # the procedure engine's StepEvent.event_id
    step_id: Id
    kind: Id
    value: JsonObject = Field(default_factory=dict)
    passed: Flag | None = None
    at: UtcDatetime
    actor: Short


class MeasurementPayload(WireModel):
    measurement_id: UUID
    step_id: Id
    quantity: Id
    value: Number
    unit: Short
    taken_at: UtcDatetime


class ProcedureRunPayload(WireModel):
    run_id: UUID
    procedure_id: Id
    procedure_version: Int32
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
    old_meter_reading: Number | None = None
    gas_used: Number | None = None
    gas_remaining: Number | None = None
    swapped_at: UtcDatetime
    reason: LongText | None = None


class MeterPayload(WireModel):
    meter_no: Short | None = None  # 表钢号
    seal_nos: list[Short] = Field(default_factory=list, max_length=MAX_SEALS)
    reading: Number | None = None
    remaining_gas: Number | None = None


class HazardPayload(WireModel):
    hazard_id: UUID
    description: RequiredText
    level: HazardLevel  # 重大 / 一般
    status: HazardStatus  # 待整改 → 复查中 → 已整改
    found_at: UtcDatetime
    deadline: IsoDate | None = None  # 整改期限 (rectification deadline)
    basis: LongText | None = None
    refusal_code: RefusalClass | None = None  # its 不予通气 class, when it is one
    fixed_at: UtcDatetime | None = None  # when it was recorded 已整改 (status "fixed")

    @model_validator(mode="after")
    def _fixed_at_fits(self) -> HazardPayload:
        if self.fixed_at is not None:
            if self.status != "fixed":
                raise ValueError("fixed_at is given only for a fixed hazard")
            if self.fixed_at < self.found_at:
                raise ValueError("fixed_at is before found_at")
        return self

    @model_serializer(mode="wrap")
    def _omit_absent(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        # Fields added after the first laptops shipped are left out while empty, so a
        # record made before them keeps its content hash (and is not a 409 conflict).
        data: dict[str, Any] = handler(self)
        for name in _LATER_HAZARD_FIELDS:
            if data.get(name) is None:
                data.pop(name, None)
        return data


_LATER_HAZARD_FIELDS = ("refusal_code", "fixed_at")


class SignaturePayload(WireModel):
    signer_name: Id
    signed_at: UtcDatetime
    image_png_base64: (
        Annotated[str, Field(max_length=MAX_SIGNATURE_B64, pattern=r"^[A-Za-z0-9+/=\s]*$")] | None
    ) = None


class DeviceReadingPayload(WireModel):
    reading_id: UUID
    kind: Literal["meter", "card"]
    port: Short | None = None
    raw_hex: Annotated[str, Field(max_length=MAX_RAW_HEX, pattern=r"^[0-9A-Fa-f\s]*$")]
    decoded: JsonObject = Field(default_factory=dict)
    diagnosis: list[JsonObject] = Field(default_factory=list, max_length=MAX_DIAGNOSES)
    read_at: UtcDatetime


class VisitPayload(WireModel):
    schema_version: Annotated[Literal[1], BeforeValidator(_no_bool)] = 1
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
    follow_up_due: IsoDate
    notes: LongText | None = None


def repeated_ids(payload: VisitPayload) -> list[str]:
    """Child ids used twice within one visit (such a visit cannot be stored)."""
    # compared as integers: a UUID's own __hash__ is Python code (a push checks thousands)
    groups = {
        "procedure_runs.run_id": [r.run_id.int for r in payload.procedure_runs],
        "steps.result_id": [s.result_id.int for r in payload.procedure_runs for s in r.steps],
        "measurements.measurement_id": [
            m.measurement_id.int for r in payload.procedure_runs for m in r.measurements
        ],
        "meter_swaps.swap_id": [m.swap_id.int for m in payload.meter_swaps],
        "hazards.hazard_id": [h.hazard_id.int for h in payload.hazards],
    }
    return [name for name, ids in groups.items() if len(set(ids)) != len(ids)]


def canonical_json(payload: VisitPayload) -> str:
    """The canonical JSON text of a visit (sorted keys, no spaces, UTF-8 kept, canonical
    numbers: see :func:`canonical_text`)."""
    return canonical_text_of_own_dump(payload.model_dump(mode="json"))


class _ReprFloat(float):
    """A float whose canonical text is its ``repr`` written by :mod:`json`: ``1e-05`` where
    orjson writes ``0.00001`` (the two agree on every other non-integral float, from 1e-4
    up; an integral float is written as an integer anyway)."""

    __slots__ = ()


def _canonical_number(value: float) -> int | float:
    """A number as a database's JSON gives it back: PostgreSQL's JSONB keeps a number's
    decimal value, not its spelling (``-0.0`` → ``0.0``, ``1e16`` → ``10000000000000000``).
    An integral value is therefore written as the integer of its shortest decimal form, any
    other as the float itself (whose ``repr`` survives the round trip)."""
    if value.is_integer():
        return int(Decimal(repr(value)))
    if -1e-4 < value < 1e-4:
        return _ReprFloat(value)
    return value


def _orjson_default(value: Any) -> Any:
    if isinstance(value, _ReprFloat):
        return orjson.Fragment(float.__repr__(value))
    raise TypeError(f"{type(value).__name__} is not JSON")


_LEAVES = (str, int, bool, type(None))  # exact types (a dumped payload holds no subclasses)


def _canonical_value(value: Any) -> Any:
    # Recursion is bounded: the schema limits free-form JSON to MAX_JSON_DEPTH levels.
    # Exact type checks, leaves skipped without a call: this runs for every pushed visit.
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in _LEAVES else _canonical_value(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _LEAVES else _canonical_value(v) for v in value]
    if isinstance(value, float):
        return _canonical_number(value)
    if isinstance(value, dict):
        return {k: _canonical_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical_value(v) for v in value]
    return value


def canonical_text(data: dict[str, Any]) -> str:
    """The canonical JSON text of a dumped payload: sorted keys, no spaces, UTF-8 kept,
    canonical numbers. The same text comes out of a copy read back from PostgreSQL's JSONB
    or SQLite, so a record's hash survives the database."""
    value = _canonical_value(data)
    try:  # the same text as the json module's below, several times faster
        return orjson.dumps(value, default=_orjson_default, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # an integer beyond 64 bits, text that is not UTF-8 …
        return reference_canonical_text(value)


def canonical_text_of_own_dump(data: dict[str, Any]) -> str:
    """:func:`canonical_text` of a dump nobody else holds (fresh from ``model_dump(mode=
    "json")``): its numbers are made canonical in place, not copied (a push does this for
    every visit). ``data`` then holds the canonical numbers (the same values JSONB keeps)."""
    if _canonicalise_python_dump(data):  # a JSON-mode dump holds only plain leaves
        try:
            return orjson.dumps(data, default=_orjson_default, option=orjson.OPT_SORT_KEYS).decode()
        except TypeError:  # an integer beyond 64 bits, text that is not UTF-8 …
            pass
    return reference_canonical_text(data)


_BYTES_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z


def canonical_bytes(payload: VisitPayload) -> bytes:
    """:func:`canonical_json` as UTF-8 bytes (what the content hash is taken of), made
    faster for the server's push: dumped as Python objects (no text made for every UUID
    and datetime only to be copied again), written by orjson, which writes a UUID, a UTC
    datetime (``Z``) and a date as pydantic's JSON mode does (a test compares the two over
    generated visits); kept as bytes (hashed and sent to PostgreSQL without re-encoding).
    Anything orjson cannot write (an integer beyond 64 bits …) goes the reference way."""
    data = payload.model_dump()
    if _canonicalise_python_dump(data):
        try:
            return orjson.dumps(data, default=_orjson_default, option=_BYTES_OPTIONS)
        except TypeError:
            pass
    return canonical_json(payload).encode("utf-8")


_PLAIN = (str, int, bool, type(None), UUID, date)


def _canonicalise_python_dump(value: dict[str, Any] | list[Any]) -> bool:
    """The numbers of a fresh dump (``model_dump()``, Python or JSON mode: plain dicts,
    lists and leaves) made canonical where they are, without a copy; False if it
    holds a value whose text orjson might not write as pydantic's JSON mode would (a tuple,
    a subclass, a datetime not in UTC …): the caller then takes the reference path (a
    validated payload's datetimes are all in UTC)."""
    items = value.items() if type(value) is dict else enumerate(value)
    for key, inner in items:
        kind = type(inner)
        if kind is float:
            value[key] = _canonical_number(inner)  # type: ignore[index]
        elif kind is dict or kind is list:
            if not _canonicalise_python_dump(inner):
                return False
        elif kind is datetime:
            if inner.tzinfo is not UTC and inner.tzinfo is not None:
                return False  # another zone: orjson rounds an offset of seconds, pydantic not
        elif kind not in _PLAIN:
            return False
    return True


def reference_canonical_text(data: Any) -> str:
    """:func:`canonical_text` written by :mod:`json` alone (the definition; the tests check
    that the two agree)."""
    return json.dumps(
        _canonical_value(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def content_hash(payload: VisitPayload) -> str:
    """sha256 hex of :func:`canonical_json` — the record's content identity."""
    return hashlib.sha256(canonical_bytes(payload)).hexdigest()


def content_hash_of_dump(data: dict[str, Any]) -> str:
    """:func:`content_hash` of a payload already dumped with ``model_dump(mode="json")``
    (or read back from a database)."""
    return hashlib.sha256(canonical_text(data).encode("utf-8")).hexdigest()


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
    next_cursor: Cursor
    has_more: bool
    # The server database's identity: when it changes, cursors from before mean nothing
    # and the laptop re-pulls everything (docs/sync.md, "Epoch").
    epoch: Short | None = None


class ErrorBody(WireModel):
    code: str
    message: str
    detail: Any | None = None


class ErrorResponse(WireModel):
    """Every error the server sends: ``{"error": {"code": "...", "message": "..."}}``."""

    error: ErrorBody
