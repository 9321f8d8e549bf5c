"""Issue 11 defect 9: a push batch is stored in few statements (on PostgreSQL one statement
cuts the child rows out of the visits' JSON, see ``fieldkit.sync.server.push_sql``) and
validated straight from its bytes — with the same exactly-once results, hazard rules,
refusals and column values as one visit at a time, on both databases."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from fieldkit.records.repo import VisitRepository
from fieldkit.sync.client import SyncProgress, sync_once
from fieldkit.sync.schema import VisitPayload
from fieldkit.sync.server import service
from fieldkit.sync.server import tables as t
from tests.sync.conftest import T0, Backoffice, close_visit
from tests.sync.test_wire_bounds import _cases


def _payload(laptop, technician: str = "T001", **kw: Any) -> dict[str, Any]:
    visit_id = close_visit(laptop, technician, **kw)
    (item,) = [i for i in VisitRepository(laptop).pending_outbox() if i.visit_id == visit_id]
    return copy.deepcopy(item.payload)


def _rows(office: Backoffice, table: sa.Table, visit_ids: list[str]) -> list[dict[str, Any]]:
    ids = [uuid.UUID(v) for v in visit_ids]
    with office.engine.connect() as conn:
        found = conn.execute(sa.select(table).where(table.c.visit_id.in_(ids))).mappings()
        return [dict(r) for r in found]


def _same(stored: Any, sent: Any) -> bool:
    if isinstance(sent, datetime) and stored.tzinfo is None:  # SQLite: UTC without zone
        return bool(stored == sent.astimezone(UTC).replace(tzinfo=None))
    return bool(stored == sent)


def _post(http, visits: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    body = json.dumps({"visits": visits}).encode()  # escapes a lone surrogate as \ud800
    return http.post(
        "/api/v1/visits/batch", content=body, headers={"Content-Type": "application/json"}
    )


def test_a_mixed_batch_is_stored_exactly_once(backoffice: Backoffice, laptop) -> None:
    """New, repeated, already-stored and conflicting visits in one batch: each new visit's
    rows exactly once, identical to what the payload says, whatever the backend."""
    first = _payload(laptop, customer_no="MIX-1", steps=6)
    second = _payload(laptop, customer_no="MIX-2", when=T0 + timedelta(hours=1))
    stored = _payload(laptop, customer_no="MIX-3", when=T0 + timedelta(hours=2))
    changed = _payload(laptop, customer_no="MIX-4", when=T0 + timedelta(hours=3))
    # values each column must take as sent (on PostgreSQL they are cast out of the JSON)
    run = first["procedure_runs"][0]
    run["ended_at"] = None
    run["steps"][0].update(passed=None, value={"读数": [1.5, -0.0, 1e16, None, True], "n": {}})
    run["steps"][1].update(passed=False, value={})
    run["measurements"][0].update(value=1e-7)
    first["meter_swaps"] = [
        {"swap_id": str(uuid.uuid4()), "old_meter_no": "OLD-1", "new_meter_no": "NEW-1",
         "seal_nos": ["S1", "封2"], "old_meter_reading": 12.25, "gas_used": None,
         "gas_remaining": 3.0, "swapped_at": "2026-11-23T09:30:00.123456+08:00",
         "reason": "表坏"}
    ]  # fmt: skip
    with backoffice.client("T001") as http:
        assert _post(http, [stored, changed]).status_code == 200
        edited = dict(changed, notes="changed after the push")
        r = _post(http, [first, stored, first, edited, second])
    assert r.status_code == 200, r.text
    statuses = [x["status"] for x in r.json()["results"]]
    # a visit repeated within the batch gets the answer of its first copy
    assert statuses == ["stored", "duplicate", "stored", "conflict", "stored"]
    new = [first["visit_id"], second["visit_id"]]
    sent = [VisitPayload.model_validate(p) for p in (first, second)]
    expected = {**service.view_rows(sent), **service.child_rows(sent)}
    # runs, step results and measurements are views of the payload (0009), the rest tables
    for name in ("procedure_run", "step_result", "measurement", "meter_swap", "follow_up"):
        got = _rows(backoffice, getattr(t, name), new)
        assert len(got) == len(expected[name]) > 0, name
        key = "id" if name != "follow_up" else "visit_id"
        by_id = {r[key]: r for r in got}
        for row in expected[name]:
            stored_row = by_id[row[key]]
            for column, value in row.items():
                assert _same(stored_row[column], value), (name, column, stored_row[column], value)
    with backoffice.engine.connect() as conn:  # the visit rows' columns, as sent
        ids = [uuid.UUID(v) for v in new]
        visits = {r.id: r for r in conn.execute(sa.select(t.visit).where(t.visit.c.id.in_(ids)))}
    for sent in (first, second):
        payload = VisitPayload.model_validate(sent)
        row = service.visit_row(payload, datetime.now(UTC))
        stored_visit = visits[payload.visit_id]._mapping
        for column, value in row.items():
            if column != "received_at":
                assert _same(stored_visit[column], value), (column, stored_visit[column], value)
    with backoffice.client("T001") as http:  # the whole batch again: nothing new
        r = _post(http, [first, second])
    assert [x["status"] for x in r.json()["results"]] == ["duplicate", "duplicate"]
    assert len(_rows(backoffice, t.step_result, new)) == len(expected["step_result"])


def test_a_hazard_and_its_recheck_in_one_batch_keep_the_most_advanced_status(
    backoffice: Backoffice, laptop
) -> None:
    original = _payload(laptop, customer_no="HZB-1")
    hazard = original["hazards"][0]
    recheck = _payload(laptop, customer_no="HZB-1", when=T0 + timedelta(hours=1))
    recheck["hazards"][0] = dict(hazard, status="fixed")
    late = _payload(laptop, customer_no="HZB-1", when=T0 + timedelta(hours=2))
    late["hazards"][0] = dict(hazard, status="rechecking")
    with backoffice.client("T001") as http:
        r = _post(http, [recheck, original])  # the 复查 first: order does not matter
        assert [x["status"] for x in r.json()["results"]] == ["stored", "stored"]
        r = _post(http, [late])  # an older status arriving later never moves it back
        assert r.json()["results"][0]["status"] == "stored"
    with backoffice.client("admin") as http:
        rows = http.get("/api/v1/hazards", params={"status": "all", "customer_no": "HZB-1"})
    (row,) = rows.json()["items"]
    assert row["hazard_id"] == hazard["hazard_id"] and row["status"] == "fixed"
    assert row["visit_id"] in (original["visit_id"], recheck["visit_id"])
    assert row["last_visit_id"] == recheck["visit_id"]


def test_every_bad_value_in_a_batch_is_422_with_its_path(backoffice: Backoffice, laptop) -> None:
    """The batch body is validated from its bytes; what that fast parser refuses as JSON (a
    lone surrogate, deep nesting, huge integers) still gets the field's path."""
    good = _payload(laptop, customer_no="BAD-B")
    with backoffice.client("T001") as http:
        for name, (field, bad) in _cases(good).items():
            before = dict(good, visit_id=str(uuid.uuid4()))
            bad = dict(bad, visit_id=str(uuid.uuid4()))
            r = _post(http, [before, bad])
            assert r.status_code == 422, (name, r.status_code, r.text[:300])
            fields = [p["field"] for p in r.json()["error"]["detail"]]
            assert any(f.startswith(f"visits.1.{field}") for f in fields), (name, fields)
            assert http.get(f"/api/v1/visits/{before['visit_id']}").status_code == 404
        r = http.post("/api/v1/visits/batch", content=b'{"visits": [', headers={})
        assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"
        r = http.post(
            "/api/v1/visits/batch",
            content=b"\xff\xfe",
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"
        r = http.post(
            "/api/v1/visits/batch",
            content=json.dumps({"visits": [good]}).encode(),
            headers={"Content-Type": "text/plain"},
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid"
        # no Content-Type at all is read as JSON (as FastAPI does)
        r = http.post("/api/v1/visits/batch", content=json.dumps({"visits": [good]}).encode())
        assert r.status_code == 200 and r.json()["results"][0]["status"] == "stored"


def test_the_batch_body_is_documented(backoffice: Backoffice) -> None:
    schema = httpx_get_json(backoffice, "/openapi.json")
    body = schema["paths"]["/api/v1/visits/batch"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/VisitBatch")
    batch = schema["components"]["schemas"]["VisitBatch"]
    assert batch["properties"]["visits"]["items"]["$ref"].endswith("/VisitPayload")
    assert "VisitPayload" in schema["components"]["schemas"]


def httpx_get_json(office: Backoffice, path: str) -> dict[str, Any]:
    with office.client(None) as http:
        r = http.get(path)
    assert r.status_code == 200, r.text[:200]
    return r.json()


def test_the_client_sizes_batches_by_the_servers_response_time(
    backoffice: Backoffice, laptop
) -> None:
    """A batch answered slower than ``target_seconds`` halves the next one (here every
    batch is "slow"); all visits still arrive exactly once."""
    for n in range(15):
        close_visit(laptop, customer_no=f"SIZE-{n}", when=T0 + timedelta(minutes=n), steps=2)
    confirmed: list[int] = []

    def progress(p: SyncProgress) -> None:
        if p.phase == "push" and p.pushed and (not confirmed or p.pushed != confirmed[-1]):
            confirmed.append(p.pushed)

    report = sync_once(
        backoffice.settings("T001"),
        laptop,
        progress,
        batch_size=8,
        target_seconds=1e-9,
        pull=False,
    )
    assert report.failed is None and report.pushed == 15 and report.waiting == 0
    sizes = [b - a for a, b in zip([0, *confirmed], confirmed, strict=False)]
    assert sizes == [8, 4, 2, 1], sizes


def test_batches_grow_back_when_the_server_answers_quickly_again(
    backoffice: Backoffice, laptop
) -> None:
    """A slow answer halves the next batch; quick ones double it back, never past
    ``batch_size``. The batches go to the real server; only their timing is scripted
    (the first takes 10 s of a 5 s target, every other 0 s)."""
    for n in range(28):
        close_visit(laptop, customer_no=f"GROW-{n}", when=T0 + timedelta(minutes=n), steps=2)
    ticks = iter([0.0, 10.0])  # start and end of the first batch; then no time passes

    def clock() -> float:
        return next(ticks, 10.0)

    confirmed: list[int] = []

    def progress(p: SyncProgress) -> None:
        if p.phase == "push" and p.pushed and (not confirmed or p.pushed != confirmed[-1]):
            confirmed.append(p.pushed)

    report = sync_once(
        backoffice.settings("T001"),
        laptop,
        progress,
        batch_size=8,
        target_seconds=5.0,
        clock=clock,
        pull=False,
    )
    assert report.failed is None and report.pushed == 28 and report.waiting == 0
    sizes = [b - a for a, b in zip([0, *confirmed], confirmed, strict=False)]
    assert sizes == [8, 4, 8, 8], sizes
