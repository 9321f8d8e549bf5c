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


def render_entry(catalog: Catalog, entry: FaultEntry, out: Printer) -> None:
    """One entry as plain text, from :func:`fieldkit.diagnostics.sections.entry_sections`."""
    from fieldkit.diagnostics.sections import entry_sections

    for section in entry_sections(catalog, entry):
        if section.kind == "heading":
            out.line(f"== {section.title} ==")
            continue
        danger = section.kind == "emergency"
        if danger:
            out.line(f"!! {section.title} !!")
        for line in section.lines:
            if not line.label:
                out.wrapped(line.text, indent=line.indent)
            elif danger:
                out.field(f"!! {line.label}", line.text, indent=line.indent + 1)
            else:
                out.field(line.label, line.text, indent=line.indent)


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
