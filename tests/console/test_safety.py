"""The safety audit page over HTTP against a real server (SQLite and PostgreSQL): visits
really pushed by the sync client from laptop databases, flagged by the server, listed with
filters and keyset pages, exported, refused to the wrong roles, shown on the visit page."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from openpyxl import load_workbook

from fieldkit.config import Settings
from fieldkit.records.db import open_database
from fieldkit.sync.client import sync_once
from fieldkit.sync.server import tables as t
from tests.console.conftest import Console
from tests.console.flagged import ignition_without_purge, purge_under_override

ROW = re.compile(r'<tr class="flagged">(.*?)</tr>', re.S)
LINK = re.compile(r'href="/console/visits/([0-9a-f-]{36})"')
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEXT = re.compile(r'<a rel="next" href="([^"]+)"')


def _push(console: Console, login: str, database) -> None:
    settings = Settings(server_url=console.url, token=console.tokens[login])
    report = sync_once(settings, database, lambda _p: None, pull=False)
    assert report.failed is None and not report.rejected, report


def _customer_no(console: Console, visit_id: uuid.UUID) -> str:
    with console.engine.connect() as conn:
        return conn.execute(
            sa.select(t.visit.c.customer_no).where(t.visit.c.id == visit_id)
        ).scalar_one()


def _rows(html: str) -> list[tuple[str, str]]:
    """(visit id, row text) of each row of the list."""
    return [(LINK.search(row).group(1), re.sub(r"<[^>]+>", " ", row)) for row in ROW.findall(html)]


def test_the_safety_audit_lists_pushed_visits_the_server_flagged(
    console: Console, tmp_path: Path
) -> None:
    laptops = {}
    for login in ("T001", "T002"):
        laptops[login] = open_database(f"sqlite:///{(tmp_path / f'{login}.db').as_posix()}")
    try:
        ignitions = [ignition_without_purge(laptops["T001"]) for _ in range(3)]
        override, override_customer = purge_under_override(laptops["T002"], "T002")
        _push(console, "T001", laptops["T001"])
        _push(console, "T002", laptops["T002"])
    finally:
        for database in laptops.values():
            database.close()
    customers = {v: _customer_no(console, v) for v in ignitions}

    sup = console.login("sup")
    page = sup.get("/console/safety")
    assert page.status_code == 200
    assert "<h1>安全审计</h1>" in page.text and 'href="/console/safety"' in page.text
    rows = dict(_rows(page.text))
    for visit_id in ignitions:
        text = rows[str(visit_id)]
        assert "未满足前置条件即点火" in text and "未完成置换放散" in text
        assert customers[visit_id] in text and "T001" in text
    assert "按本地规程覆盖作业" in rows[str(override)] and "李工（技术科）" in rows[str(override)]

    # filters: flag kind, technician, customer, date range (of the flag, in Asia/Shanghai)
    only = _rows(sup.get("/console/safety", params={"kind": "local_override"}).text)
    assert str(override) in dict(only)
    assert all("按本地规程覆盖作业" in text for _v, text in only)
    mine = _rows(sup.get("/console/safety", params={"technician": "T002"}).text)
    assert str(override) in dict(mine) and not {str(v) for v in ignitions} & set(dict(mine))
    both = {"technician": "T002", "kind": "local_override"}
    assert [v for v, _ in _rows(sup.get("/console/safety", params=both).text)] == [str(override)]
    assert [v for v, _ in _rows(sup.get(f"/console/safety?q={override_customer}").text)] == [
        str(override)
    ]
    with console.engine.connect() as conn:
        flagged = conn.execute(
            sa.select(sa.func.min(t.visit_safety_flag.c.flagged_at)).where(
                t.visit_safety_flag.c.visit_id.in_(ignitions)
            )
        ).scalar_one()
    shanghai = (flagged.replace(tzinfo=flagged.tzinfo or UTC)).astimezone(SHANGHAI).date()
    day = {"date_from": str(shanghai), "date_to": str(shanghai), "technician": "T001"}
    assert {str(v) for v in ignitions} <= {
        v for v, _ in _rows(sup.get("/console/safety", params=day).text)
    }
    before = {"date_to": str(shanghai - timedelta(days=1)), "technician": "T001"}
    assert _rows(sup.get("/console/safety", params=before).text) == []
    bad = sup.get("/console/safety", params={"kind": "exploded"})
    assert bad.status_code == 400 and "未知" in bad.text

    # keyset pages of one row, newest flag first, each row once
    seen: list[str] = []
    url = "/console/safety?technician=T001&kind=ignition_without_gates&size=1"
    while url:
        html = sup.get(url.replace("&amp;", "&")).text
        rows_on_page = _rows(html)
        assert len(rows_on_page) <= 1, (url, [v for v, _ in rows_on_page])
        seen += [v for v, _ in rows_on_page]
        found = NEXT.search(html)
        url = found.group(1) if found else ""
    assert set(seen) >= {str(v) for v in ignitions} and len(seen) == len(set(seen))

    # the same list as CSV and XLSX
    csv_text = sup.get("/console/safety", params={"technician": "T001", "format": "csv"})
    table = list(csv.reader(io.StringIO(csv_text.content.decode("utf-8-sig"))))
    assert table[0][:3] == ["标记时间", "标记", "标记原因"]
    assert {customers[v] for v in ignitions} <= {r[5] for r in table[1:]}
    assert all(r[1] == "未满足前置条件即点火" and "未完成置换放散" in r[2] for r in table[1:])
    xlsx = sup.get("/console/safety", params={**both, "format": "xlsx"})
    (tmp_path / "safety.xlsx").write_bytes(xlsx.content)
    sheet = load_workbook(tmp_path / "safety.xlsx", read_only=True).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[1][1] == "按本地规程覆盖作业" and values[1][5] == override_customer

    # the visit's page shows its flags first
    visit = sup.get(f"/console/visits/{ignitions[0]}").text
    flags = visit.split('<section class="flags"', 1)[1].split("</section>", 1)[0]
    assert "安全标记" in flags and "未满足前置条件即点火" in flags and "未完成置换放散" in flags
    assert visit.index('class="flags"') < visit.index('<table class="steps"')

    # English on request
    sup.cookies.set("fk_console_lang", "en", path="/console")
    english = sup.get("/console/safety", params=both).text
    assert "Work under a local procedure override" in english and "Safety audit" in english


def test_the_safety_audit_is_for_supervisors_and_admins(console: Console) -> None:
    assert console.login("boss").get("/console/safety").status_code == 200
    assert console.login("sup").get("/console/safety").status_code == 200
    for login in ("disp", "cs"):
        client = console.login(login)
        refused = client.get("/console/safety")
        assert refused.status_code == 403 and "角色" in refused.text
        assert client.get("/console/safety?format=csv").status_code == 403
        assert 'href="/console/safety"' not in client.get("/console/visits").text
    import httpx

    with httpx.Client(base_url=console.url) as anonymous:
        response = anonymous.get("/console/safety")
        assert response.status_code == 303 and "/console/login" in response.headers["location"]
        device = anonymous.get(
            "/console/safety", headers={"Authorization": f"Bearer {console.tokens['T001']}"}
        )
        assert device.status_code == 303
