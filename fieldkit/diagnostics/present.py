"""How a data source is worded for the technician, shared by the CLI and the TUI.

UI-free: plain text in a given language (``zh`` or ``en``), no Textual, no click.
A manual source reads ``手册：美华智能燃气表常见故障与排除方法，第8页，第8条``; an outside
source ``来源：… 可信度：S（二手资料）``.
"""

from __future__ import annotations

from fieldkit.i18n import catalog, get_language
from fieldkit.textmodel import Source


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
        if source.kind == "utility" and source.confidence is None:
            text = _("Source: {citation} (the utility's own data)", language).format(
                citation=source.citation or "-"
            )
        else:
            text = _("Source: {citation}  Confidence: {code} ({label})", language).format(
                citation=source.citation or "-",
                code=conf,
                label=confidence_label(conf, language),
            )
    if note and source.note is not None:
        text += "  " + source.note.get(language)
    return text
