"""Issue 12, one language at a time: the back-office service's errors reach ``fieldkit
admin assign / cancel / revoke`` (and the other admin commands) in the user's language —
Chinese by default, English with ``--lang en`` — on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from fieldkit.cli import cli
from fieldkit.sync.schema import CustomerPayload
from fieldkit.sync.server import auth
from fieldkit.sync.server.db import create_server_engine, upgrade
from fieldkit.sync.server.dispatch import NewWorkOrder, cancel_work_order, create_work_orders
from tests.test_one_language import english_sentences

CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def office(server_db: str) -> Iterator[str]:
    """A server database with technician T001, open order WO-1 and cancelled order WO-2."""
    engine: sa.Engine = create_server_engine(server_db)
    upgrade(engine)
    auth.create_account(engine, "T001", "technician")
    auth.issue_token(engine, "T001")
    orders = [
        NewWorkOrder(order_no=no, visit_type="repair", customer=CustomerPayload(customer_no="1"),
                     assigned_to="T001")
        for no in ("WO-1", "WO-2")
    ]  # fmt: skip
    create_work_orders(engine, None, orders)
    cancel_work_order(engine, None, "WO-2")
    engine.dispose()
    yield server_db


# (arguments after `admin --db URL`, English text expected, Chinese text expected)
CASES = [
    (["assign", "WO-404", "T001"], "no work order WO-404", "没有工单 WO-404"),
    (["assign", "WO-1", "T999"], "no technician account 'T999'", "没有技术员账号 'T999'"),
    (["assign", "WO-2", "T001"], "work order WO-2 is cancelled", "工单 WO-2 已取消"),
    (["cancel", "WO-404"], "no work order WO-404", "没有工单 WO-404"),
    (
        ["revoke", "deadbeef"],
        "no active token with id 'deadbeef'",
        "没有编号为 'deadbeef' 的有效令牌",
    ),
    (["revoke", "--all-of", "T999"], "no account 'T999'", "没有账号 'T999'"),
    (["revoke"], "give a token id or --all-of LOGIN", "--all-of"),
    (["new-token", "T999"], "no account 'T999'", "没有账号 'T999'"),
    (["add-technician", "T001"], "an account 'T001' already exists", "账号 'T001' 已存在"),
]


def _run(db: str, args: list[str], *lang: str) -> str:
    result = CliRunner().invoke(cli, ["admin", "--db", db, *lang, *args], prog_name="fieldkit")
    assert result.exit_code == 1, (args, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.output


@pytest.mark.parametrize(("args", "english", "chinese"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_admin_errors_speak_chinese_by_default(
    office: str, args: list[str], english: str, chinese: str
) -> None:
    out = _run(office, args)
    assert out.startswith("错误："), out
    assert chinese in out, out
    assert CHINESE.search(out.replace("错误：", "")), out
    assert english_sentences(out) == [], out


@pytest.mark.parametrize(("args", "english", "chinese"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_admin_errors_in_english_with_lang_en(
    office: str, args: list[str], english: str, chinese: str
) -> None:
    out = _run(office, args, "--lang", "en")
    assert out.startswith("Error: "), out
    assert english in out, out
    assert not CHINESE.search(out), out


def test_a_database_that_cannot_be_opened_is_named_in_chinese() -> None:
    db = "postgresql://nobody:x@127.0.0.1:9/nothing"  # nothing listens on port 9
    out = CliRunner().invoke(cli, ["admin", "--db", db, "users"], prog_name="fieldkit").output
    assert "无法打开服务器数据库" in out, out
    # the cause in Chinese first, libpq's English only as the bracketed detail
    assert "该主机和端口没有响应" in out and "（connection failed" in out, out


def _cause(db: str, lang: str) -> str:
    args = ["admin", "--db", db, "--lang", lang, "users"]
    return CliRunner().invoke(cli, args, prog_name="fieldkit").output


def test_the_cause_of_a_refused_login_or_missing_database_is_said(pg_url: str) -> None:
    url = sa.make_url(pg_url)
    wrong_password = url.set(password="not-the-password").render_as_string(hide_password=False)
    missing = url.set(database="fk_no_such_database").render_as_string(hide_password=False)
    assert "用户名或密码被拒绝" in _cause(wrong_password, "zh")
    assert "the user name or password was refused" in _cause(wrong_password, "en")
    out = _cause(missing, "zh")
    assert "数据库服务器上没有这个数据库或用户" in out and "fk_no_such_database" in out, out
    assert "not-the-password" not in _cause(wrong_password, "en")


def test_a_file_that_is_not_a_database_is_explained(tmp_path: Path) -> None:
    notes = tmp_path / "server.db"
    notes.write_text("这不是数据库\n" * 200, encoding="utf-8")
    out = _cause(f"sqlite:///{notes.as_posix()}", "zh")
    assert "无法打开服务器数据库：该文件不是 SQLite 数据库（" in out, out
    assert notes.read_text(encoding="utf-8") == "这不是数据库\n" * 200  # nothing written


def test_a_value_too_long_is_said_in_chinese(office: str) -> None:
    args = ["add-work-order", "--order-no", "X2", "--type", "repair", "--customer-no", "1",
            "--assign", "T001", "--name", "x" * 300]  # fmt: skip
    out = _run(office, args)
    assert "--name" in out and "200" in out and "pydantic" not in out, out
    assert english_sentences(out) == [], out
    out = _run(office, args, "--lang", "en")
    assert "--name must have at most 200 characters" in out, out


@pytest.mark.parametrize(
    "args", [["users"], ["assign", "WO-1", "T001"], ["cancel", "WO-1"], ["restored"]]
)
def test_admin_on_a_mistyped_database_path_creates_nothing(tmp_path: Path, args: list[str]) -> None:
    """`admin --db sqlite:///typo.db users` printed an empty table over a new empty database
    (and made the missing folders): an admin checking a backup was misled."""
    typo = tmp_path / "no" / "such" / "server.db"
    result = CliRunner().invoke(
        cli, ["admin", "--db", f"sqlite:///{typo.as_posix()}", *args], prog_name="fieldkit"
    )
    assert result.exit_code == 1, result.output
    assert "没有服务器数据库" in result.output and "init-db" in result.output
    assert not (tmp_path / "no").exists()


def test_init_db_and_the_first_account_create_the_server_database(tmp_path: Path) -> None:
    db = tmp_path / "server.db"
    url = f"sqlite:///{db.as_posix()}"
    added = CliRunner().invoke(cli, ["admin", "--db", url, "add-technician", "T001"])
    assert added.exit_code == 0, added.output
    listed = CliRunner().invoke(cli, ["admin", "--db", url, "users"])
    assert listed.exit_code == 0 and "T001" in listed.output


def test_admin_takes_a_plain_file_path_like_visits_does(tmp_path: Path) -> None:
    """`admin --db /path/server.db` said "Could not parse SQLAlchemy URL"."""
    db = tmp_path / "server.db"
    added = CliRunner().invoke(cli, ["admin", "--db", str(db), "add-technician", "T001"])
    assert added.exit_code == 0, added.output
    listed = CliRunner().invoke(cli, ["admin", "--db", str(db), "users"])
    assert listed.exit_code == 0 and "T001" in listed.output


def test_a_laptops_visit_database_is_not_taken_for_the_server_database(tmp_path: Path) -> None:
    """`admin --db laptop.db users` was an alembic traceback ("Can't locate revision")."""
    from fieldkit.records.db import open_database

    laptop = tmp_path / "fieldkit.db"
    open_database(f"sqlite:///{laptop.as_posix()}").close()
    before = laptop.read_bytes()
    for args in (["admin", "--db", str(laptop), "users"], ["serve", "--db", str(laptop)]):
        result = CliRunner().invoke(cli, args, prog_name="fieldkit")
        assert result.exit_code == 1, result.output
        assert "上门记录数据库，不是服务器数据库" in result.output, result.output
    assert laptop.read_bytes() == before
