"""The wire schema: strict, size-limited, UTC, and a stable content hash."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from fieldkit.sync.schema import (
    MAX_HAZARDS,
    VisitPayload,
    WorkOrderPayload,
    _json_scan,
    _small_json,
    canonical_bytes,
    canonical_json,
    content_hash,
)


def _visit(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema_version": 1,
        "visit_id": str(uuid.UUID(int=1)),
        "technician_id": "T001",
        "visit_type": "inspection",
        "customer": {
            "customer_no": "0012345",
            "name": "张三",
            "address": {"community": "幸福小区"},
        },
        "outcome": "not_home",
        "outcome_reason": "到访不遇",
        "started_at": "2026-11-23T09:30:00+08:00",
        "ended_at": "2026-11-23T01:40:00Z",
        "follow_up_due": "2026-11-26",
        "hazards": [
            {
                "hazard_id": str(uuid.UUID(int=2)),
                "description": "软管老化",
                "level": "general",
                "status": "pending",
                "found_at": "2026-11-23T01:35:00Z",
            }
        ],
    }
    data.update(changes)
    return data


def test_datetimes_are_aware_and_normalised_to_utc() -> None:
    visit = VisitPayload.model_validate(_visit())
    assert visit.started_at == datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
    assert visit.started_at.utcoffset() == timedelta(0)
    with pytest.raises(ValidationError) as info:
        VisitPayload.model_validate(_visit(started_at="2026-11-23T09:30:00"))
    assert info.value.errors()[0]["loc"] == ("started_at",)


def test_the_same_instant_in_another_zone_hashes_the_same() -> None:
    a = VisitPayload.model_validate(_visit())
    b = VisitPayload.model_validate(_visit(started_at="2026-11-23T01:30:00Z"))
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) == content_hash(VisitPayload.model_validate_json(canonical_json(a)))


def test_any_change_changes_the_hash() -> None:
    base = content_hash(VisitPayload.model_validate(_visit()))
    changed = _visit()
    changed["hazards"][0]["status"] = "rechecking"
    assert content_hash(VisitPayload.model_validate(changed)) != base
    assert content_hash(VisitPayload.model_validate(_visit(notes="x"))) != base


def test_canonical_json_is_sorted_compact_utf8() -> None:
    text = canonical_json(VisitPayload.model_validate(_visit()))
    assert "张三" in text and ", " not in text and ": " not in text
    assert text.index('"customer"') < text.index('"visit_id"')


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"surprise": 1}, ("surprise",)),
        ({"schema_version": 2}, ("schema_version",)),
        ({"outcome": "done"}, ("outcome",)),
        ({"visit_type": "安检"}, ("visit_type",)),
        ({"technician_id": ""}, ("technician_id",)),
        ({"notes": "x" * 5000}, ("notes",)),
        ({"follow_up_due": "soon"}, ("follow_up_due",)),
    ],
)
def test_bad_fields_are_named(changes: dict[str, Any], where: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as info:
        VisitPayload.model_validate(_visit(**changes))
    assert info.value.errors()[0]["loc"][: len(where)] == where


def test_list_limits() -> None:
    data = _visit()
    data["hazards"] = [
        dict(copy.deepcopy(data["hazards"][0]), hazard_id=str(uuid.uuid4()))
        for _ in range(MAX_HAZARDS + 1)
    ]
    with pytest.raises(ValidationError) as info:
        VisitPayload.model_validate(data)
    assert info.value.errors()[0]["loc"] == ("hazards",)


def test_a_huge_step_value_is_refused() -> None:
    run = {
        "run_id": str(uuid.uuid4()),
        "procedure_id": "ignition",
        "procedure_version": 1,
        "status": "completed",
        "started_at": "2026-11-23T01:30:00Z",
        "steps": [
            {
                "result_id": str(uuid.uuid4()),
                "step_id": "s1",
                "kind": "answered",
                "value": {"blob": "x" * 30_000},
                "at": "2026-11-23T01:30:00Z",
                "actor": "T001",
            }
        ],
    }
    with pytest.raises(ValidationError) as info:
        VisitPayload.model_validate(_visit(procedure_runs=[run]))
    assert "too large" in str(info.value)


def test_work_order_defaults_and_tombstone() -> None:
    order = WorkOrderPayload(
        work_order_id=uuid.uuid4(),
        order_no="WO-1",
        visit_type="repair",
        customer={"customer_no": "C1"},
        assigned_to="T001",
        cursor=7,
        deleted=True,
        scheduled_for=date(2026, 11, 25),
    )
    assert order.status == "open" and order.deleted
    with pytest.raises(ValidationError):
        WorkOrderPayload.model_validate(dict(order.model_dump(), cursor=-1))


def test_non_utc_offsets_are_converted() -> None:
    east8 = timezone(timedelta(hours=8))
    visit = VisitPayload.model_validate(
        _visit(ended_at=datetime(2026, 11, 23, 9, 40, tzinfo=east8).isoformat())
    )
    assert visit.model_dump(mode="json")["ended_at"] == "2026-11-23T01:40:00Z"


_JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
_JSON = st.recursive(
    _JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.text(max_size=10), _JSON, max_size=6))
def test_the_size_bound_of_free_form_json_is_never_below_its_json_text(value) -> None:
    """A step value is measured without dumping it when its bound is small enough: the bound
    must never be under the real length (or a too-large value would slip through)."""
    problem, bound = _json_scan(value)
    if problem is None:
        assert bound >= len(json.dumps(value, ensure_ascii=False))


def test_a_value_just_over_the_limit_is_still_measured_exactly() -> None:
    escaped = {"k": "\x01" * 3_500}  # 3 500 characters, 21 000 as JSON text (\u0001 each)
    plain = {"k": "x" * 3_500}  # its bound is over the limit too, its text is not
    assert _small_json(plain) == plain
    with pytest.raises(ValueError, match="too large"):
        _small_json(escaped)


_TRICKY_FLOATS = st.sampled_from(
    [1e-05, 1e-07, -9.999999999999999e-05, 0.0001, 5e-324, -0.0, 0.0, 2.0, 1e16, 1e22,
     1.7976931348623157e308, 0.1, 123.456, 1500000000000000.5]
)  # fmt: skip
_CANONICAL_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # beyond 64 bits too
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TRICKY_FLOATS
    | st.text(max_size=30)  # every code point but lone surrogates: control characters …
)
_CANONICAL_JSON = st.recursive(
    _CANONICAL_LEAVES,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=10), _CANONICAL_JSON, max_size=8))
def test_the_fast_canonical_text_is_the_json_modules_text(value) -> None:
    """``canonical_text`` writes with orjson: byte for byte the text the json module's
    definition writes (sorted keys, no spaces, UTF-8, canonical numbers), whatever the
    floats, integers, keys and characters — or a content hash would change."""
    from fieldkit.sync.schema import (
        canonical_text,
        canonical_text_of_own_dump,
        reference_canonical_text,
    )

    expected = reference_canonical_text(value)
    assert canonical_text(value) == expected
    own = copy.deepcopy(value)
    assert canonical_text_of_own_dump(own) == expected
    assert reference_canonical_text(own) == expected  # its numbers made canonical in place


def test_the_canonical_text_of_a_visit_is_unchanged() -> None:
    """The hash of a fixed visit, as every earlier fieldkit computed it."""
    visit = _visit()
    visit["meter"] = {"meter_no": "M1", "reading": 2.0, "remaining_gas": 1e-05}
    payload = VisitPayload.model_validate(visit)
    text = canonical_json(payload)
    assert '"reading":2,' in text and '"remaining_gas":1e-05' in text
    reference = json.dumps(
        json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert text == reference
    # computed by the json-module-only canonical_text (before orjson wrote it)
    assert content_hash(payload) == (
        "cf9382f8b613c302e9416fbb436201e2ac099711a763d79e6ea102af80c0d8ef"
    )


_ZONES = st.sampled_from([UTC, None, timezone(timedelta(hours=8)), timezone(timedelta(0), "Z0")])
_ANY_ZONE = _ZONES | st.timedeltas(
    min_value=timedelta(hours=-23), max_value=timedelta(hours=23)
).map(timezone)


@settings(max_examples=200, deadline=None)
@given(
    at=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=_ANY_ZONE
    ),
    value=st.floats(allow_nan=False, allow_infinity=False) | _TRICKY_FLOATS,
    answer=st.dictionaries(st.text(max_size=10), _CANONICAL_JSON, max_size=6),
    deadline=st.none() | st.dates(),
    fixed=st.booleans(),
)
def test_the_server_s_canonical_bytes_are_the_canonical_json(
    at: datetime, value: float, answer: dict[str, Any], deadline: date | None, fixed: bool
) -> None:
    """``canonical_bytes`` (a Python-mode dump written by orjson: the push's fast path) is
    byte for byte ``canonical_json`` (pydantic's JSON mode, then the json module's
    definition), whatever the datetimes (any zone, microseconds, early years, even set
    without validation), numbers, free-form answers (integers beyond 64 bits too) and the
    hazard fields left out while empty."""
    from fieldkit.sync.schema import reference_canonical_text

    visit = _visit(outcome="completed")
    visit["meter"] = {"meter_no": "M1", "reading": value}
    run = str(uuid.UUID(int=9))
    visit["procedure_runs"] = [
        {
            "run_id": run, "procedure_id": "inspection", "procedure_version": 3.0,
            "status": "completed", "started_at": "2026-11-23T01:31:00Z",
            "steps": [
                {"result_id": str(uuid.UUID(int=10)), "step_id": "s1", "kind": "answered",
                 "value": answer, "passed": True, "at": "2026-11-23T01:32:00Z", "actor": "T001"}
            ],
            "measurements": [
                {"measurement_id": str(uuid.UUID(int=11)), "step_id": "s1", "quantity": "p",
                 "value": value, "unit": "kPa", "taken_at": "2026-11-23T01:33:00Z"}
            ],
        }
    ]  # fmt: skip
    if fixed:
        visit["hazards"][0].update(status="fixed", fixed_at="2026-11-23T01:36:00+08:00")
    visit["hazards"][0]["deadline"] = deadline and deadline.isoformat()
    try:
        payload = VisitPayload.model_validate(visit)
    except ValidationError:  # a free-form answer the schema refuses (too large …)
        return
    payload.procedure_runs[0].steps[0].at = at  # as a caller could set it, unvalidated
    expected = reference_canonical_text(payload.model_dump(mode="json")).encode()
    got = canonical_bytes(payload)
    assert got == expected
    assert canonical_json(payload).encode() == expected
