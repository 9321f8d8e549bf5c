"""Issue 11 defects 1, 7 and 10: every value bounded (422 with the field's path, never a
500), strict types, the content hash surviving the database, the token checked before the
body is read, 405 keeping ``Allow``. Against the real server on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
import time
import uuid
from typing import Any

import pytest

from fieldkit.records.repo import VisitRepository
from fieldkit.sync.schema import VisitPayload, content_hash, content_hash_of_dump
from tests.sync.conftest import Backoffice, close_visit


def _payload(laptop) -> dict[str, Any]:
    visit_id = close_visit(laptop, steps=2)
    (item,) = [i for i in VisitRepository(laptop).pending_outbox() if i.visit_id == visit_id]
    return copy.deepcopy(item.payload)


def _nest(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        value = {"v": value}
    return value


def _cases(good: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """name → (the field path the 422 must name, the bad payload)."""
    cases: dict[str, tuple[str, dict[str, Any]]] = {}

    def case(name: str, field: str, change) -> None:
        bad = copy.deepcopy(good)
        change(bad)
        cases[name] = (field, bad)

    run = "procedure_runs.0"
    case(
        "int32 overflow",
        f"{run}.procedure_version",
        lambda p: p["procedure_runs"][0].update(procedure_version=2**31),
    )
    case(
        "int64 overflow",
        f"{run}.procedure_version",
        lambda p: p["procedure_runs"][0].update(procedure_version=2**64),
    )
    for field in ("started_at", "ended_at"):
        case(
            f"{field} past 9999",
            field,
            lambda p, f=field: p.update({f: "9999-12-31T23:00:00-05:00"}),
        )
        case(
            f"{field} before 1",
            field,
            lambda p, f=field: p.update({f: "0001-01-01T00:00:00+05:00"}),
        )
        case(f"{field} as a number", field, lambda p, f=field: p.update({f: 123}))
    case(
        "step time past 9999",
        f"{run}.steps.0.at",
        lambda p: p["procedure_runs"][0]["steps"][0].update(at="9999-12-31T23:30:00-01:00"),
    )
    case(
        "hazard time before 1",
        "hazards.0.found_at",
        lambda p: p["hazards"][0].update(found_at="0001-01-01T00:10:00+01:00"),
    )
    case(
        "lone surrogate value",
        f"{run}.steps.0.value",
        lambda p: p["procedure_runs"][0]["steps"][0].update(value={"answer": "\ud800"}),
    )
    case(
        "lone surrogate key",
        f"{run}.steps.0.value",
        lambda p: p["procedure_runs"][0]["steps"][0].update(value={"\udfff": 1}),
    )
    case("lone surrogate text", "notes", lambda p: p.update(notes="a\ud800b"))
    case(
        "deep nesting",
        f"{run}.steps.0.value",
        lambda p: p["procedure_runs"][0]["steps"][0].update(value=_nest(400)),
    )
    case(
        "huge integer in JSON",
        f"{run}.steps.0.value",
        lambda p: p["procedure_runs"][0]["steps"][0].update(value={"n": 10**400}),
    )
    case("schema_version true", "schema_version", lambda p: p.update(schema_version=True))
    case(
        "passed as 1",
        f"{run}.steps.0.passed",
        lambda p: p["procedure_runs"][0]["steps"][0].update(passed=1),
    )
    case("follow-up date as a number", "follow_up_due", lambda p: p.update(follow_up_due=0))
    case(
        "version as text",
        f"{run}.procedure_version",
        lambda p: p["procedure_runs"][0].update(procedure_version="1"),
    )
    return cases  # fmt: skip


def test_every_out_of_range_value_is_422_with_its_path(backoffice: Backoffice, laptop) -> None:
    good = _payload(laptop)
    with backoffice.client("T001") as http:
        for name, (field, bad) in _cases(good).items():
            bad["visit_id"] = str(uuid.uuid4())
            r = http.put(
                f"/api/v1/visits/{bad['visit_id']}",
                content=json.dumps(bad).encode(),  # escapes a lone surrogate as \ud800
                headers={"Content-Type": "application/json"},
            )
            assert r.status_code == 422, (name, r.status_code, r.text[:300])
            fields = [p["field"] for p in r.json()["error"]["detail"]]
            assert any(f.startswith(field) for f in fields), (name, fields)
            assert http.get(f"/api/v1/visits/{bad['visit_id']}").status_code == 404
        # the good one still goes in
        assert http.put(f"/api/v1/visits/{good['visit_id']}", json=good).status_code == 201


def test_the_content_hash_survives_the_database(backoffice: Backoffice, laptop) -> None:
    """Numbers JSONB rewrites (-0.0, 1e16, 1e22, 1.797e308): the stored copy, read back,
    hashes the same, and sending it again is a duplicate, not a conflict."""
    payload = _payload(laptop)
    payload["procedure_runs"][0]["steps"][0]["value"] = {
        "neg_zero": -0.0,
        "big": 1e16,
        "bigger": 1e22,
        "huge": 1.797e308,
        "small": 1.5e-300,
        "half": 0.5,
        "list": [1e16, -0.0, 2.0],
    }
    sent_hash = content_hash(VisitPayload.model_validate(payload))
    with backoffice.client("T001") as http:
        r = http.put(f"/api/v1/visits/{payload['visit_id']}", json=payload)
        assert r.status_code == 201, r.text
        assert r.json()["content_hash"] == sent_hash
        stored = http.get(f"/api/v1/visits/{payload['visit_id']}").json()
        assert stored["content_hash"] == sent_hash
        assert content_hash_of_dump(stored["payload"]) == sent_hash
        again = http.put(f"/api/v1/visits/{payload['visit_id']}", json=stored["payload"])
        assert again.status_code == 200 and again.json()["status"] == "duplicate", again.text


def test_the_token_is_checked_before_the_body(backoffice: Backoffice) -> None:
    with backoffice.client(None) as http:
        r = http.post(
            "/api/v1/visits/batch",
            content=b'{"visits": [',
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
        bad = {"Authorization": "Bearer fk_nope_nope", "Content-Type": "application/json"}
        r = http.post("/api/v1/visits/batch", content=b"{", headers=bad)
        assert r.status_code == 401 and r.json()["error"]["code"] == "bad_token"
        # a 7 MB body without a token is answered at once, unread
        body = b"x" * (7 * 1024 * 1024)
        started = time.monotonic()
        r = http.post("/api/v1/visits/batch", content=body, headers=bad)
        assert r.status_code == 401
        assert time.monotonic() - started < 5
        # outside the API, unauthenticated bodies are capped small
        r = http.post("/healthz", content=b"x" * (256 * 1024))
        assert r.status_code == 413


def test_405_keeps_allow_and_query_types_are_strict(backoffice: Backoffice) -> None:
    with backoffice.client("admin") as http:
        r = http.delete("/api/v1/me")
        assert r.status_code == 405
        assert "GET" in r.headers.get("allow", "")
        for params in ({"date_to": "0"}, {"date_from": "123"}, {"date_to": "2026-13-01"}):
            r = http.get("/api/v1/visits", params=params)
            assert r.status_code == 422, (params, r.text)
            assert r.json()["error"]["detail"][0]["field"].endswith(next(iter(params)))
        r = http.get("/api/v1/follow-ups", params={"due_by": "1700000000"})
        assert r.status_code == 422


@pytest.mark.parametrize(
    "value",
    [{"a": -0.0}, {"a": 1e16}, {"a": [1e22, 1.797e308]}, {"a": 0.1, "b": 3}, {"a": 5e-324}],
)
def test_canonical_text_is_the_same_for_a_number_and_its_database_spelling(value) -> None:
    from fieldkit.sync.schema import canonical_text

    spelled = json.loads(
        json.dumps(value)
        .replace("-0.0", "0.0")
        .replace("1e+16", "10000000000000000")
        .replace("1e+22", "1" + "0" * 22)
        .replace("1.797e+308", "1797" + "0" * 305)
    )
    assert canonical_text(value) == canonical_text(spelled)
