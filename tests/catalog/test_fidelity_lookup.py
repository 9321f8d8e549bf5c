"""The CLI and TUI lookups show what the data says about the manual: its typos explained
(原文如此), a tool card's codes as the manual words them, sources in the reader's language."""

from __future__ import annotations

from click.testing import CliRunner

from fieldkit.cli import cli
from fieldkit.diagnostics.catalog import load_catalog
from fieldkit.diagnostics.sections import entry_sections
from fieldkit.i18n import set_language
from fieldkit.tui.screens.lookup import render_card, render_entry


def test_cli_shows_the_typo_note() -> None:
    result = CliRunner().invoke(cli, ["code", "ERR-5"])
    assert result.exit_code == 0
    assert "原文如此：“故障卡卡”，应为“故障卡”" in result.output
    result = CliRunner().invoke(cli, ["code", "ERR-5", "--lang", "en"])
    assert "As written in the manual: “故障卡卡”; it means “故障卡”" in result.output


def test_cli_card_shows_the_codes_as_the_manual_words_them() -> None:
    result = CliRunner().invoke(cli, ["cards", "meihua-residential.fault-card", "--lang", "en"])
    assert result.exit_code == 0
    flowing = " ".join(result.output.split())  # the layout wraps at the terminal's width
    assert "ERR-1 to ERR-7 (as the manual says); in the fault tables: ERR-1, ERR-3" in flowing


def test_tui_lookup_renders_typo_notes_and_stated_codes() -> None:
    catalog = load_catalog()
    set_language("zh")
    entry = catalog.entry("meihua-ic.10")
    markup = render_entry(entry_sections(catalog, entry))
    assert "原文如此" in markup and "故障卡卡" in markup
    families = catalog.cards.families()
    card = catalog.cards.card("meihua-residential.data-transfer")
    table = next(t for t in families if card in t.cards)
    assert "原文如此" in render_card(card, table.family, table) and "无须在做" in render_card(
        card, table.family, table
    )
    card = catalog.cards.card("meihua-residential.fault-card")
    assert "ERR-1到ERR-7（手册原文）" in render_card(card, table.family, table)


def test_tui_lookup_source_line_is_chinese_for_an_outside_table() -> None:
    catalog = load_catalog()
    set_language("zh")
    entry = catalog.entry("sime-boiler.al01")
    markup = render_entry(entry_sections(catalog, entry))
    assert "来源：俄罗斯锅炉维修公司" in markup and "research/" not in markup
