"""One entry model for the CLI and the TUI (like handover_sections for text and HTML)."""

from __future__ import annotations

from fieldkit import i18n
from fieldkit.cli.lookup_common import render_entry as cli_render
from fieldkit.cli.textlayout import Printer
from fieldkit.diagnostics.catalog import default_catalog
from fieldkit.diagnostics.sections import entry_sections
from fieldkit.tui.screens.lookup import render_entry as tui_render


def test_cli_and_tui_show_the_same_sections() -> None:
    i18n.set_language("zh")
    catalog = default_catalog()
    danger = next(e for e in catalog.entries() if e.emergency)
    sections = entry_sections(catalog, danger)
    kinds = [s.kind for s in sections]
    assert kinds[0] == "heading" and kinds[1] == "emergency" and kinds[-1] == "source"
    out = Printer(width=400)
    cli_render(catalog, danger, out)
    cli_text = "\n".join(out.lines)
    tui_text = tui_render(sections)
    for section in sections:
        for line in section.lines:
            assert line.text in cli_text
            assert line.label in cli_text
        # the TUI narrows full-width punctuation; compare on the Chinese characters
        first = section.lines[0].text if section.lines else section.title
        assert first[:4] in tui_text or first[:4].replace("，", ",") in tui_text
    assert cli_text.startswith("== ")
    assert "[b reverse red]" in tui_text


def test_sections_follow_the_language() -> None:
    catalog = default_catalog()
    entry = catalog.entries()[0]
    i18n.set_language("en")
    try:
        labels = [line.label for s in entry_sections(catalog, entry) for line in s.lines]
        assert "Symptom:" in labels and "Manual text:" in labels
    finally:
        i18n.set_language("zh")
    labels = [line.label for s in entry_sections(catalog, entry) for line in s.lines]
    assert "症状：" in labels
