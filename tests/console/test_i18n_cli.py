"""The console's Chinese catalog is complete, and ``fieldkit admin add-staff`` prompts for
the password twice without echoing or printing it."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from fieldkit.cli import cli as main
from fieldkit.console import tables as ct
from fieldkit.console.staff import authenticate
from fieldkit.i18n import locale_dir, parse_po, placeholders
from fieldkit.sync.server.db import create_server_engine
from tests.console.msgids import all_console_msgids

PO = locale_dir() / "zh_CN" / "LC_MESSAGES" / "console.po"


def test_every_console_msgid_has_a_chinese_translation() -> None:
    catalog = parse_po(PO)
    wanted = all_console_msgids()
    assert len(wanted) > 150
    assert sorted(wanted - set(catalog)) == []
    assert sorted(set(catalog) - wanted) == []  # no stale entries
    for msgid, msgstr in catalog.items():
        assert placeholders(msgid) == placeholders(msgstr), msgid


def test_add_staff_prompts_twice_and_never_shows_the_password(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'server.db').as_posix()}"
    runner = CliRunner()
    secret = "a long enough secret"
    result = runner.invoke(
        main,
        ["admin", "--db", url, "add-staff", "li.na", "--role", "service", "--name", "李娜"],
        input=f"{secret}\nsomething else!!\n{secret}\n{secret}\n",
    )
    assert result.exit_code == 0, result.output
    assert secret not in result.output
    assert result.output.count("密码") >= 3  # asked, repeated, asked again after a mismatch
    assert "li.na" in result.output
    engine = create_server_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.select(ct.staff)).one()
            audit = conn.execute(sa.select(ct.audit_log.c.detail)).all()
        assert (row.username, row.role, row.name) == ("li.na", "service", "李娜")
        assert row.password_hash.startswith("$argon2id$") and secret not in row.password_hash
        assert all(secret not in str(a.detail) for a in audit)
        assert authenticate(engine, "li.na", secret, "127.0.0.1") is not None
        again = runner.invoke(
            main,
            ["admin", "--db", url, "add-staff", "li.na", "--role", "service"],
            input=f"{secret}\n{secret}\n",
        )
        assert again.exit_code == 1 and "已被使用" in again.output
        weak = runner.invoke(
            main,
            ["admin", "--db", url, "add-staff", "wang", "--role", "admin"],
            input="short\nshort\n",
        )
        assert weak.exit_code == 1 and "10" in weak.output
        bad_role = runner.invoke(main, ["admin", "--db", url, "add-staff", "x", "--role", "boss"])
        assert bad_role.exit_code == 2
    finally:
        engine.dispose()
