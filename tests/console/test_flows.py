"""Console flows over HTTP against a real server (SQLite and PostgreSQL): devices and
tokens, follow-up calls, the complaint loop's order, keyset pagination and every export."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa

from fieldkit.sync.schema import CustomerPayload
from fieldkit.sync.server import service
from fieldkit.sync.server import tables as t
from tests.console.conftest import Console, csrf_of

LISTS = (
    "work-orders",
    "technicians",
    "visits",
    "hazards",
    "follow-ups",
    "complaints",
    "audit",
)


def _visit(console: Console, customer_no: str, name: str, *, days_ago: int = 5) -> uuid.UUID:
    """A visit stored through the service layer, as a push would store it."""
    from fieldkit.sync.schema import VisitPayload
    from fieldkit.sync.server.auth import Principal

    started = datetime.now(UTC) - timedelta(days=days_ago)
    visit_id = uuid.uuid4()
    payload = VisitPayload(
        visit_id=visit_id,
        technician_id="T002",
        visit_type="inspection",
        customer=CustomerPayload(customer_no=customer_no, name=name),
        outcome="completed",
        started_at=started,
        ended_at=started + timedelta(minutes=30),
        follow_up_due=(started + timedelta(days=3)).date(),
        hazards=[
            {
                "hazard_id": str(uuid.uuid4()),
                "description": '=HYPERLINK("http://x")',
                "level": "major",
                "status": "pending",
                "found_at": started.isoformat(),
            }
        ],
    )
    who = Principal(uuid.uuid4(), "T002", "technician", "x")
    (result,) = service.store_visits(console.engine, who, [payload])
    assert result.status == "stored"
    return visit_id


def test_enrol_issue_a_token_once_and_revoke_it(console: Console) -> None:
    sup = console.login("sup")
    csrf = csrf_of(sup.get("/console/technicians").text)
    assert (
        sup.post(
            "/console/technicians", data={"csrf_token": csrf, "login": "T100", "name": "赵六"}
        ).status_code
        == 303
    )
    issued = sup.post(
        "/console/technicians/T100/tokens", data={"csrf_token": csrf, "label": "新笔记本"}
    )
    assert issued.status_code == 200
    token = re.search(r'<pre class="token" id="token">([^<]+)</pre>', issued.text).group(1)
    with httpx.Client(base_url=console.url, headers={"Authorization": f"Bearer {token}"}) as api:
        assert api.get("/api/v1/me").json()["login"] == "T100"
        page = sup.get("/console/technicians/T100").text
        assert token not in page  # shown once, never again
        token_id = token.split("_")[1]
        assert token_id in page and "新笔记本" in page
        revoked = sup.post(
            f"/console/technicians/T100/tokens/{token_id}/revoke", data={"csrf_token": csrf}
        )
        assert revoked.status_code == 303
        assert api.get("/api/v1/me").status_code == 401
    # a token of another technician cannot be revoked through this one's page
    other = sup.post("/console/technicians/T001/tokens/nope/revoke", data={"csrf_token": csrf})
    assert other.status_code == 404


def test_follow_up_not_reached_then_reached_with_a_complaint(console: Console) -> None:
    visit_id = _visit(console, "C-FU-1", "钱七")
    cs = console.login("cs")
    page = cs.get("/console/follow-ups?status=overdue")
    assert "C-FU-1" in page.text and "已逾期" in page.text
    csrf = csrf_of(page.text)
    url = f"/console/follow-ups/{visit_id}/calls"
    assert (
        cs.post(url, data={"csrf_token": csrf, "reached": "no", "comments": "无人接听"}).status_code
        == 303
    )
    assert "C-FU-1" in cs.get("/console/follow-ups?status=overdue").text  # still to do
    missing = cs.post(url, data={"csrf_token": csrf, "reached": "yes"})
    assert missing.status_code == 400 and "satisfaction" in missing.text
    done = cs.post(
        url,
        data={
            "csrf_token": csrf,
            "reached": "yes",
            "satisfaction": "unsatisfied",
            "comments": "燃气表漏气未处理",
            "complaint": "yes",
        },
    )
    assert done.status_code == 303 and "/console/complaints/" in done.headers["location"]
    case = cs.get(done.headers["location"]).text
    assert "燃气表漏气未处理" in case and "回访" in case
    assert "C-FU-1" in cs.get("/console/follow-ups?status=done").text
    again = cs.post(url, data={"csrf_token": csrf, "reached": "no"})
    assert again.status_code == 409
    with console.engine.connect() as conn:
        row = conn.execute(sa.select(t.follow_up).where(t.follow_up.c.visit_id == visit_id)).one()
    assert (row.called_by, row.satisfaction) == ("cs", "unsatisfied")


def test_the_complaint_loop_keeps_its_order(console: Console) -> None:
    cs = console.login("cs")
    csrf = csrf_of(cs.get("/console/complaints/new").text)
    created = cs.post(
        "/console/complaints",
        data={
            "csrf_token": csrf,
            "customer_no": "C-K-1",
            "complainant": "孙八",
            "channel": "phone",
            "content": "<b>服务态度差</b>",
        },
    )
    assert created.status_code == 303
    case = created.headers["location"]
    advance = case + "/advance"
    skipped = cs.post(advance, data={"csrf_token": csrf, "stage": "closed", "note": "x"})
    assert skipped.status_code == 409
    no_deadline = cs.post(
        advance, data={"csrf_token": csrf, "stage": "dispatched", "assigned_to": "T001"}
    )
    assert no_deadline.status_code == 400
    page = cs.get(case).text
    assert "&lt;b&gt;服务态度差&lt;/b&gt;" in page and "<b>服务态度差" not in page
    assert "已受理" in page


def test_keyset_pages_cover_every_row_once(console: Console) -> None:
    orders = [
        service.NewWorkOrder(
            order_no=f"PG-{i:03d}",
            visit_type="repair",
            customer=CustomerPayload(customer_no=f"C-PG-{i:03d}"),
            assigned_to="T002",
        )
        for i in range(130)
    ]
    service.create_work_orders(console.engine, None, orders)
    disp = console.login("disp")
    seen: list[str] = []
    url = "/console/work-orders?technician=T002&visit_type=repair&size=50"
    pages = 0
    while url:
        html = disp.get(url).text
        seen += re.findall(r">(PG-\d{3})<", html)
        found = re.search(r'rel="next" href="([^"]+)"', html)
        url = found.group(1).replace("&amp;", "&") if found else ""
        pages += 1
    assert pages == 3
    assert sorted(seen) == sorted(o.order_no for o in orders) and len(seen) == 130


def test_every_list_exports_csv_and_xlsx(console: Console) -> None:
    _visit(console, "C-EX-1", "=cmd|'/c calc'!A1")
    boss = console.login("boss")
    for name in LISTS:
        page = boss.get(f"/console/{name}")
        assert page.status_code == 200, name
        exported = boss.get(f"/console/{name}?format=csv&status=")
        assert exported.status_code == 200, name
        assert (
            exported.headers["content-disposition"]
            == f'attachment; filename="{name.replace("-", "_")}.csv"'
        )
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert rows and rows[0], name
        xlsx = boss.get(f"/console/{name}?format=xlsx")
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK", name
    visits = boss.get("/console/visits?format=csv&q=C-EX-1").content.decode("utf-8-sig")
    (header, row) = list(csv.reader(io.StringIO(visits)))
    assert row[header.index("用户")] == "'=cmd|'/c calc'!A1"  # never a live formula
    hazards = boss.get("/console/hazards?format=csv&q=C-EX-1").content.decode("utf-8-sig")
    assert "'=HYPERLINK" in hazards
    assert boss.get("/console/visits?format=pdf").status_code == 400


def test_english_and_the_language_cookie(console: Console) -> None:
    cs = console.login("cs")
    assert "回访" in cs.get("/console/follow-ups").text
    switched = cs.get("/console/lang/en?next=/console/follow-ups")
    assert switched.status_code == 303 and switched.headers["location"] == "/console/follow-ups"
    assert "Follow-up calls" in cs.get("/console/follow-ups").text
    away = cs.get("/console/lang/zh?next=https://evil.example/")
    assert away.headers["location"] == "/console/"
