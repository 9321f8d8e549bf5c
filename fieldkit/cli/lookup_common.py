"""What the lookup commands share: the catalog, one-line errors, entry rendering, JSON.

An entry is rendered from :func:`fieldkit.diagnostics.sections.entry_sections` (the model
the TUI's lookup screen renders too); this module only lays it out as plain text.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from fieldkit.cli.common import echo_json, fail
from fieldkit.cli.textlayout import Printer
from fieldkit.diagnostics.present import confidence_label, source_line
from fieldkit.i18n import _, get_language

if TYPE_CHECKING:
    from fieldkit.diagnostics.catalog import Catalog
    from fieldkit.diagnostics.models import FaultEntry
    from fieldkit.textmodel import Source, Text

F = TypeVar("F", bound=Callable[..., Any])

EXIT_FOUND = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2


def t(text: Text | None) -> str:
    """The current language's side of a bilingual text."""
    return text.get(get_language()) if text is not None else ""


def print_source(out: Printer, source: Source, number: int | None = None, indent: int = 0) -> None:
    """The source line, then its note on lines of its own (it can be a paragraph)."""
    out.wrapped(source_line(source, number, note=False), indent=indent)
    if source.note is not None:
        out.wrapped(t(source.note), indent=indent + 2)


def source_json(source: Source, number: int | None = None) -> dict[str, Any]:
    data = source.model_dump(mode="json", exclude_none=True)
    if source.confidence is not None:
        data["confidence_label"] = confidence_label(source.confidence.value)
    data["label"] = source_line(source, number)
    return data


def _text_json(text: Text | None) -> dict[str, str] | None:
    return None if text is None else {"zh": text.zh, "en": text.en}


def entry_json(catalog: Catalog, entry: FaultEntry) -> dict[str, Any]:
    device = catalog.device_of(entry)
    dumped = entry.model_dump(mode="json", exclude_none=True, exclude={"source"})
    # Danger entries: severity and emergency steps lead, as they do on screen.
    first = ("id", "severity", "emergency") if entry.emergency else ("id",)
    data = {key: dumped[key] for key in first if key in dumped}
    data.update({k: v for k, v in dumped.items() if k not in data})
    data["device"] = {
        "key": device.key,
        "brand": _text_json(device.brand),
        "family": _text_json(device.family),
    }
    data["source"] = source_json(catalog.source_of(entry), entry.number)
    return data


def device_name(catalog: Catalog, device_key: str) -> str:
    return catalog.table(device_key).device.name(get_language())


def _ref_title(catalog: Catalog, ref: str) -> str:
    try:
        return t(catalog.entry(ref).symptom)
    except KeyError:
        pass
    try:
        return t(catalog.note(ref).title)
    except KeyError:
        pass
    try:
        return t(catalog.cards.card(ref).name)
    except KeyError:
        return ""


def render_entry(catalog: Catalog, entry: FaultEntry, out: Printer) -> None:
    """One entry: emergency steps first when it is a danger entry, then the rest."""
    device = catalog.device_of(entry)
    heading = f"{device.name(get_language())} [{device.key}]"
    if entry.codes:
        heading += "  " + ", ".join(entry.codes)
    out.line(f"== {heading} ==")
    if entry.emergency:
        out.line("!! " + _("EMERGENCY - do these first:") + " !!")
        for n, step in enumerate(entry.emergency, 1):
            out.field(f"!! {n}.", t(step), indent=1)
    out.field(_("Symptom:"), t(entry.symptom))
    if get_language() == "en":
        out.field(_("Manual text:"), entry.symptom.zh, indent=2)
    if entry.display:
        out.field(_("Display:"), ", ".join(entry.display))
    if entry.meaning is not None:
        out.field(_("Meaning:"), t(entry.meaning))
    for n, cause in enumerate(entry.causes, 1):
        label = _("Cause {n}:").format(n=n) if len(entry.causes) > 1 else _("Cause:")
        out.field(label, t(cause.text))
        for remedy in cause.remedies:
            out.field(_("Remedy:"), t(remedy), indent=4)
        if cause.note is not None:
            out.field(_("Note:"), t(cause.note), indent=4)
    for remedy in entry.remedies:
        out.field(_("Remedy:"), t(remedy))
    for procedure in entry.procedures:
        out.field(_("Procedure:"), t(procedure.title))
        if procedure.applies_when is not None:
            out.field(_("When:"), t(procedure.applies_when), indent=4)
        for n, step in enumerate(procedure.steps, 1):
            out.field(f"{n}.", t(step), indent=4)
        if procedure.records:
            out.field(
                _("Record:"), ", ".join(_record_label(r) for r in procedure.records), indent=4
            )
    if entry.note is not None:
        out.field(_("Note:"), t(entry.note))
    if entry.see_also:
        refs = [f"{ref} {_ref_title(catalog, ref)}".strip() for ref in entry.see_also]
        out.field(_("See also:"), "; ".join(refs))
    out.field(_("Severity:"), severity_label(entry.severity.value))
    print_source(out, catalog.source_of(entry), entry.number)


def _record_label(key: str) -> str:
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


def _catalog() -> Catalog:
    from fieldkit.diagnostics.catalog import default_catalog

    catalog = default_catalog()
    if catalog.problems:
        click.echo(
            _("Warning: {n} problem(s) in the data files; run 'fieldkit data check'").format(
                n=len(catalog.problems)
            ),
            err=True,
        )
    return catalog


def _device_rows(catalog: Catalog) -> list[list[str]]:
    return [[d.key, d.name(get_language())] for d in catalog.devices()]


def _unknown_device(catalog: Catalog, device: str, as_json: bool) -> None:
    if as_json:
        echo_json(
            {
                "error": "unknown_device",
                "device": device,
                "valid_devices": catalog.device_keys(),
            }
        )
        raise SystemExit(EXIT_USAGE)
    out = Printer()
    out.line(_("Unknown device '{device}'. Valid devices:").format(device=device))
    out.table(_device_rows(catalog))
    click.echo("\n".join(out.lines), err=True)
    raise SystemExit(EXIT_USAGE)


def one_line_errors(func: F) -> F:
    """Any unexpected error becomes one line on stderr and exit 1, never a traceback
    (``FIELDKIT_DEBUG=1`` shows the traceback). A closed pipe (``| head``) ends quietly."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            sys.stderr.close()
            raise SystemExit(EXIT_NOT_FOUND) from None
        except Exception as exc:
            if os.environ.get("FIELDKIT_DEBUG"):
                raise
            fail(_("Error: {error}").format(error=f"{type(exc).__name__}: {exc}"), EXIT_NOT_FOUND)

    return wrapper  # type: ignore[return-value]
