"""One fault entry as labelled sections, in the current language: the model both the CLI
(``fieldkit code``) and the TUI's lookup screen render, the way
:func:`fieldkit.records.handover.handover_sections` serves the handover's text and HTML.

No UI here: a renderer turns each :class:`EntryLine` into plain text (aligned labels) or
markup (bold titles, red emergency steps, dim source line).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fieldkit.diagnostics.present import as_written_line, source_line
from fieldkit.i18n import _, get_language

if TYPE_CHECKING:
    from fieldkit.diagnostics.catalog import Catalog
    from fieldkit.diagnostics.models import FaultEntry
    from fieldkit.textmodel import Text


@dataclass(frozen=True)
class EntryLine:
    """One line: ``label`` (may be empty) then ``text``; ``indent`` is in columns."""

    label: str
    text: str
    indent: int = 0


@dataclass(frozen=True)
class EntrySection:
    """``kind``: heading, emergency, symptom, display, meaning, causes, remedies, procedure,
    note, see_also, severity or source. ``title`` is shown above the lines when set."""

    kind: str
    title: str = ""
    lines: list[EntryLine] = field(default_factory=list)


def _t(text: Text | None) -> str:
    return text.get(get_language()) if text is not None else ""


def record_label(key: str) -> str:
    """A visit-record field named by a sub-procedure, in the reader's language."""
    return {
        "new_meter_no": _("new meter no."),
        "seal_no": _("seal no."),
        "gas_used": _("gas used"),
        "gas_remaining": _("gas remaining"),
        "swap_date": _("date of the swap"),
    }.get(key, key)


def severity_label(value: str) -> str:
    """info / warning / DANGER in the reader's language (注意, 危险 …)."""
    return {"info": _("info"), "warning": _("warning"), "danger": _("DANGER")}.get(value, value)


def ref_title(catalog: Catalog, ref: str) -> str:
    """The title of what a ``see_also`` reference names (entry, table note or tool card)."""
    try:
        return _t(catalog.entry(ref).symptom)
    except KeyError:
        pass
    try:
        return _t(catalog.note(ref).title)
    except KeyError:
        pass
    try:
        return _t(catalog.cards.card(ref).name)
    except KeyError:
        return ""


def entry_sections(catalog: Catalog, entry: FaultEntry) -> list[EntrySection]:
    """The entry, emergency steps first when it is a danger entry, then the rest."""
    device = catalog.device_of(entry)
    heading = f"{device.name(get_language())} [{device.key}]"
    if entry.codes:
        heading += "  " + ", ".join(entry.codes)
    sections = [EntrySection("heading", heading)]
    if entry.emergency:
        sections.append(
            EntrySection(
                "emergency",
                _("EMERGENCY - do these first:"),
                [EntryLine(f"{n}.", _t(step)) for n, step in enumerate(entry.emergency, 1)],
            )
        )
    symptom = [EntryLine(_("Symptom:"), _t(entry.symptom))]
    if get_language() == "en":
        symptom.append(EntryLine(_("Manual text:"), entry.symptom.zh, indent=2))
    sections.append(EntrySection("symptom", lines=symptom))
    if entry.display:
        sections.append(
            EntrySection("display", lines=[EntryLine(_("Display:"), ", ".join(entry.display))])
        )
    if entry.meaning is not None:
        sections.append(
            EntrySection("meaning", lines=[EntryLine(_("Meaning:"), _t(entry.meaning))])
        )
    causes: list[EntryLine] = []
    for n, cause in enumerate(entry.causes, 1):
        label = _("Cause {n}:").format(n=n) if len(entry.causes) > 1 else _("Cause:")
        causes.append(EntryLine(label, _t(cause.text)))
        causes.extend(EntryLine(_("Remedy:"), _t(r), indent=4) for r in cause.remedies)
        if cause.note is not None:
            causes.append(EntryLine(_("Note:"), _t(cause.note), indent=4))
    if causes:
        sections.append(EntrySection("causes", lines=causes))
    if entry.remedies:
        lines = [EntryLine(_("Remedy:"), _t(r)) for r in entry.remedies]
        sections.append(EntrySection("remedies", lines=lines))
    for procedure in entry.procedures:
        lines = [EntryLine(_("Procedure:"), _t(procedure.title))]
        if procedure.applies_when is not None:
            lines.append(EntryLine(_("When:"), _t(procedure.applies_when), indent=4))
        lines.extend(
            EntryLine(f"{n}.", _t(step), indent=4) for n, step in enumerate(procedure.steps, 1)
        )
        if procedure.records:
            records = ", ".join(record_label(r) for r in procedure.records)
            lines.append(EntryLine(_("Record:"), records, indent=4))
        sections.append(EntrySection("procedure", lines=lines))
    notes = [EntryLine(_("Note:"), _t(entry.note))] if entry.note is not None else []
    notes.extend(EntryLine(_("Note:"), as_written_line(item)) for item in entry.as_written)
    if notes:
        sections.append(EntrySection("note", lines=notes))
    if entry.see_also:
        refs = [f"{ref} {ref_title(catalog, ref)}".strip() for ref in entry.see_also]
        sections.append(
            EntrySection("see_also", lines=[EntryLine(_("See also:"), "; ".join(refs))])
        )
    sections.append(
        EntrySection(
            "severity",
            lines=[EntryLine(_("Severity:"), severity_label(entry.severity.value))],
        )
    )
    source = catalog.source_of(entry)
    lines = [EntryLine("", source_line(source, entry.number, note=False))]
    if source.note is not None:
        lines.append(EntryLine("", _t(source.note), indent=2))
    sections.append(EntrySection("source", lines=lines))
    return sections
