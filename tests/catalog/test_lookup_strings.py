"""Every user-facing string of the lookup commands has its Simplified Chinese translation."""

from __future__ import annotations

from pathlib import Path

from fieldkit.i18n import locale_dir, parse_po, placeholders, source_msgids

# Characters whose terminal width is ambiguous (East-Asian width "A"): kept out of our own
# strings so columns line up on every terminal.
AMBIGUOUS = set("…“”‘’·①②③④⑤⑥⑦⑧⑨○●※—")
PO = locale_dir() / "zh_CN" / "LC_MESSAGES" / "cli.po"
CLI = Path(__file__).resolve().parents[2] / "fieldkit" / "cli"
# The lookup commands, split into small modules (see fieldkit/cli/lookup.py).
MODULES = ["lookup_common", "textlayout", "faultcodes", "toolcards", "conductcmd"]


def msgids() -> list[str]:
    found: dict[str, int] = {}
    for name in MODULES:
        found.update(source_msgids(CLI / f"{name}.py"))
    return list(found)


def test_every_msgid_is_translated() -> None:
    translations = parse_po(PO)
    ids = msgids()
    assert len(ids) > 50
    missing = [m for m in ids if m not in translations]
    assert missing == []


def test_placeholders_survive_translation() -> None:
    translations = parse_po(PO)
    for msgid in msgids():
        assert placeholders(translations[msgid]) == placeholders(msgid), msgid


def test_no_ambiguous_width_characters_in_our_strings() -> None:
    translations = parse_po(PO)
    for msgid in msgids():
        assert not (set(msgid) | set(translations[msgid])) & AMBIGUOUS, msgid


def test_the_string_checks_themselves_catch_a_broken_translation(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text('x = _("Read {n:02X} of {port}")\ny = f("not marked")\n', encoding="utf-8")
    assert source_msgids(source) == {"Read {n:02X} of {port}": 1}
    assert placeholders("读 {port} 的 {n:02X}") == placeholders("Read {n:02X} of {port}")
    assert placeholders("读 {port} 的 {n}") != placeholders("Read {n:02X} of {port}")
    assert placeholders("读 {端口}") != placeholders("Read {port}")
