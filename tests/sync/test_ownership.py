"""Issue 11 defects 2, 5, 6 and 8: a poisoned record does not block the laptop; hazards
belong to their customer; no leaks between technicians; every list is paginated."""

from __future__ import annotations

import copy
import http.server
import json
import threading
import uuid
from datetime import timedelta
from typing import Any

import httpx

from fieldkit.records.models import OutboxState
from fieldkit.records.repo import VisitRepository
from fieldkit.sync.client import Backoff, sync_once
from tests.sync.conftest import T0, Backoffice, close_visit


def _payload(laptop, technician: str = "T001", **kw: Any) -> dict[str, Any]:
    visit_id = close_visit(laptop, technician, **kw)
    (item,) = [i for i in VisitRepository(laptop).pending_outbox() if i.visit_id == visit_id]
    return copy.deepcopy(item.payload)


# ------------------------------------------------------------- defect 5: hazards owned
def test_a_visit_elsewhere_cannot_change_a_hazard(backoffice: Backoffice, laptop) -> None:
    original = _payload(laptop, customer_no="OWN-1")
    hazard_id = original["hazards"][0]["hazard_id"]
    other = _payload(laptop, "T002", customer_no="OWN-2", when=T0 + timedelta(hours=2))
    other["hazards"][0] = dict(original["hazards"][0], status="fixed")
    with backoffice.client("T001") as http:
        assert http.put(f"/api/v1/visits/{original['visit_id']}", json=original).is_success
    with backoffice.client("T002") as http:
        r = http.put(f"/api/v1/visits/{other['visit_id']}", json=other)
        assert r.status_code == 201, r.text  # stored like any visit with a new hazard
    with backoffice.client("admin") as http:
        rows = http.get("/api/v1/hazards", params={"status": "all", "customer_no": "OWN-1"})
        (hazard,) = rows.json()["items"]
        assert hazard["hazard_id"] == hazard_id and hazard["status"] == "pending"
        assert hazard["last_visit_id"] == original["visit_id"]
    # a 复查 visit of the same customer does move it forward
    recheck = _payload(laptop, customer_no="OWN-1", when=T0 + timedelta(hours=3))
    recheck["hazards"][0] = dict(original["hazards"][0], status="fixed")
    with backoffice.client("T001") as http:
        assert http.put(f"/api/v1/visits/{recheck['visit_id']}", json=recheck).is_success
    with backoffice.client("admin") as http:
        rows = http.get("/api/v1/hazards", params={"status": "all", "customer_no": "OWN-1"})
        (hazard,) = rows.json()["items"]
        assert hazard["status"] == "fixed"


# -------------------------------------------------------------- defect 6: no leaks
def test_another_technicians_visit_id_reveals_nothing(backoffice: Backoffice, laptop) -> None:
    theirs = _payload(laptop, "T002", customer_no="LEAK-1")
    with backoffice.client("T002") as http:
        assert http.put(f"/api/v1/visits/{theirs['visit_id']}", json=theirs).status_code == 201
    mine = _payload(laptop, "T001", customer_no="LEAK-2")
    mine["visit_id"] = theirs["visit_id"]
    with backoffice.client("T001") as http:
        r = http.put(f"/api/v1/visits/{mine['visit_id']}", json=mine)
        assert r.status_code == 409
        error = r.json()["error"]
        assert error["code"] == "visit_id_taken"
        text = r.text
        assert "server_hash" not in text and "T002" not in text and "LEAK-1" not in text
        batch = http.post("/api/v1/visits/batch", json={"visits": [mine]}).json()
        (result,) = batch["results"]
        assert result["status"] == "rejected" and result["server_hash"] is None
        unknown = http.get(f"/api/v1/visits/{uuid.uuid4()}")
        known = http.get(f"/api/v1/visits/{theirs['visit_id']}")
        assert unknown.status_code == known.status_code == 404
        assert unknown.json()["error"]["code"] == known.json()["error"]["code"]


# ----------------------------------------------------------- defect 8: bounded lists
def test_every_list_is_keyset_paginated_and_bounded(backoffice: Backoffice, laptop) -> None:
    payloads = [
        _payload(laptop, customer_no=f"PAGE-{i}", when=T0 + timedelta(minutes=i)) for i in range(7)
    ]
    with backoffice.client("T001") as http:
        r = http.post("/api/v1/visits/batch", json={"visits": payloads})
        assert r.status_code == 200
    ids = {p["visit_id"] for p in payloads}
    with backoffice.client("admin") as http:
        for path, params, key in [
            ("/api/v1/visits", {"technician_id": "T001"}, "visit_id"),
            ("/api/v1/hazards", {"technician_id": "T001"}, "hazard_id"),
            ("/api/v1/follow-ups", {"technician_id": "T001"}, "visit_id"),
        ]:
            seen: list[str] = []
            after = None
            pages = 0
            while True:
                query = dict(params, limit=3, **({"after": after} if after else {}))
                page = http.get(path, params=query)
                assert page.status_code == 200, (path, page.text)
                body = page.json()
                assert len(body["items"]) <= 3
                seen += [item[key] for item in body["items"]]
                pages += 1
                after = body["next"]
                if after is None:
                    break
            assert len(seen) == len(set(seen)), path  # nothing twice
            assert pages >= 3, path
            if key == "visit_id":
                assert ids <= set(seen), path
        assert http.get("/api/v1/visits", params={"limit": 1001}).status_code == 422
        assert http.get("/api/v1/hazards", params={"limit": 0}).status_code == 422
        bad = http.get("/api/v1/visits", params={"after": "bm90LWEtdG9rZW4"})
        assert bad.status_code == 404 and bad.json()["error"]["detail"][0]["field"] == "after"
        assert http.get("/api/v1/visits", params={"after": "not a token!"}).status_code == 422
        one = http.get("/api/v1/visits", params={"customer_no": "PAGE-3"}).json()["items"]
        assert [v["customer_no"] for v in one] == ["PAGE-3"]
        swaps = http.get("/api/v1/meter-swaps", params={"limit": 2}).json()
        assert set(swaps) == {"items", "next"}
        complaints = http.get("/api/v1/complaints", params={"limit": 2}).json()
        assert set(complaints) == {"items", "next"}


# -------------------------------------------------------- defect 2: poisoned record
class _Poison:
    """In front of the real server: answers 500 to any push holding the poisoned visit,
    forwards everything else."""

    def __init__(self, target: str, poisoned: str):
        self.target, self.poisoned, self.hits = target, poisoned, 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if outer.poisoned.encode() in body:
                    outer.hits += 1
                    data = json.dumps({"error": {"code": "internal", "message": "boom"}})
                    self._send(500, data.encode(), "application/json")
                    return
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length")
                }
                r = httpx.request(
                    self.command, outer.target + self.path, content=body, headers=headers
                )
                self._send(r.status_code, r.content, r.headers.get("content-type", ""))

            def _send(self, status: int, data: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _forward

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_poisoned_record_does_not_block_the_others(backoffice: Backoffice, laptop) -> None:
    ids = [
        close_visit(laptop, customer_no=f"POI-{i}", when=T0 + timedelta(minutes=i))
        for i in range(9)
    ]
    poisoned = ids[4]
    proxy = _Poison(backoffice.url, str(poisoned))
    try:
        settings = backoffice.settings("T001").model_copy(update={"server_url": proxy.url})
        report = sync_once(
            settings,
            laptop,
            pull=False,
            batch_size=4,
            backoff=Backoff(base=0.01, cap=0.05, server_error_attempts=3),
        )
    finally:
        proxy.close()
    assert report.failed is None
    ((failed_id, message),) = report.server_errors
    assert failed_id == poisoned and "500" in message and "boom" in message
    assert report.pushed == 8 and report.waiting == 1
    states = {i.visit_id: i.state for i in VisitRepository(laptop).outbox_items()}
    assert states[poisoned] == OutboxState.FAILED  # the server's fault: retried next time
    assert all(states[i] == OutboxState.SENT for i in ids if i != poisoned)
    # attempts are capped: 3 per request, the batch of 4 narrowed down by halves
    assert proxy.hits <= 3 * 3
    # next time (server fixed) it goes through
    again = sync_once(backoffice.settings("T001"), laptop, pull=False)
    assert again.ok and again.pushed == 1 and again.waiting == 0


def test_a_refused_record_is_set_aside_with_the_servers_message(
    backoffice: Backoffice, laptop
) -> None:
    first = close_visit(laptop, customer_no="REF-1")
    refused = close_visit(laptop, customer_no="REF-2", when=T0 + timedelta(minutes=1))
    last = close_visit(laptop, customer_no="REF-3", when=T0 + timedelta(minutes=2))
    with laptop.engine.begin() as conn:  # a record from an older laptop with a bad time
        row = conn.exec_driver_sql(
            "SELECT payload FROM outbox_item WHERE visit_id = ?", (refused.hex,)
        ).scalar_one()
        payload = json.loads(row)
        payload["procedure_runs"][0]["procedure_version"] = 2**31
        conn.exec_driver_sql(
            "UPDATE outbox_item SET payload = ? WHERE visit_id = ?",
            (json.dumps(payload), refused.hex),
        )
    report = sync_once(backoffice.settings("T001"), laptop, pull=False)
    ((rejected, message),) = report.rejected
    assert rejected == refused and "procedure_version" in message
    states = {i.visit_id: i.state for i in VisitRepository(laptop).outbox_items()}
    assert states[first] == states[last] == OutboxState.SENT
    assert states[refused] == OutboxState.REJECTED
