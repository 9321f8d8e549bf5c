"""The console end to end in a real browser (Debian's Chromium via Playwright) against a
real ``fieldkit serve``, with a real ``fieldkit sync`` from a laptop database in between."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from fieldkit.records.db import open_database
from fieldkit.records.repo import VisitRepository
from tests.console.browser import chromium, shots  # noqa: F401  (fixtures)
from tests.console.conftest import PASSWORD, Console, start_console
from tests.console.flagged import ignition_without_purge
from tests.sync.conftest import Event

XSS_NAME = "<script>window.__xss = 1</script>王五"
ORDER_NO = "WO-E2E-1"
CUSTOMER_NO = "C-E2E-1"
T0 = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    db = tmp_path_factory.mktemp("console-e2e") / "server.db"
    console = start_console(f"sqlite:///{db.as_posix()}", tmp_path_factory.mktemp("logs"))
    try:
        yield console
    finally:
        console.proc.stop()
        console.engine.dispose()


def _page(browser: Any, office: Console, username: str | None, **context: Any) -> Any:
    ctx = browser.new_context(
        viewport={"width": 1280, "height": 800}, accept_downloads=True, **context
    )
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    if username is not None:
        page.goto(f"{office.url}/console/")
        assert "/console/login" in page.url
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        _submit(page, "section.login button[type=submit]")
        assert "/console/login" not in page.url, page.content()[-500:]
    return page


def _submit(page: Any, selector: str) -> None:
    """Click and wait for the page the click leads to."""
    with page.expect_navigation():
        page.click(selector)


def _sync(office: Console, db_url: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "FIELDKIT_SERVER_URL": office.url,
        "FIELDKIT_TOKEN": office.tokens["T001"],
        "FIELDKIT_DB_URL": db_url,
    }
    out = subprocess.run(
        [sys.executable, "-m", "fieldkit", "sync", "--once", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _close_visit_on_laptop(db_url: str) -> uuid.UUID:
    """The technician works the pulled order; a laptop-side customer name holds a script."""
    database = open_database(db_url)
    try:
        repo = VisitRepository(database, clock=lambda: T0, local_tz=UTC)
        (order,) = [o for o in repo.open_work_orders("T001") if o.order_no == ORDER_NO]
        customer = repo.upsert_customer(CUSTOMER_NO, name=XSS_NAME, room="502")
        visit = repo.start_visit(
            customer_id=customer.id,
            technician_id="T001",
            visit_type="ignition",
            work_order_id=order.id,
        )
        run = repo.start_run(visit.id, procedure_id="ignition", procedure_version=1, actor="T001")
        for i, value in enumerate(
            (
                {"answer": "yes"},
                {"measurements": [{"quantity": "pressure", "value": 2.1, "unit": "kPa"}]},
                {"answer": "阀门已关闭"},
            )
        ):
            repo.record_event(
                visit.id,
                run.id,
                Event(
                    run_id=run.id,
                    step_id=f"step-{i}",
                    value=value,
                    passed=True,
                    at=T0 + timedelta(seconds=i),
                ),
            )
        repo.set_run_status(run.id, "completed")
        repo.add_hazard(
            visit.id, description="软管老化", level="general", deadline=date(2026, 11, 25)
        )
        repo.sign(visit.id, "王五")
        repo.close_visit(visit.id, "completed")
        return visit.id
    finally:
        database.close()


def test_dispatch_sync_review_follow_up_and_complaint(
    chromium: Any,  # noqa: F811
    shots: Path,  # noqa: F811
    office: Console,
    tmp_path: Path,
) -> None:
    # --- the dispatcher creates the order, assigns it to T002, then reassigns it to T001
    disp = _page(chromium, office, "disp")
    assert disp.url.endswith("/console/work-orders")
    disp.click("text=新建工单")
    disp.fill("#order_no", ORDER_NO)
    disp.select_option("#visit_type", "ignition")
    disp.fill("#customer_no", CUSTOMER_NO)
    disp.fill("#customer_name", "王五")
    disp.fill("#community", "幸福小区")
    disp.fill("#scheduled_for", "2026-11-23")
    disp.select_option("#assigned_to", "T002")
    disp.fill("#notes", "带上检漏仪")
    disp.screenshot(path=str(shots / "work-order-new.png"), full_page=True)
    _submit(disp, "form.grid button[type=submit]")
    assert ORDER_NO in disp.inner_text("h1")
    disp.select_option("#assigned_to", "T001")
    _submit(disp, "button:text-is('派给')")
    facts = disp.inner_text("dl.facts")
    assert "T001" in facts and "原 T002" in facts
    assert "工单已派发" in disp.inner_text("ul.trail")
    disp.screenshot(path=str(shots / "work-order.png"), full_page=True)

    # --- a real `fieldkit sync` pulls it; the technician closes a visit; sync pushes it
    laptop = f"sqlite:///{(tmp_path / 'laptop.db').as_posix()}"
    open_database(laptop).close()
    pulled = _sync(office, laptop)
    assert pulled["failed"] is None
    visit_id = _close_visit_on_laptop(laptop)
    pushed = _sync(office, laptop)
    assert pushed["pushed"] == 1 and pushed["failed"] is None

    # typing in the search box narrows the list in place (htmx), and the URL follows
    disp.goto(f"{office.url}/console/work-orders")
    disp.fill("input[type=search]", CUSTOMER_NO)
    disp.wait_for_url(f"**/console/work-orders?*q={CUSTOMER_NO}")
    disp.wait_for_function(
        "document.querySelectorAll('#list tbody tr').length === 1", timeout=10_000
    )
    row = disp.inner_text("#list tbody")
    assert ORDER_NO in row and "T001" in row and "2026-11-23" in row
    disp.goto(f"{office.url}/console/technicians/T001")
    assert ORDER_NO in disp.inner_text("main")
    disp.screenshot(path=str(shots / "technician.png"), full_page=True)

    # --- the supervisor reviews the visit; the laptop's script is shown as text
    sup = _page(chromium, office, "sup")
    sup.goto(f"{office.url}/console/visits?technician=T001")
    listing = sup.inner_text("#list tbody")
    assert XSS_NAME in listing
    assert sup.evaluate("window.__xss") is None
    sup.screenshot(path=str(shots / "visits.png"), full_page=True)
    _submit(sup, f"a[href='/console/visits/{visit_id}']")
    assert XSS_NAME in sup.inner_text("h1")
    assert sup.evaluate("window.__xss") is None
    steps = sup.inner_text("table.steps")
    for text in ("step-0", "step-1", "step-2", "阀门已关闭"):
        assert text in steps
    main = sup.inner_text("main")
    assert "2.1 kPa" in main and "软管老化" in main and "王五" in main
    assert ORDER_NO in main
    sup.screenshot(path=str(shots / "visit.png"), full_page=True)
    # the handover form (设施交接单) as a PDF, checked with poppler's tools
    with sup.expect_download() as info:
        sup.click("a[href$='/handover.pdf']")
    pdf = tmp_path / "handover.pdf"
    info.value.save_as(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "交接单" in text and CUSTOMER_NO in text and "王五" in text
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(shots / "handover")],
        check=True,
    )
    assert list(shots.glob("handover*.png"))
    sup.goto(f"{office.url}/console/hazards")
    hazards = sup.inner_text("#list tbody")
    assert "软管老化" in hazards and "已逾期" in hazards  # deadline 2026-11-25 has passed
    sup.screenshot(path=str(shots / "hazards.png"), full_page=True)
    # the supervisor confirms the rectification from the back office, with a note
    _submit(sup, "#list tbody a:text-is('软管老化')")
    sup.select_option("#action", "fixed")
    sup.fill("#note", "用户已更换软管，照片已核实")
    _submit(sup, "#hazard-action button[type=submit]")
    assert sup.inner_text("#hazard-status") == "已整改"
    assert "用户已更换软管" in sup.inner_text("ol.trail")
    sup.screenshot(path=str(shots / "hazard.png"), full_page=True)

    # --- downloads: CSV and XLSX of the visits list
    with sup.expect_download() as info:
        sup.goto(f"{office.url}/console/visits?technician=T001")
        sup.click("a:text-is('CSV')")
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["开始时间", "维修员", "类型"]
    assert [r[4] for r in rows[1:]] == [CUSTOMER_NO] and rows[1][5] == XSS_NAME
    assert rows[1][2] == "通气点火" and rows[1][0].startswith("2026-11-23 09:30")  # Asia/Shanghai
    with sup.expect_download() as info:
        sup.click("a:text-is('XLSX')")
    assert info.value.suggested_filename == "visits.xlsx"
    info.value.save_as(tmp_path / "visits.xlsx")
    sheet = load_workbook(tmp_path / "visits.xlsx", read_only=True).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0][4] == "户号" and values[1][4] == CUSTOMER_NO and values[1][5] == XSS_NAME

    # --- customer service: the follow-up call (due 3 days after the visit: overdue now)
    cs = _page(chromium, office, "cs")
    assert cs.url.endswith("/console/follow-ups")
    cs.goto(f"{office.url}/console/follow-ups?status=overdue")
    row = cs.locator("#list tbody tr", has_text=CUSTOMER_NO)
    assert "已逾期" in row.inner_text()
    cs.screenshot(path=str(shots / "follow-ups.png"), full_page=True)
    row.locator("summary").click()
    row.locator("input[name=reached][value=yes]").check()
    row.locator("select[name=satisfaction]").select_option("satisfied")
    row.locator("textarea[name=comments]").fill("用户表示满意")
    with cs.expect_navigation():
        row.locator("button[type=submit]").click()
    cs.goto(f"{office.url}/console/follow-ups?status=done")
    done = cs.inner_text("#list tbody")
    assert CUSTOMER_NO in done and "满意" in done and "cs" in done

    # --- a complaint goes 受理 → 派单 → 处理 → 回访 → 结案
    cs.goto(f"{office.url}/console/complaints/new?customer_no={CUSTOMER_NO}&visit_id={visit_id}")
    cs.fill("#complainant", "王五")
    cs.select_option("#channel", "hotline")
    cs.fill("#content", "点火后灶具火焰偏小")
    _submit(cs, "form.grid button[type=submit]")
    assert cs.inner_text("#stage").startswith("已受理")
    yesterday = (datetime.now(UTC) + timedelta(hours=8) - timedelta(days=1)).date()
    cs.fill("#assigned_to", "T001")
    cs.fill("#deadline", yesterday.isoformat())
    _submit(cs, "button:text-is('派单')")
    assert "已逾期" in cs.inner_text("#stage")  # the deadline has passed: highlighted
    cs.fill("#handling", "调整风门")
    _submit(cs, "button:text-is('登记处理情况')")
    cs.fill("#confirmation", "用户确认火焰正常")
    _submit(cs, "button:text-is('登记回访结果')")
    cs.fill("#note", "处理完毕")
    _submit(cs, "button:text-is('结案')")
    assert cs.inner_text("#stage") == "已结案"
    trail = cs.inner_text("ol.trail")
    for stage in ("已受理", "已派单", "已处理", "已回访", "已结案"):
        assert stage in trail
    cs.screenshot(path=str(shots / "complaint.png"), full_page=True)
    cs.goto(f"{office.url}/console/complaints?status=")
    assert "已结案" in cs.inner_text("#list tbody")
    cs.screenshot(path=str(shots / "complaints.png"), full_page=True)

    # --- English on request
    _submit(cs, "a[lang=en]")
    assert "Complaints" in cs.inner_text("h1")


def test_refusals_in_the_browser(chromium: Any, office: Console, shots: Path) -> None:  # noqa: F811
    anonymous = _page(chromium, office, None)
    anonymous.goto(f"{office.url}/console/visits")
    assert "/console/login" in anonymous.url
    anonymous.screenshot(path=str(shots / "login.png"))

    device = _page(
        chromium,
        office,
        None,
        extra_http_headers={"Authorization": f"Bearer {office.tokens['T001']}"},
    )
    device.goto(f"{office.url}/console/visits")
    assert "/console/login" in device.url

    disp = _page(chromium, office, "disp")
    response = disp.goto(f"{office.url}/console/follow-ups")
    assert response is not None and response.status == 403
    assert "您的角色无权" in disp.inner_text("main")

    disp.goto(f"{office.url}/console/work-orders/new")
    disp.fill("#order_no", "WO-CSRF")
    disp.fill("#customer_no", "C-CSRF")
    disp.evaluate("document.querySelector('form.grid input[name=csrf_token]').value = 'forged'")
    _submit(disp, "form.grid button[type=submit]")
    assert "表单已过期" in disp.inner_text("main")
    disp.goto(f"{office.url}/console/work-orders?q=WO-CSRF")
    assert "WO-CSRF" not in disp.inner_text("#list tbody")


def test_a_flagged_visit_in_the_safety_audit(
    chromium: Any,  # noqa: F811
    shots: Path,  # noqa: F811
    office: Console,
    tmp_path: Path,
) -> None:
    """A laptop records ignition with no purge before it; a real `fieldkit sync` pushes it;
    the server flags it; the supervisor finds it in the safety audit and opens the visit."""
    laptop = f"sqlite:///{(tmp_path / 'laptop.db').as_posix()}"
    database = open_database(laptop)
    try:
        visit_id = ignition_without_purge(database)
    finally:
        database.close()
    pushed = _sync(office, laptop)
    assert pushed["pushed"] == 1 and pushed["failed"] is None

    sup = _page(chromium, office, "sup")
    sup.goto(f"{office.url}/console/visits")
    _submit(sup, "nav a:text-is('安全审计')")
    assert sup.inner_text("h1") == "安全审计"
    sup.select_option("select[name=kind]", "ignition_without_gates")
    _submit(sup, "form.filters button[type=submit]")
    assert "kind=ignition_without_gates" in sup.url
    assert sup.locator("#list tbody tr").count() >= 1
    assert all("未满足前置条件即点火" in r for r in sup.locator("#list tbody tr").all_inner_texts())
    row = sup.locator("#list tbody tr", has=sup.locator(f"a[href='/console/visits/{visit_id}']"))
    assert row.count() == 1
    assert "未完成置换放散" in row.inner_text() and "T001" in row.inner_text()
    sup.screenshot(path=str(shots / "safety.png"), full_page=True)
    with sup.expect_navigation():
        row.locator(f"a[href='/console/visits/{visit_id}']").click()
    flags = sup.locator("section.flags")
    assert flags.is_visible()
    text = flags.inner_text()
    assert "安全标记" in text and "未满足前置条件即点火" in text and "未完成置换放散" in text
    # the flags come before the record itself
    assert sup.evaluate(
        "document.querySelector('section.flags').compareDocumentPosition("
        "document.querySelector('table.steps')) & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    sup.screenshot(path=str(shots / "visit-flagged.png"), full_page=True)

    disp = _page(chromium, office, "disp")
    assert disp.locator("nav a:text-is('安全审计')").count() == 0
    response = disp.goto(f"{office.url}/console/safety")
    assert response is not None and response.status == 403
