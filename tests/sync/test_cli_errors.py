"""Issue 12, serve/sync/admin: every bad flag or value is a clear error in the user's
language, never a traceback, never silently accepted."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.sync.conftest import Backoffice
from tests.sync.test_cli import fieldkit

PASSWD = "/etc/passwd"  # an existing file that is no certificate


def _clean(out, code: int = 1) -> str:
    assert out.returncode == code, (out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr + out.stdout
    return out.stderr


@pytest.mark.parametrize("port", ["70000", "-1", "0"])
def test_serve_refuses_a_port_out_of_range(port: str) -> None:
    err = _clean(fieldkit("serve", "--port", port, "--lang", "en"), 2)
    assert "--port" in err and "1<=x<=65535" in err


def test_serve_refuses_a_log_level_it_does_not_know() -> None:
    err = _clean(fieldkit("serve", "--log-level", "shouty", "--lang", "en"), 2)
    assert "--log-level" in err and "warning" in err


def test_serve_refuses_files_that_are_not_a_certificate(tmp_path: Path) -> None:
    db = f"sqlite:///{(tmp_path / 's.db').as_posix()}"
    err = _clean(
        fieldkit(
            "serve", "--db", db, "--ssl-certfile", PASSWD, "--ssl-keyfile", PASSWD, "--lang", "en"
        )
    )
    assert "cannot be used for HTTPS" in err
    chinese = fieldkit("serve", "--db", db, "--ssl-certfile", PASSWD, "--ssl-keyfile", PASSWD)
    assert "证书" in _clean(chinese)
    err = _clean(fieldkit("serve", "--db", db, "--ssl-certfile", PASSWD, "--lang", "en"))
    assert "go together" in err


def test_sync_refuses_a_ca_bundle_that_is_not_one(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'laptop.db').as_posix()}"
    out = fieldkit(
        "sync", "--server", "https://127.0.0.1:9", "--token", "fk_a_b", "--db", url,
        "--ca-bundle", PASSWD, "--once", "--lang", "en",
    )  # fmt: skip
    err = _clean(out)
    assert "CA bundle" in err and PASSWD in err


@pytest.mark.parametrize(
    ("server", "english", "chinese"),
    [
        ("http://127.0.0.1:99999", "65535", "65535"),
        ("ftp://office", "http://", "http://"),
        ("office.local:8443", "http://", "http://"),
    ],
)
def test_sync_refuses_a_server_address_it_cannot_use(
    tmp_path: Path, server: str, english: str, chinese: str
) -> None:
    url = f"sqlite:///{(tmp_path / 'laptop.db').as_posix()}"
    args = ("sync", "--server", server, "--token", "fk_a_b", "--db", url, "--once")
    err = _clean(fieldkit(*args, "--lang", "en"))
    assert "server_url" in err and english in err
    err = _clean(fieldkit(*args))
    assert "服务器" in err or "server_url" in err
    assert chinese in err and "must" not in err
    assert not (tmp_path / "laptop.db").exists()  # refused before anything was opened


def test_push_only_with_pull_only_is_an_error(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'laptop.db').as_posix()}"
    out = fieldkit(
        "sync", "--server", "http://127.0.0.1:9", "--token", "fk_a_b", "--db", url,
        "--push-only", "--pull-only", "--lang", "en",
    )  # fmt: skip
    assert "cannot be used together" in _clean(out, 2)


def test_add_work_order_says_what_is_wrong_in_plain_words(backoffice: Backoffice) -> None:
    db = backoffice.proc.db_url
    base = ["admin", "--db", db, "--lang", "en", "add-work-order", "--type", "repair",
            "--customer-no", "0012345", "--assign", "T001"]  # fmt: skip
    for order_no in ("", "   ", "A\x07B"):
        err = _clean(fieldkit(*base, "--order-no", order_no))
        assert "--order-no" in err and "pydantic" not in err, err
    err = _clean(
        fieldkit(*base[:-4], "--customer-no", "  ", "--assign", "T001", "--order-no", "X1")
    )
    assert "--customer-no" in err
    err = _clean(fieldkit(*base, "--order-no", "X2", "--name", "x" * 300))
    assert "pydantic" not in err and "errors.pydantic.dev" not in err and "name" in err
    listed = json.loads(fieldkit("admin", "--db", db, "users", "--json").stdout)
    assert listed  # nothing broke


def test_add_technician_refuses_odd_ids(backoffice: Backoffice) -> None:
    db = backoffice.proc.db_url
    for login in ("x" * 5000, "T\x1b[31m01", "T 01", "T\t01", "  "):
        err = _clean(fieldkit("admin", "--db", db, "--lang", "en", "add-technician", login))
        assert "account name" in err, err
    ok = fieldkit("admin", "--db", db, "add-technician", f"工号{uuid.uuid4().hex[:4]}")
    assert ok.returncode == 0, ok.stderr


def test_admin_restored_changes_the_epoch(backoffice: Backoffice) -> None:
    from fieldkit.sync.server import service

    before = service.epoch(backoffice.engine)
    out = fieldkit("admin", "--db", backoffice.proc.db_url, "--lang", "en", "restored")
    assert out.returncode == 0, out.stderr
    after = service.epoch(backoffice.engine)
    assert after != before and after in out.stdout
    assert "revoke" in out.stdout
