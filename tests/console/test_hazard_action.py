"""The back office moves a hazard forward (issue 11 item 5), over HTTP against a real server
(SQLite and PostgreSQL): CSRF and roles enforced, the note required, the change audited and
kept in the hazard's trail, and a later laptop push (the real sync client) carrying an older
status neither undoes it nor is lost."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa

from fieldkit.config import Settings
from fieldkit.console import tables as ct
from fieldkit.records.db import open_database
from fieldkit.records.repo import VisitRepository
from fieldkit.sync.client import sync_once
from fieldkit.sync.server import tables as t
from tests.console.conftest import Console, csrf_of
from tests.sync.conftest import T0, close_visit


def _push(console: Console, database) -> int:
    settings = Settings(server_url=console.url, token=console.tokens["T001"])
    report = sync_once(settings, database, lambda _p: None, pull=False)
    assert report.failed is None and not report.rejected and not report.conflicts, report
    return report.pushed


def _status(console: Console, customer_no: str, hazard_id: uuid.UUID) -> str:
    with console.engine.connect() as conn:
        return conn.execute(
            sa.select(t.hazard.c.status).where(
                t.hazard.c.customer_no == customer_no, t.hazard.c.id == hazard_id
            )
        ).scalar_one()


def _trail(html: str) -> list[str]:
    block = html.split('<ol class="trail">', 1)[1].split("</ol>", 1)[0]
    return [
        re.sub(r"<[^>]+>|\s+", " ", li).strip() for li in re.findall(r"<li.*?</li>", block, re.S)
    ]


def test_a_supervisor_moves_a_hazard_forward_and_a_later_push_keeps_it(
    console: Console, tmp_path: Path
) -> None:
    customer_no = f"HZ-{uuid.uuid4().hex[:6]}"
    laptop = open_database(f"sqlite:///{(tmp_path / 'laptop.db').as_posix()}")
    try:
        first = close_visit(laptop, "T001", customer_no=customer_no)
        repo = VisitRepository(laptop, clock=lambda: T0)
        (hazard,) = repo.visit_hazards(first)
        assert _push(console, laptop) == 1

        sup = console.login("sup")
        page_url = f"/console/hazards/{hazard.id}?customer_no={customer_no}"
        page = sup.get(page_url)
        assert page.status_code == 200 and 'id="hazard-action"' in page.text
        csrf = csrf_of(page.text)
        form = {"csrf_token": csrf, "customer_no": customer_no, "status": "pending"}
        action = f"/console/hazards/{hazard.id}/status"

        # refused: no CSRF token, a forged one, a role without the right, no note, bad action
        for bad in ({}, {"csrf_token": "forged"}):
            refused = sup.post(
                action,
                data={**form, "action": "fixed", "note": "x", **bad}
                if bad
                else {"customer_no": customer_no, "action": "fixed", "note": "x"},
            )
            assert refused.status_code == 403 and "表单" in refused.text
        disp = console.login("disp")
        shown = disp.get(page_url)
        assert shown.status_code == 200 and 'id="hazard-action"' not in shown.text
        refused = disp.post(
            action, data={**form, "csrf_token": csrf_of(shown.text), "action": "fixed", "note": "x"}
        )
        assert refused.status_code == 403 and "角色" in refused.text
        empty = sup.post(action, data={**form, "action": "fixed", "note": "  "})
        assert empty.status_code == 400 and "note" in empty.text
        unknown = sup.post(action, data={**form, "action": "pending", "note": "回退"})
        assert unknown.status_code == 400
        assert _status(console, customer_no, hazard.id) == "pending"

        # the customer was notified (status unchanged), then the rectification confirmed
        notified = sup.post(
            action, data={**form, "action": "notified", "note": "已电话通知用户整改"}
        )
        assert notified.status_code == 303
        assert _status(console, customer_no, hazard.id) == "pending"
        fixed = sup.post(
            action, data={**form, "action": "fixed", "note": "用户发来更换软管照片，已核实"}
        )
        assert fixed.status_code == 303
        assert fixed.headers["location"].endswith(page_url)
        assert _status(console, customer_no, hazard.id) == "fixed"
        again = sup.post(action, data={**form, "action": "fixed", "note": "再次"})
        assert again.status_code == 409  # the form saw 待整改; it is 已整改 now
        stale = sup.post(
            action, data={**form, "status": "fixed", "action": "rechecking", "note": "x"}
        )
        assert stale.status_code == 409

        # a 复查 visit on the laptop (which does not know) reports 复查中 and is pushed
        second_repo = VisitRepository(laptop, clock=lambda: datetime.now(UTC))
        customer = second_repo.upsert_customer(customer_no, name="张三")
        second = second_repo.start_visit(
            customer_id=customer.id, technician_id="T001", visit_type="recheck"
        )
        second_repo.set_hazard_status(
            hazard.id, "rechecking", note="到场复查，软管待更换", actor="T001", visit_id=second.id
        )
        second_repo.sign(second.id, "张三")
        second_repo.close_visit(second.id, "completed")
        assert _push(console, laptop) == 1
        assert _push(console, laptop) == 0  # exactly once
    finally:
        laptop.close()
    assert _status(console, customer_no, hazard.id) == "fixed"  # not undone

    trail = _trail(sup.get(page_url).text)
    assert len(trail) == 4, trail
    assert "待整改" in trail[0] and "T001" in trail[0]
    assert "后台 sup" in trail[1] and "已通知用户" in trail[1] and "已电话通知用户整改" in trail[1]
    assert "后台 sup" in trail[2] and "已整改" in trail[2] and "已核实" in trail[2]
    assert "复查中" in trail[3] and "T001" in trail[3]
    assert 'id="hazard-action"' not in sup.get(page_url).text  # nothing further to do

    with console.engine.connect() as conn:
        audit = conn.execute(
            sa.select(ct.audit_log.c.actor, ct.audit_log.c.action, ct.audit_log.c.detail)
            .where(ct.audit_log.c.target == str(hazard.id))
            .order_by(ct.audit_log.c.at)
        ).all()
    assert [(a, b) for a, b, _ in audit] == [("sup", "hazard.notified"), ("sup", "hazard.status")]
    assert audit[1].detail == {
        "customer_no": customer_no,
        "from": "pending",
        "to": "fixed",
        "note": "用户发来更换软管照片，已核实",
    }
    boss = console.login("boss")
    log = boss.get("/console/audit", params={"q": str(hazard.id)}).text
    assert "隐患状态已变更" in log and "已通知用户隐患整改" in log


def test_an_admin_may_act_and_a_device_token_may_not(console: Console) -> None:
    with httpx.Client(base_url=console.url) as device:
        response = device.post(
            f"/console/hazards/{uuid.uuid4()}/status",
            data={"action": "fixed", "note": "x"},
            headers={"Authorization": f"Bearer {console.tokens['T001']}"},
        )
        assert response.status_code == 303 and "/console/login" in response.headers["location"]
    boss = console.login("boss")
    csrf = csrf_of(boss.get("/console/hazards").text)
    missing = boss.post(
        f"/console/hazards/{uuid.uuid4()}/status",
        data={"csrf_token": csrf, "action": "fixed", "note": "x"},
    )
    assert missing.status_code == 404 and "找不到" in missing.text
