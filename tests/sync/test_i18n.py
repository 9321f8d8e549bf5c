"""Every user-facing string of the sync client and the back-office commands has its
Simplified Chinese translation in sync.po, with the same placeholders."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from fieldkit.i18n import locale_dir, parse_po

ROOT = Path(__file__).resolve().parents[2]
FILES = ["fieldkit/sync/client.py", "fieldkit/cli/backoffice.py"]


def _msgids(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "_"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ]


@pytest.mark.parametrize("name", FILES)
def test_every_string_is_translated(name: str) -> None:
    catalog = parse_po(locale_dir() / "zh_CN" / "LC_MESSAGES" / "sync.po")
    ids = _msgids(ROOT / name)
    assert ids, name
    for msgid in ids:
        assert msgid in catalog, msgid
        placeholders = sorted(re.findall(r"\{[^}]*\}", msgid))
        assert sorted(re.findall(r"\{[^}]*\}", catalog[msgid])) == placeholders, msgid


def test_the_sync_command_speaks_chinese_by_default(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from fieldkit.cli import cli

    url = f"sqlite:///{(tmp_path / 'l.db').as_posix()}"
    result = CliRunner().invoke(cli, ["sync", "--db", url, "--once"])
    assert result.exit_code == 1
    assert "未设置服务器地址" in result.output
