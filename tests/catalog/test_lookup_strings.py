"""Every user-facing string of the lookup commands has its Simplified Chinese translation."""

from __future__ import annotations

import ast
from pathlib import Path

import fieldkit.cli.lookup as lookup
from fieldkit.i18n import locale_dir, parse_po

# Characters whose terminal width is ambiguous (East-Asian width "A"): kept out of our own
# strings so columns line up on every terminal.
AMBIGUOUS = set("…“”‘’·①②③④⑤⑥⑦⑧⑨○●※—")


def msgids() -> list[str]:
    tree = ast.parse(Path(lookup.__file__).read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "_"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append(node.args[0].value)
    return found


def test_every_msgid_is_translated() -> None:
    translations = parse_po(locale_dir() / "zh_CN" / "LC_MESSAGES" / "cli.po")
    ids = msgids()
    assert len(ids) > 50
    missing = [m for m in ids if m not in translations]
    assert missing == []


def test_placeholders_survive_translation() -> None:
    translations = parse_po(locale_dir() / "zh_CN" / "LC_MESSAGES" / "cli.po")
    for msgid in msgids():
        fields = sorted(p.split("}")[0] for p in msgid.split("{")[1:])
        translated = translations[msgid]
        assert sorted(p.split("}")[0] for p in translated.split("{")[1:]) == fields, msgid


def test_no_ambiguous_width_characters_in_our_strings() -> None:
    translations = parse_po(locale_dir() / "zh_CN" / "LC_MESSAGES" / "cli.po")
    for msgid in msgids():
        assert not (set(msgid) | set(translations[msgid])) & AMBIGUOUS, msgid
