"""The lookup commands, re-exported for code written against the one-module layout.

The commands live in small modules: :mod:`fieldkit.cli.faultcodes` (``code``,
``search``), :mod:`fieldkit.cli.toolcards` (``cards``), :mod:`fieldkit.cli.conductcmd`
(``conduct``) and :mod:`fieldkit.cli.datacheck` (``data check``); the CJK-aware text layout
is :mod:`fieldkit.cli.textlayout` and what they share is :mod:`fieldkit.cli.lookup_common`.
"""

from __future__ import annotations

from fieldkit.cli.conductcmd import conduct
from fieldkit.cli.datacheck import check, data
from fieldkit.cli.faultcodes import code, search
from fieldkit.cli.lookup_common import (
    EXIT_FOUND,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    entry_json,
    one_line_errors,
    render_entry,
    source_json,
)
from fieldkit.cli.textlayout import Printer, cell_width, clip, pad, wrap
from fieldkit.cli.toolcards import cards
from fieldkit.diagnostics.present import source_line
from fieldkit.diagnostics.sections import entry_sections, severity_label

__all__ = [
    "EXIT_FOUND",
    "EXIT_NOT_FOUND",
    "EXIT_USAGE",
    "Printer",
    "cards",
    "cell_width",
    "check",
    "clip",
    "code",
    "conduct",
    "data",
    "entry_json",
    "entry_sections",
    "one_line_errors",
    "pad",
    "render_entry",
    "search",
    "severity_label",
    "source_json",
    "source_line",
    "wrap",
]
