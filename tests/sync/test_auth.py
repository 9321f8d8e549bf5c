"""Every request is authenticated; technicians see and write only their own records."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from fieldkit.records.repo import VisitRepository
from fieldkit.sync.client import sync_once
from fieldkit.sync.schema import Address, CustomerPayload
from fieldkit.sync.server import auth, service
from tests.sync.conftest import Backoffice, close_visit


def _code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


def test_no_token_and_bad_token_get_a_clear_401(backoffice: Backoffice) -> None:
    with httpx.Client(base_url=backoffice.url) as http:
        for path in ("/api/v1/work-orders", "/api/v1/visits", "/api/v1/hazards", "/api/v1/me"):
            missing = http.get(path)
            assert missing.status_code == 401, path
            assert _code(missing) == "unauthenticated"
            assert missing.headers["www-authenticate"] == "Bearer"
        bad = http.get("/api/v1/me", headers={"Authorization": "Bearer fk_nope_nope"})
        assert bad.status_code == 401 and _code(bad) == "bad_token"
        basic = http.get("/api/v1/me", headers={"Authorization": "Basic dTpw"})
        assert basic.status_code == 401
        push = http.post("/api/v1/visits/batch", json={"visits": []})
        assert push.status_code == 401  # auth is checked even for an invalid body


def test_a_revoked_token_stops_working(backoffice: Backoffice, laptop) -> None:
    login = f"T-{uuid.uuid4().hex[:6]}"
    backoffice.add(login)
    with backoffice.client(login) as http:
        assert http.get("/api/v1/me").json()["login"] == login
    auth.revoke_token(backoffice.engine, backoffice.token_ids[login])
    with backoffice.client(login) as http:
        gone = http.get("/api/v1/me")
    assert gone.status_code == 401 and _code(gone) == "bad_token"

    close_visit(laptop, login)
    report = sync_once(backoffice.settings(login), laptop)
    assert report.failed is not None and "401" in report.failed[1]
    assert "ask the office for a new one" in report.failed[1]  # what to do, not just a code
    assert report.waiting == 1  # nothing left the outbox


def test_a_bad_token_tells_the_technician_in_chinese_what_to_do(
    backoffice: Backoffice, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from fieldkit.cli import cli
    from fieldkit.records.db import open_database

    laptop_db = f"sqlite:///{(tmp_path / 'laptop.db').as_posix()}"
    open_database(laptop_db).close()  # an existing laptop database: only the token is wrong
    args = ["sync", "--server", backoffice.url, "--token", "fk_nope_nope", "--db", laptop_db]
    result = CliRunner().invoke(cli, [*args, "--once", "--lang", "zh"])
    assert result.exit_code == 1
    assert "同步中止：后台不接受本机的令牌" in result.stderr
    assert "HTTP 401" in result.stderr  # the server's own words stay beside it


def test_a_technician_cannot_write_another_technicians_visit(
    backoffice: Backoffice, laptop
) -> None:
    visit_id = close_visit(laptop, "T002")
    item = VisitRepository(laptop).pending_outbox()[0]
    with backoffice.client("T001") as http:
        refused = http.put(f"/api/v1/visits/{visit_id}", json=item.payload)
        batch = http.post("/api/v1/visits/batch", json={"visits": [item.payload]})
    assert refused.status_code == 403 and _code(refused) == "forbidden"
    assert "T002" in refused.json()["error"]["message"]
    assert batch.status_code == 403
    with backoffice.client("admin") as http:
        assert http.get(f"/api/v1/visits/{visit_id}").status_code == 404  # nothing written

    # On the laptop the record is set aside with the server's answer, not retried forever.
    report = sync_once(backoffice.settings("T001"), laptop, pull=False)
    assert report.failed is None and not report.ok
    ((rejected, message),) = report.rejected
    assert rejected == visit_id and "403" in message
    (item,) = VisitRepository(laptop).outbox_items("rejected")
    assert item.visit_id == visit_id and "403" in (item.last_error or "")


def test_a_technician_reads_only_their_own_records(backoffice: Backoffice, laptop) -> None:
    mine = close_visit(laptop, "T001")
    theirs = close_visit(laptop, "T002", customer_no="0099999")
    items = {i.visit_id: i for i in VisitRepository(laptop).pending_outbox()}
    with backoffice.client("T001") as http:
        assert http.put(f"/api/v1/visits/{mine}", json=items[mine].payload).status_code == 201
    with backoffice.client("T002") as http:
        assert http.put(f"/api/v1/visits/{theirs}", json=items[theirs].payload).status_code == 201
    order = service.NewWorkOrder(
        order_no=f"AUTH-{uuid.uuid4().hex[:8]}",
        visit_type="repair",
        customer=CustomerPayload(customer_no="C9", address=Address()),
        assigned_to="T002",
    )
    (order_id,) = service.create_work_orders(backoffice.engine, None, [order])

    with backoffice.client("T001") as http:
        assert http.get(f"/api/v1/visits/{theirs}").status_code == 404
        assert http.get(f"/api/v1/visits/{mine}").status_code == 200
        listed = {v["visit_id"] for v in http.get("/api/v1/visits").json()["items"]}
        assert str(mine) in listed and str(theirs) not in listed
        other = http.get("/api/v1/visits", params={"technician_id": "T002"})
        assert other.status_code == 403
        orders = http.get("/api/v1/work-orders", params={"limit": 1000}).json()["items"]
        assert str(order_id) not in {o["work_order_id"] for o in orders}
        # back-office writes need an admin account
        create = http.post(
            "/api/v1/work-orders",
            json={
                "order_no": "X-1",
                "visit_type": "repair",
                "customer": {"customer_no": "C1"},
                "assigned_to": "T001",
            },
        )
        assert create.status_code == 403
        assert http.get("/api/v1/complaints").status_code == 403
    with backoffice.client("admin") as http:
        everyone = {v["visit_id"] for v in http.get("/api/v1/visits").json()["items"]}
        assert {str(mine), str(theirs)} <= everyone
        orders = http.get("/api/v1/work-orders", params={"limit": 1000}).json()["items"]
        assert str(order_id) in {o["work_order_id"] for o in orders}


def test_requests_are_not_blocked_by_an_open_write(backoffice: Backoffice) -> None:
    """Authentication and reads never wait for a writer (SQLite: no write lock on reads)."""
    import time

    import sqlalchemy as sa

    from fieldkit.sync.server import tables

    with backoffice.engine.begin() as conn:  # a writer holds its transaction open
        conn.execute(
            tables.counter.update()
            .where(tables.counter.c.name == "work_order")
            .values(value=tables.counter.c.value)
        )
        started = time.monotonic()
        with backoffice.client("T001") as http:
            assert http.get("/api/v1/me", timeout=10).status_code == 200
            assert http.get("/api/v1/visits", timeout=10).status_code == 200
        assert time.monotonic() - started < 5
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.counter)).scalar_one()
