"""Who may open what: sessions, CSRF, roles, device tokens, throttling — over HTTP against
a real ``fieldkit serve`` (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa

from fieldkit.console import tables as ct
from fieldkit.sync.server import tables as t
from tests.console.conftest import PASSWORD, Console, csrf_of, sign_in

PAGES = [
    "/console/",
    "/console/work-orders",
    "/console/work-orders/new",
    "/console/technicians",
    "/console/visits",
    "/console/hazards",
    "/console/follow-ups",
    "/console/complaints",
    "/console/audit",
    "/console/visits?format=csv",
]


def _new_order_form(csrf: str, order_no: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "order_no": order_no,
        "visit_type": "ignition",
        "customer_no": "C-" + order_no,
        "customer_name": "李四",
        "community": "幸福小区",
        "assigned_to": "T001",
        "scheduled_for": "2026-12-01",
    }


def _orders(console: Console, order_no: str) -> list:
    with console.engine.connect() as conn:
        return conn.execute(
            sa.select(t.work_order).where(t.work_order.c.order_no == order_no)
        ).all()


def test_no_page_without_a_session(console: Console) -> None:
    with httpx.Client(base_url=console.url, follow_redirects=False) as client:
        for path in PAGES:
            response = client.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/console/login?next=")
        posted = client.post("/console/work-orders", data={"order_no": "X"})
        assert posted.status_code == 303 and not _orders(console, "X")


def test_a_device_token_does_not_open_the_console(console: Console) -> None:
    token = console.tokens["T001"]
    with httpx.Client(base_url=console.url, headers={"Authorization": f"Bearer {token}"}) as client:
        assert client.get("/api/v1/me").status_code == 200  # the token itself works
        page = client.get("/console/work-orders", follow_redirects=False)
        assert page.status_code == 303 and "/console/login" in page.headers["location"]
        assert sign_in(client, "T001", token).status_code == 401


def test_a_staff_session_cannot_use_the_api(console: Console) -> None:
    client = console.login("boss")
    assert client.get("/console/work-orders").status_code == 200
    assert client.get("/api/v1/me").status_code == 401
    pushed = client.post("/api/v1/visits/batch", json={"visits": []})
    assert pushed.status_code == 401


def test_session_cookie_flags_and_logout(console: Console) -> None:
    client = httpx.Client(base_url=console.url, follow_redirects=False)
    page = client.get("/console/login")
    assert "httponly" in page.headers["set-cookie"].lower()
    response = sign_in(client, "disp", PASSWORD)
    cookie = response.headers["set-cookie"].lower()
    assert "fk_console=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain http on loopback; see test_secure_cookie
    assert "max-age=43200" in cookie
    csrf = csrf_of(client.get("/console/work-orders").text)
    assert client.post("/console/logout", data={"csrf_token": csrf}).status_code == 303
    assert client.get("/console/work-orders").status_code == 303


def test_an_expired_session_is_refused(console: Console) -> None:
    client = console.login("disp")
    assert client.get("/console/work-orders").status_code == 200
    with console.engine.begin() as conn:
        conn.execute(
            ct.staff_session.update().values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert client.get("/console/work-orders").status_code == 303


def test_csrf_is_required_on_every_change(console: Console) -> None:
    client = console.login("disp")
    csrf = csrf_of(client.get("/console/work-orders/new").text)
    for bad in ({}, {"csrf_token": "forged"}, {"csrf_token": csrf[:-1]}):
        form = _new_order_form(csrf, "CSRF-1")
        form.pop("csrf_token")
        response = client.post("/console/work-orders", data={**form, **bad})
        assert response.status_code == 403
        assert "表单" in response.text  # the message is in Chinese by default
    assert not _orders(console, "CSRF-1")
    # Another session's token is refused too.
    other = console.login("boss")
    theirs = csrf_of(other.get("/console/work-orders/new").text)
    assert (
        client.post("/console/work-orders", data=_new_order_form(theirs, "CSRF-1")).status_code
        == 403
    )
    ok = client.post("/console/work-orders", data=_new_order_form(csrf, "CSRF-1"))
    assert ok.status_code == 303 and len(_orders(console, "CSRF-1")) == 1


def test_the_login_form_needs_its_own_token(console: Console) -> None:
    with httpx.Client(base_url=console.url) as client:
        response = client.post("/console/login", data={"username": "boss", "password": PASSWORD})
        assert response.status_code == 403


def test_roles_are_enforced_on_pages_and_actions(console: Console) -> None:
    disp, cs, sup = console.login("disp"), console.login("cs"), console.login("sup")
    assert disp.get("/console/follow-ups").status_code == 403
    assert disp.get("/console/audit").status_code == 403
    assert sup.get("/console/audit").status_code == 403
    assert cs.get("/console/technicians").status_code == 403
    assert cs.get("/console/follow-ups").status_code == 200
    assert sup.get("/console/visits").status_code == 200
    csrf = csrf_of(cs.get("/console/follow-ups").text)
    refused = cs.post("/console/work-orders", data=_new_order_form(csrf, "ROLE-1"))
    assert refused.status_code == 403 and "角色" in refused.text
    assert not _orders(console, "ROLE-1")
    csrf = csrf_of(disp.get("/console/technicians").text)
    enrol = disp.post("/console/technicians", data={"csrf_token": csrf, "login": "T999"})
    assert enrol.status_code == 403
    # The navigation shows only what the role may open.
    page = cs.get("/console/follow-ups").text
    assert "/console/follow-ups" in page and "/console/technicians" not in page


def test_login_is_throttled(console: Console) -> None:
    client = httpx.Client(base_url=console.url)
    for _ in range(5):
        assert sign_in(client, "sup", "wrong password!").status_code == 401
    assert sign_in(client, "sup", PASSWORD).status_code == 429  # even the right password
    with console.engine.begin() as conn:
        conn.execute(ct.login_failure.delete().where(ct.login_failure.c.username == "sup"))
    assert sign_in(client, "sup", PASSWORD).status_code == 303
    with console.engine.connect() as conn:
        actions = [
            r.action
            for r in conn.execute(
                sa.select(ct.audit_log.c.action).where(ct.audit_log.c.actor == "sup")
            )
        ]
    assert actions.count("login.failed") >= 5 and "login" in actions


def test_work_order_actions_are_audited(console: Console) -> None:
    client = console.login("disp")
    csrf = csrf_of(client.get("/console/work-orders/new").text)
    created = client.post("/console/work-orders", data=_new_order_form(csrf, "AUD-1"))
    assert created.status_code == 303
    page = created.headers["location"]
    assert (
        client.post(f"{page}/assign", data={"csrf_token": csrf, "assigned_to": "T002"}).status_code
        == 303
    )
    assert client.post(f"{page}/cancel", data={"csrf_token": csrf}).status_code == 303
    (row,) = _orders(console, "AUD-1")
    assert (row.assigned_to, row.status, row.deleted) == ("T002", "cancelled", True)
    again = client.post(f"{page}/cancel", data={"csrf_token": csrf})
    assert again.status_code == 409
    assert "只有未完成的工单可以取消" in again.text
    late = client.post(f"{page}/assign", data={"csrf_token": csrf, "assigned_to": "T001"})
    assert late.status_code == 409
    assert "只有未完成的工单可以派单" in late.text
    with console.engine.connect() as conn:
        trail = conn.execute(
            sa.select(ct.audit_log.c.actor, ct.audit_log.c.action, ct.audit_log.c.detail)
            .where(ct.audit_log.c.target == "AUD-1")
            .order_by(ct.audit_log.c.at)
        ).all()
    assert [(a, b) for a, b, _ in trail] == [
        ("disp", "work_order.create"),
        ("disp", "work_order.assign"),
        ("disp", "work_order.cancel"),
    ]
    assert trail[1].detail == {"assigned_to": "T002", "previous": "T001"}
    history = client.get(page).text
    assert "工单已派发" in history and "工单已取消" in history


def test_bad_input_is_a_clear_page_not_a_traceback(console: Console) -> None:
    client = console.login("boss")
    for path, words in (
        ("/console/visits?date_from=2026-13-01", "日期"),
        ("/console/visits?outcome=exploded", "未知"),
        ("/console/visits?after=garbage", "第一页"),
        ("/console/visits?size=100000", "size"),
        ("/console/visits/not-a-uuid", "找不到"),
        ("/console/work-orders/NOPE", "找不到"),
        ("/console/no/such/page", "找不到"),
    ):
        response = client.get(path)
        assert 400 <= response.status_code < 500, path
        assert "text/html" in response.headers["content-type"]
        assert words in response.text, (path, response.text[-800:])
        assert "Traceback" not in response.text
    csrf = csrf_of(client.get("/console/work-orders/new").text)
    form = _new_order_form(csrf, "BAD-1") | {"assigned_to": "NOBODY"}
    response = client.post("/console/work-orders", data=form)
    assert response.status_code == 422 and "NOBODY" in response.text
    assert not _orders(console, "BAD-1")
    assert (
        client.post("/console/work-orders", data=_new_order_form(csrf, "DUP-1")).status_code == 303
    )
    response = client.post("/console/work-orders", data=_new_order_form(csrf, "DUP-1"))
    assert response.status_code == 409 and "DUP-1" in response.text


def test_secure_cookie_under_tls(console: Console, tmp_path) -> None:
    import ssl

    import trustme

    from tests.sync.conftest import ServerProcess

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    certfile, keyfile, cafile = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    ca.cert_pem.write_to_path(str(cafile))
    tls = ServerProcess(
        console.proc.db_url,
        tmp_path,
        "--ssl-certfile",
        str(certfile),
        "--ssl-keyfile",
        str(keyfile),
    )
    tls.start()
    try:
        with httpx.Client(
            base_url=tls.url, verify=ssl.create_default_context(cafile=cafile)
        ) as client:
            signed = sign_in(client, "disp", PASSWORD)
            assert signed.status_code == 303
            cookie = signed.headers["set-cookie"].lower()
            assert "fk_console=" in cookie and "; secure" in cookie and "httponly" in cookie
    finally:
        tls.stop()
