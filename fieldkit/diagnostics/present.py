"""How a data source is worded for the technician, shared by the CLI and the TUI.

UI-free: plain text in a given language (``zh`` or ``en``), no Textual, no click.
A manual source reads ``手册：美华智能燃气表常见故障与排除方法，第8页，第8条``; an outside
source ``来源：… 可信度：S（二手资料）``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fieldkit.i18n import catalog, get_language
from fieldkit.textmodel import AsWritten, Source


def _(message: str, language: str) -> str:
    """``message`` (an English msgid) in ``language``; marked like ``_`` for the PO checks."""
    if language == "en":
        return message
    return catalog(language).get(message, message)


def confidence_label(code: str, language: str | None = None) -> str:
    """``S`` → ``二手资料`` (secondary source): what a confidence code means."""
    language = language or get_language()
    return {
        "V": _("verified against the cited source", language),
        "S": _("secondary source", language),
        "U": _("unverified", language),
    }.get(code, code)


def source_line(
    source: Source,
    number: int | None = None,
    *,
    language: str | None = None,
    note: bool = True,
) -> str:
    """Where an entry or card comes from, as one line of text in ``language``.

    ``number`` is the item number in the manual's section; ``note`` appends the source's
    note (the CLI prints it on lines of its own instead). ``language`` defaults to the
    current UI language.
    """
    language = language or get_language()
    if source.kind == "manual":
        parts = [str(source.section)]
        if source.page is not None:
            parts.append(_("page {page}", language).format(page=source.page))
        if number is not None:
            parts.append(_("item {number}", language).format(number=number))
        # TRANSLATORS: the separator between a section, its page and its item.
        text = _("Manual: {where}", language).format(where=_(", ", language).join(parts))
    else:
        conf = source.confidence.value if source.confidence is not None else "U"
        citation = source.citation_text(language) or "-"
        if source.kind == "utility" and source.confidence is None:
            text = _("Source: {citation} (the utility's own data)", language).format(
                citation=citation
            )
        else:
            text = _("Source: {citation}  Confidence: {code} ({label})", language).format(
                citation=citation,
                code=conf,
                label=confidence_label(conf, language),
            )
    if note and source.note is not None:
        text += "  " + source.note.get(language)
    return text


def as_written_line(item: AsWritten, language: str | None = None) -> str:
    """``原文如此：“拨卡”，应为“拔卡”`` — a word the manual prints with a typo, explained."""
    language = language or get_language()
    if item.means is not None:
        text = _("As written in the manual: “{written}”; it means “{means}”", language).format(
            written=item.written, means=item.means
        )
    else:
        text = _("As written in the manual: “{written}”", language).format(written=item.written)
    if item.explanation is not None:
        text += _(" ({explanation})", language).format(explanation=item.explanation.get(language))
    return text


def as_written_lines(items: Iterable[AsWritten], language: str | None = None) -> list[str]:
    return [as_written_line(item, language) for item in items]


def paragraph_lines(paragraph: Any, language: str | None = None) -> list[str]:
    """An intro or note paragraph of a procedure: its text, the manual's typos in it
    explained, and — for a rule the manual does not state itself — its source line."""
    language = language or get_language()
    lines = [paragraph.get(language)]
    lines.extend(as_written_lines(getattr(paragraph, "as_written", []), language))
    source = getattr(paragraph, "source", None)
    if source is not None:
        lines.append(source_line(source, language=language))
    return lines


def utility_fields_note(fields: Iterable[Any], language: str | None = None) -> str | None:
    """``* 来源：…`` for the capture fields the manual does not list (``source.kind:
    utility``), or None when every field is the manual's."""
    language = language or get_language()
    sources = [f.source for f in fields if getattr(f, "source", None) is not None]
    if not sources:
        return None
    return "* " + source_line(sources[0], language=language)


def clears_codes_text(card: Any, language: str | None = None) -> str:
    """The codes a tool card clears as the manual words them, then those the fault tables
    hold: ``ERR-1到ERR-7（手册原文）；故障表中有：ERR-1, ERR-3, …``."""
    language = language or get_language()
    stated = card.resolves_as_stated
    if stated is None:
        return ", ".join(card.resolves_codes)
    text = _("{codes} (as the manual says)", language).format(codes=stated.get(language))
    if card.resolves_codes:
        text += _("; in the fault tables: {codes}", language).format(
            codes=", ".join(card.resolves_codes)
        )
    return text


def fact_label(fact: str, procedures: Iterable[Any] = (), language: str | None = None) -> str:
    """A fact a step needs first (``tightness_passed``) in words: the title of the step
    that establishes it, + "passed" (``点火前严密性试验合格``). Never the internal name,
    unless no procedure establishes it (then it is shown as it is, in brackets)."""
    language = language or get_language()
    for procedure in procedures:
        for step in getattr(procedure, "steps", []):
            if fact in getattr(step, "establishes", ()):
                return _("{step} passed", language).format(step=step.title.get(language))
    return fact
