"""The back-office reads and writes: visits by date/technician/outcome, open hazards,
follow-up calls due (within 3 days) with their result, complaints closed in a loop, and
work orders created and assigned through the API."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta

from fieldkit.records.repo import VisitRepository
from tests.sync.conftest import Backoffice, close_visit

DAY = datetime(2026, 10, 5, 2, 0, tzinfo=UTC)


def _push(office: Backoffice, laptop, login: str, visit_id: uuid.UUID) -> dict:
    (item,) = [i for i in VisitRepository(laptop).outbox_items() if i.visit_id == visit_id]
    with office.client(login) as http:
        r = http.put(f"/api/v1/visits/{visit_id}", json=item.payload)
    assert r.status_code in (200, 201), r.text
    return item.payload


def test_visits_by_date_technician_and_outcome(backoffice: Backoffice, laptop) -> None:
    a = close_visit(laptop, "T001", when=DAY, customer_no="Q1")
    b = close_visit(laptop, "T002", when=DAY + timedelta(days=1), customer_no="Q2")
    for login, vid in (("T001", a), ("T002", b)):
        _push(backoffice, laptop, login, vid)
    with backoffice.client("admin") as http:
        day1 = http.get(
            "/api/v1/visits", params={"date_from": "2026-10-05", "date_to": "2026-10-05"}
        )
        ids = {v["visit_id"] for v in day1.json()["items"]}
        assert str(a) in ids and str(b) not in ids
        by_tech = http.get(
            "/api/v1/visits",
            params={"technician_id": "T002", "date_from": "2026-10-01", "date_to": "2026-10-31"},
        ).json()["items"]
        assert [v["visit_id"] for v in by_tech] == [str(b)]
        refused = http.get(
            "/api/v1/visits",
            params={"outcome": "refused_gas", "date_from": "2026-10-01", "date_to": "2026-10-31"},
        ).json()["items"]
        assert refused == []
        completed = http.get(
            "/api/v1/visits",
            params={"outcome": "completed", "date_from": "2026-10-01", "date_to": "2026-10-31"},
        ).json()["items"]
        assert {v["visit_id"] for v in completed} == {str(a), str(b)}
        bad = http.get("/api/v1/visits", params={"outcome": "whatever"})
        assert bad.status_code == 422


def test_follow_up_calls_due_and_recorded(backoffice: Backoffice, laptop) -> None:
    visit_id = close_visit(laptop, "T001", when=DAY, customer_no="FU1")
    payload = _push(backoffice, laptop, "T001", visit_id)
    assert payload["follow_up_due"] == "2026-10-08"  # within 3 days of the visit
    with backoffice.client("admin") as http:
        due = http.get("/api/v1/follow-ups", params={"due_by": "2026-10-08"}).json()["items"]
        assert str(visit_id) in {f["visit_id"] for f in due}
        early = http.get("/api/v1/follow-ups", params={"due_by": "2026-10-07"}).json()["items"]
        assert str(visit_id) not in {f["visit_id"] for f in early}
        bad = http.post(
            f"/api/v1/follow-ups/{visit_id}/call", json={"result": "ok", "satisfaction": "meh"}
        )
        assert bad.status_code == 422
        done = http.post(
            f"/api/v1/follow-ups/{visit_id}/call",
            json={"result": "用户反映服务态度好", "satisfaction": "satisfied"},
        )
        assert done.status_code == 200
        pending = http.get("/api/v1/follow-ups", params={"due_by": "2026-10-08"}).json()["items"]
        assert str(visit_id) not in {f["visit_id"] for f in pending}
        history = http.get("/api/v1/follow-ups", params={"pending": "false"}).json()["items"]
        (called,) = [f for f in history if f["visit_id"] == str(visit_id)]
        assert called["satisfaction"] == "satisfied" and called["called_by"] == "admin"
        missing = http.post(
            f"/api/v1/follow-ups/{uuid.uuid4()}/call",
            json={"result": "x", "satisfaction": "satisfied"},
        )
        assert missing.status_code == 404
    with backoffice.client("T001") as http:
        r = http.post(
            f"/api/v1/follow-ups/{visit_id}/call", json={"result": "x", "satisfaction": "satisfied"}
        )
        assert r.status_code == 403


def test_complaints_logged_and_closed(backoffice: Backoffice, laptop) -> None:
    visit_id = close_visit(laptop, "T001", when=DAY, customer_no="CP1")
    _push(backoffice, laptop, "T001", visit_id)
    with backoffice.client("admin") as http:
        r = http.post(f"/api/v1/visits/{visit_id}/complaints", json={"description": "上门迟到"})
        assert r.status_code == 201
        complaint_id = r.json()["complaint_id"]
        assert complaint_id in {
            c["complaint_id"] for c in http.get("/api/v1/complaints").json()["items"]
        }
        closed = http.post(
            f"/api/v1/complaints/{complaint_id}/close", json={"result": "已致电道歉"}
        )
        assert closed.status_code == 200
        again = http.post(f"/api/v1/complaints/{complaint_id}/close", json={"result": "x"})
        assert again.status_code == 409
        assert complaint_id not in {
            c["complaint_id"] for c in http.get("/api/v1/complaints").json()["items"]
        }
        every = http.get("/api/v1/complaints", params={"open_only": "false"}).json()["items"]
        (row,) = [c for c in every if c["complaint_id"] == complaint_id]
        assert row["status"] == "closed" and row["result"] == "已致电道歉"
        nowhere = http.post(f"/api/v1/visits/{uuid.uuid4()}/complaints", json={"description": "x"})
        assert nowhere.status_code == 404


def test_hazard_status_only_moves_forward(backoffice: Backoffice, laptop) -> None:
    visit_id = close_visit(laptop, "T001", when=DAY, customer_no="HZ1")
    first = _push(backoffice, laptop, "T001", visit_id)
    hazard_id = first["hazards"][0]["hazard_id"]
    with backoffice.client("admin") as http:
        open_now = {h["hazard_id"]: h for h in http.get("/api/v1/hazards").json()["items"]}
        assert open_now[hazard_id]["status"] == "pending"
    # a 复查 visit carries the hazard as fixed; a late copy saying "pending" must not undo it
    recheck = copy.deepcopy(first)
    recheck["visit_id"] = str(uuid.uuid4())
    recheck["visit_type"] = "recheck"
    recheck["procedure_runs"] = []
    recheck["hazards"][0]["status"] = "fixed"
    stale = copy.deepcopy(first)
    stale["visit_id"] = str(uuid.uuid4())
    stale["procedure_runs"] = []
    with backoffice.client("T001") as http:
        assert http.post("/api/v1/visits/batch", json={"visits": [recheck]}).status_code == 200
        assert http.post("/api/v1/visits/batch", json={"visits": [stale]}).status_code == 200
    with backoffice.client("admin") as http:
        assert hazard_id not in {
            h["hazard_id"] for h in http.get("/api/v1/hazards").json()["items"]
        }


def test_work_orders_created_and_reassigned_through_the_api(backoffice: Backoffice) -> None:
    order_no = f"API-{uuid.uuid4().hex[:8]}"
    body = {
        "order_no": order_no,
        "visit_type": "inspection",
        "customer": {"customer_no": "W1", "name": "王五", "address": {"community": "幸福小区"}},
        "assigned_to": "T001",
        "scheduled_for": "2026-11-25",
    }
    with backoffice.client("admin") as http:
        created = http.post("/api/v1/work-orders", json=body)
        assert created.status_code == 201
        order_id = created.json()["work_order_id"]
        assert http.post("/api/v1/work-orders", json=body).status_code == 409
        nobody = http.post("/api/v1/work-orders", json=dict(body, order_no="Z", assigned_to="T404"))
        assert nobody.status_code == 422
        assert (
            http.post(
                f"/api/v1/work-orders/{order_no}/assign", json={"technician_id": "T002"}
            ).status_code
            == 200
        )
    with backoffice.client("T001") as http:
        items = http.get("/api/v1/work-orders", params={"limit": 1000}).json()["items"]
        (mine,) = [o for o in items if o["work_order_id"] == order_id]
        assert mine["deleted"] is True  # taken away: a tombstone
    with backoffice.client("T002") as http:
        items = http.get("/api/v1/work-orders", params={"limit": 1000}).json()["items"]
        (theirs,) = [o for o in items if o["work_order_id"] == order_id]
        assert theirs["deleted"] is False and theirs["scheduled_for"] == "2026-11-25"


def test_meter_swaps_are_queryable(backoffice: Backoffice, laptop) -> None:
    visit_id = close_visit(laptop, "T001", when=DAY, customer_no="MS1")
    (item,) = [i for i in VisitRepository(laptop).outbox_items() if i.visit_id == visit_id]
    payload = copy.deepcopy(item.payload)
    payload["visit_id"] = str(uuid.uuid4())
    payload["procedure_runs"] = []
    payload["hazards"] = []
    payload["meter_swaps"] = [
        {
            "swap_id": str(uuid.uuid4()),
            "old_meter_no": "OLD-778",
            "new_meter_no": "NEW-779",
            "seal_nos": ["QF001", "QF002"],
            "old_meter_reading": 1234.5,
            "gas_used": 10.0,
            "gas_remaining": 2.5,
            "swapped_at": "2026-10-05T02:10:00Z",
            "reason": "表具故障",
        }
    ]
    with backoffice.client("T001") as http:
        r = http.post("/api/v1/visits/batch", json={"visits": [payload]})
        assert r.json()["results"][0]["status"] == "stored"
    with backoffice.client("admin") as http:
        (swap,) = http.get("/api/v1/meter-swaps", params={"meter_no": "OLD-778"}).json()["items"]
        assert swap["new_meter_no"] == "NEW-779" and swap["seal_nos"] == ["QF001", "QF002"]
        assert swap["visit_id"] == payload["visit_id"]
        assert (
            http.get("/api/v1/meter-swaps", params={"customer_no": "nobody"}).json()["items"] == []
        )
    with backoffice.client("T002") as http:
        assert http.get("/api/v1/meter-swaps", params={"meter_no": "OLD-778"}).json()["items"] == []


def test_an_original_and_its_recheck_in_one_batch(backoffice: Backoffice, laptop) -> None:
    visit_id = close_visit(laptop, "T001", when=DAY, customer_no="HZ2")
    (item,) = [i for i in VisitRepository(laptop).outbox_items() if i.visit_id == visit_id]
    recheck = copy.deepcopy(item.payload)
    recheck["visit_id"] = str(uuid.uuid4())
    recheck["procedure_runs"] = []
    recheck["hazards"][0]["status"] = "rechecking"
    hazard_id = recheck["hazards"][0]["hazard_id"]
    with backoffice.client("T001") as http:
        r = http.post("/api/v1/visits/batch", json={"visits": [recheck, item.payload]})
        assert [x["status"] for x in r.json()["results"]] == ["stored", "stored"]
    with backoffice.client("admin") as http:
        hazards = {h["hazard_id"]: h for h in http.get("/api/v1/hazards").json()["items"]}
        assert hazards[hazard_id]["status"] == "rechecking"
