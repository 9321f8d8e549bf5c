"""``fieldkit admin``, ``fieldkit sync`` and ``fieldkit serve`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import sqlalchemy as sa

from fieldkit.records.db import open_database
from fieldkit.records.repo import VisitRepository
from fieldkit.sync.server import tables
from tests.sync.conftest import Backoffice, close_visit


def fieldkit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fieldkit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_admin_enrols_a_technician_and_the_token_works_until_revoked(
    backoffice: Backoffice,
) -> None:
    db = backoffice.proc.db_url
    login = f"T{uuid.uuid4().hex[:5]}"
    out = fieldkit("admin", "--db", db, "--lang", "en", "add-technician", login, "--name", "赵六")
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip().splitlines()[-1]
    assert token.startswith("fk_")
    with backoffice.engine.connect() as conn:  # stored hashed, never in clear
        hashes = conn.execute(sa.select(tables.token.c.token_hash)).scalars().all()
    assert token not in hashes and all(len(h) == 64 for h in hashes)

    again = fieldkit("admin", "--db", db, "add-technician", login)  # Chinese by default
    assert again.returncode == 1 and f"账号 '{login}' 已存在" in again.stderr
    again = fieldkit("admin", "--db", db, "--lang", "en", "add-technician", login)
    assert again.returncode == 1 and "already exists" in again.stderr

    listed = json.loads(fieldkit("admin", "--db", db, "users", "--json").stdout)
    (me,) = [a for a in listed if a["login"] == login]
    token_id = me["tokens"][0]["id"]
    assert token_id in token and token not in json.dumps(listed)
    text = fieldkit("admin", "--db", db, "users").stdout  # Chinese by default
    assert text.splitlines()[0].split() == ["账号", "角色", "令牌", "状态", "姓名", "/", "设备"]
    row = next(line for line in text.splitlines() if line.startswith(login))
    assert row.split() == [login, "维修人员", "赵六"]
    assert f"{token_id}  有效" in text and token not in text

    order = fieldkit(
        "admin", "--db", db, "--lang", "en", "add-work-order", "--order-no", f"CLI-{login}",
        "--type", "ignition", "--customer-no", "0012345", "--community", "幸福小区",
        "--building", "3", "--assign", login, "--date", "2026-11-25",
    )  # fmt: skip
    assert order.returncode == 0, order.stderr
    with backoffice.client(None) as http:
        http.headers["Authorization"] = f"Bearer {token}"
        items = http.get("/api/v1/work-orders").json()["items"]
        assert [o["order_no"] for o in items] == [f"CLI-{login}"]
        assert fieldkit("admin", "--db", db, "cancel", f"CLI-{login}").returncode == 0
        items = http.get("/api/v1/work-orders").json()["items"]
        assert [o["deleted"] for o in items] == [True]
        revoked = fieldkit("admin", "--db", db, "revoke", token_id)
        assert revoked.returncode == 0, revoked.stderr
        assert http.get("/api/v1/me").status_code == 401
    missing = fieldkit("admin", "--db", db, "revoke", token_id)
    assert missing.returncode == 1 and "的有效令牌" in missing.stderr  # Chinese by default


def test_fieldkit_sync_pushes_pulls_and_never_imports_fastapi(
    backoffice: Backoffice, tmp_path: Path
) -> None:
    url = f"sqlite:///{(tmp_path / 'laptop.db').as_posix()}"
    database = open_database(url)
    visit_id = close_visit(database, "T001")
    database.close()
    env = {
        "FIELDKIT_SERVER_URL": backoffice.url,
        "FIELDKIT_TOKEN": backoffice.tokens["T001"],
        "FIELDKIT_DB_URL": url,
    }
    script = (
        "import sys\n"
        "from fieldkit.cli import main\n"
        "code = main(['sync', '--json', '--once'])\n"
        "assert 'fastapi' not in sys.modules and 'textual' not in sys.modules, 'heavy import'\n"
        "sys.exit(code)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["pushed"] == 1 and report["waiting"] == 0 and report["failed"] is None
    with backoffice.client("admin") as http:
        assert http.get(f"/api/v1/visits/{visit_id}").status_code == 200

    bad = fieldkit("sync", "--once", "--lang", "en", env={**env, "FIELDKIT_TOKEN": "fk_x_y"})
    assert bad.returncode == 1 and "401" in bad.stderr


def test_fieldkit_sync_reports_a_server_that_is_down(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'laptop.db').as_posix()}"
    database = open_database(url)
    visit_id = close_visit(database, "T001")
    database.close()
    out = fieldkit(
        "sync", "--max-attempts", "2", "--lang", "en", "--server", "http://127.0.0.1:9",
        "--token", "fk_a_b", "--db", url,
    )  # fmt: skip
    assert out.returncode == 1
    assert "could not be reached" in out.stderr
    assert "Attempt 1 failed" in out.stderr
    database = open_database(url)
    (item,) = VisitRepository(database).outbox_items()
    assert item.visit_id == visit_id and item.attempts == 1 and item.last_error
    database.close()


def test_serve_refuses_a_database_it_cannot_open(tmp_path: Path) -> None:
    out = fieldkit("serve", "--db", "postgresql://nobody@127.0.0.1:9/none", "--lang", "en")
    assert out.returncode == 1
    assert "cannot open the server database" in out.stderr
    assert "Traceback" not in out.stderr
