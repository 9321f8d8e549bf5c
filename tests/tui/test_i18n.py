"""Every user-facing string of the TUI has its Chinese translation, and none of them
holds an ambiguous-width character (drawn two cells wide by CJK terminals)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import fieldkit.tui
from fieldkit import i18n
from fieldkit.diagnostics import present
from fieldkit.tui.text import ambiguous_characters, narrow

TUI_DIR = Path(fieldkit.tui.__file__).parent
# screens/device.py belongs to the devices area (its strings are in devices.po).
SOURCES = [
    *sorted(p for p in TUI_DIR.rglob("*.py") if p.name != "device.py"),
    TUI_DIR.parent / "cli" / "app.py",
    TUI_DIR.parent / "cli" / "launch.py",
]
PO_FILE = i18n.locale_dir() / "zh_CN" / "LC_MESSAGES" / "tui.po"


def binding_descriptions(path: Path) -> dict[str, int]:
    """``Binding(key, action, "Description")`` → line: the footer labels, translated by the
    app when it draws them (they are not ``_()`` calls, so ``source_msgids`` cannot see them).
    """
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "Binding"
            and len(node.args) >= 3
            and isinstance(node.args[2], ast.Constant)
        ):
            found.setdefault(node.args[2].value, node.lineno)
    return found


def tui_msgids() -> dict[str, str]:
    """msgid → where it is used: every ``_("...")`` and every Binding description."""
    found: dict[str, str] = {}
    for path in SOURCES:
        for extract in (i18n.source_msgids, binding_descriptions):
            for msgid, line in extract(path).items():
                found.setdefault(msgid, f"{path.name}:{line}")
    return found


def test_the_extractor_finds_strings() -> None:
    ids = tui_msgids()
    assert "Home" in ids and "Record repair" in ids
    assert len(ids) > 100


def test_every_tui_string_is_translated_in_tui_po() -> None:
    tui_po = i18n.parse_po(PO_FILE)
    missing = {m: where for m, where in tui_msgids().items() if m not in tui_po}
    assert not missing, f"add to tui.po: {missing}"


def test_tui_po_has_no_stale_entries() -> None:
    stale = set(i18n.parse_po(PO_FILE)) - set(tui_msgids())
    assert not stale, f"no longer used, remove from tui.po: {sorted(stale)}"


def test_placeholders_survive_translation() -> None:
    for msgid, msgstr in i18n.parse_po(PO_FILE).items():
        assert i18n.placeholders(msgstr) == i18n.placeholders(msgid), msgid


def test_the_shared_source_wording_is_translated() -> None:
    """The TUI shows sources through :mod:`fieldkit.diagnostics.present` (its strings live
    in cli.po, the CLI's wording); every one must be in the Chinese catalog, fields kept."""
    path = Path(present.__file__)
    ids = i18n.source_msgids(path)
    assert "Manual: {where}" in ids
    zh = i18n.catalog("zh")
    missing = [m for m in ids if m not in zh]
    assert missing == []
    for msgid in ids:
        assert i18n.placeholders(zh[msgid]) == i18n.placeholders(msgid), msgid


@pytest.mark.parametrize("language", ["zh", "en"])
def test_ui_strings_have_no_ambiguous_width_characters(language: str) -> None:
    po = i18n.parse_po(PO_FILE)
    texts = list(po.values()) if language == "zh" else list(tui_msgids())
    bad = {t: ambiguous_characters(t) for t in texts if ambiguous_characters(t)}
    assert not bad


def test_narrow_replaces_the_manuals_ambiguous_characters() -> None:
    text = "液晶出现ERR—1显示…“不适用”①②，3m³"
    assert ambiguous_characters(text)
    out = narrow(text)
    assert not ambiguous_characters(out)
    assert out == '液晶出现ERR-1显示..."不适用"(1)(2)，3m3'


def test_tui_po_agrees_with_the_other_catalogs() -> None:
    """All PO files merge into one catalog: a msgid shared with another area must carry
    the same translation, or one area would silently change the other's wording."""
    tui_po = i18n.parse_po(PO_FILE)
    for other in sorted(PO_FILE.parent.glob("*.po")):
        if other == PO_FILE:
            continue
        theirs = i18n.parse_po(other)
        differ = {k: (tui_po[k], theirs[k]) for k in tui_po.keys() & theirs.keys()}
        differ = {k: v for k, v in differ.items() if v[0] != v[1]}
        assert not differ, f"{other.name}: {differ}"
