"""Every user-facing string of the sync client and the back-office commands has its
Simplified Chinese translation in sync.po, with the same placeholders."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldkit.i18n import locale_dir, parse_po, placeholders, source_msgids

ROOT = Path(__file__).resolve().parents[2]
FILES = ["fieldkit/sync/client.py", "fieldkit/cli/backoffice.py"]


@pytest.mark.parametrize("name", FILES)
def test_every_string_is_translated(name: str) -> None:
    catalog = parse_po(locale_dir() / "zh_CN" / "LC_MESSAGES" / "sync.po")
    ids = source_msgids(ROOT / name)
    assert ids, name
    for msgid in ids:
        assert msgid in catalog, msgid
        assert placeholders(catalog[msgid]) == placeholders(msgid), msgid


def test_the_sync_command_speaks_chinese_by_default(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from fieldkit.cli import cli
    from fieldkit.records.db import open_database

    url = f"sqlite:///{(tmp_path / 'l.db').as_posix()}"
    open_database(url).close()  # a --db that does not exist is an error of its own
    result = CliRunner().invoke(cli, ["sync", "--db", url, "--once"])
    assert result.exit_code == 1
    assert "未设置服务器地址" in result.output
