"""Bad payloads get a 4xx with a clear message — never a 500 — and nothing half-written."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import sqlalchemy as sa

from fieldkit.records.repo import VisitRepository
from fieldkit.sync.schema import MAX_STEPS
from fieldkit.sync.server import tables
from tests.sync.conftest import Backoffice, close_visit


def _payload(laptop) -> dict[str, Any]:
    visit_id = close_visit(laptop, steps=4)
    (item,) = [i for i in VisitRepository(laptop).pending_outbox() if i.visit_id == visit_id]
    return copy.deepcopy(item.payload)


def _count(office: Backoffice, table: sa.Table, visit_id: str) -> int:
    with office.engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count())
            .select_from(table)
            .where(table.c.visit_id == uuid.UUID(visit_id))
        ).scalar_one()


def _nothing_stored(office: Backoffice, visit_id: str) -> bool:
    with office.engine.connect() as conn:
        visit = conn.execute(
            sa.select(sa.func.count()).where(tables.visit.c.id == uuid.UUID(visit_id))
        ).scalar_one()
    return visit == 0 and all(
        _count(office, t, visit_id) == 0
        for t in (tables.step_result, tables.measurement, tables.follow_up, tables.procedure_run)
    )


def test_malformed_json_is_400(backoffice: Backoffice) -> None:
    with backoffice.client("T001") as http:
        r = http.post(
            "/api/v1/visits/batch",
            content=b'{"visits": [{"visit_id": ',
            headers={"Content-Type": "application/json"},
        )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "malformed_json"


def test_wrong_types_and_unknown_fields_are_422_with_the_field_path(backoffice, laptop) -> None:
    good = _payload(laptop)
    cases = {
        "visits.0.started_at": dict(good, started_at="yesterday"),
        "visits.0.surprise": dict(good, surprise=1),
        "visits.0.outcome": dict(good, outcome="done-ish"),
        "visits.0.procedure_runs.0.steps.0.at": copy.deepcopy(good),
    }
    cases["visits.0.procedure_runs.0.steps.0.at"]["procedure_runs"][0]["steps"][0]["at"] = (
        "2026-11-23T01:30:00"  # no time zone
    )
    with backoffice.client("T001") as http:
        for field, bad in cases.items():
            r = http.post("/api/v1/visits/batch", json={"visits": [bad]})
            assert r.status_code == 422, (field, r.text)
            error = r.json()["error"]
            assert error["code"] == "invalid"
            assert field in [p["field"] for p in error["detail"]], (field, error)
            assert field in error["message"]
        # a good visit beside a bad one: the whole request is refused, nothing written
        r = http.post("/api/v1/visits/batch", json={"visits": [good, cases["visits.0.outcome"]]})
        assert r.status_code == 422
        assert "visits.1.outcome" in r.json()["error"]["message"]
    assert _nothing_stored(backoffice, good["visit_id"])


def test_lists_over_the_schema_limit_are_422(backoffice, laptop) -> None:
    bad = _payload(laptop)
    step = bad["procedure_runs"][0]["steps"][0]
    bad["procedure_runs"][0]["steps"] = [
        dict(step, result_id=str(uuid.uuid4())) for _ in range(MAX_STEPS + 1)
    ]
    with backoffice.client("T001") as http:
        r = http.post("/api/v1/visits/batch", json={"visits": [bad]})
    assert r.status_code == 422
    assert "procedure_runs.0.steps" in r.json()["error"]["message"]
    assert _nothing_stored(backoffice, bad["visit_id"])


def test_a_huge_body_is_413(backoffice, laptop) -> None:
    bad = _payload(laptop)
    bad["notes"] = "x" * (9 * 1024 * 1024)
    body = json.dumps({"visits": [bad]}).encode()
    with backoffice.client("T001") as http:
        declared = http.post(
            "/api/v1/visits/batch", content=body, headers={"Content-Type": "application/json"}
        )

        def chunks():  # no Content-Length: the limit is enforced while reading
            for i in range(0, len(body), 65536):
                yield body[i : i + 65536]

        streamed = http.post(
            "/api/v1/visits/batch", content=chunks(), headers={"Content-Type": "application/json"}
        )
    for r in (declared, streamed):
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "payload_too_large"
    assert _nothing_stored(backoffice, bad["visit_id"])


def test_another_visits_child_ids_look_like_unknown_ids(backoffice, laptop) -> None:
    """Child ids (runs, step results, measurements, swaps) are unique within their visit:
    a visit reusing another visit's ids is stored like any other, and nothing tells the
    sender that the ids were in use (no constraint names, no refusal)."""
    first = _payload(laptop)
    second = _payload(laptop)
    third = _payload(laptop)
    run = first["procedure_runs"][0]
    second["procedure_runs"][0]["run_id"] = run["run_id"]
    for i, step in enumerate(second["procedure_runs"][0]["steps"]):
        step["result_id"] = run["steps"][i]["result_id"]
    with backoffice.client("T001") as http:
        assert http.post("/api/v1/visits/batch", json={"visits": [first]}).status_code == 200
        r = http.post("/api/v1/visits/batch", json={"visits": [second, third]})
    assert r.status_code == 200
    results = {x["visit_id"]: x for x in r.json()["results"]}
    assert results[second["visit_id"]]["status"] == "stored", results
    assert results[third["visit_id"]]["status"] == "stored"
    assert _count(backoffice, tables.step_result, second["visit_id"]) == 4
    assert _count(backoffice, tables.step_result, first["visit_id"]) == 4


def test_an_id_used_twice_within_one_visit_is_refused(backoffice, laptop) -> None:
    bad = _payload(laptop)
    good = _payload(laptop)
    steps = bad["procedure_runs"][0]["steps"]
    steps[1]["result_id"] = steps[0]["result_id"]
    with backoffice.client("T001") as http:
        r = http.post("/api/v1/visits/batch", json={"visits": [bad, good]})
        assert r.status_code == 200, r.text
        refused, stored = r.json()["results"]
        assert refused["status"] == "rejected" and refused["error"]["code"] == "repeated_ids"
        assert "result_id" in refused["error"]["message"]
        assert stored["status"] == "stored"
        one = http.put(f"/api/v1/visits/{bad['visit_id']}", json=bad)
        assert one.status_code == 409 and one.json()["error"]["code"] == "repeated_ids"
    assert _nothing_stored(backoffice, bad["visit_id"])


def test_unknown_routes_and_bad_ids_are_clear(backoffice) -> None:
    with backoffice.client("admin") as http:
        assert http.get("/api/v1/nowhere").json()["error"]["code"] == "http_error"
        r = http.get("/api/v1/visits/not-a-uuid")
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid"
        r = http.get("/api/v1/work-orders", params={"since": -1})
        assert r.status_code == 422


def test_numbers_too_big_for_the_database_are_422(backoffice) -> None:
    too_big = str(2**63)  # one past the largest 64-bit integer a cursor or offset can hold
    with backoffice.client("admin") as http:
        for path, params in [
            ("/api/v1/work-orders", {"since": too_big}),
            ("/api/v1/work-orders", {"since": "9" * 40}),
            ("/api/v1/visits", {"limit": too_big}),
        ]:
            r = http.get(path, params=params)
            assert r.status_code == 422, (path, params, r.text)
            assert r.json()["error"]["code"] == "invalid"
        # the largest cursor is still a cursor: an empty page, not an error
        r = http.get("/api/v1/work-orders", params={"since": 2**63 - 1})
        assert r.status_code == 200 and r.json()["items"] == []


def test_a_nul_character_in_any_text_is_422_and_nothing_is_stored(backoffice, laptop) -> None:
    good = _payload(laptop)
    bad = dict(good, technician_id="T001", notes="a\x00b")
    with backoffice.client("T001") as http:
        r = http.post("/api/v1/visits/batch", json={"visits": [bad]})
        assert r.status_code == 422, r.text
        assert "visits.0.notes" in r.json()["error"]["message"]
    assert _nothing_stored(backoffice, good["visit_id"])
    with backoffice.client("admin") as http:
        r = http.get("/api/v1/meter-swaps", params={"customer_no": "1\x002"})
        assert r.status_code == 422, r.text
        r = http.post(
            f"/api/v1/visits/{uuid.uuid4()}/complaints", json={"description": "gas\x00smell"}
        )
        assert r.status_code == 422, r.text
        r = http.post("/api/v1/work-orders/NO%00PE/assign", json={"technician_id": "T001"})
        assert r.status_code in (404, 422), r.text
