"""click's own words and our ``--help`` texts through fieldkit's catalogs.

click writes "Usage:", "Options", "Error: No such option …" with the standard library's
``gettext``, which knows nothing of our PO files; our commands' help texts are plain
English strings given to click at import time, before ``--lang`` is known. So:

* :func:`localize_click` points click's message functions at :func:`fieldkit.i18n.gettext`
  (the msgids are click's English texts, translated in ``cli.po``);
* :class:`LocalizedFormatter` translates help texts when they are written, in the
  language in force at that moment (``--lang`` is eager and processed before ``--help``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import click

from fieldkit import i18n

_CLICK_MODULES = ("core", "exceptions", "formatting", "decorators", "types", "parser", "termui")


def localize_click() -> None:
    """Make click's built-in messages follow the process language (idempotent)."""
    import importlib

    for name in _CLICK_MODULES:
        module = importlib.import_module(f"click.{name}")
        if hasattr(module, "_"):
            module._ = i18n.gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = i18n.ngettext  # type: ignore[attr-defined]


@lru_cache(maxsize=2)
def _msgids_by_translation(language: str) -> dict[str, str]:
    return {msgstr: msgid for msgid, msgstr in i18n.catalog(language).items()}


def translate_help(text: str) -> str:
    """One help text in the current language: whole, else paragraph by paragraph."""
    if not text:
        return text
    # click builds some texts (the --help option's) before --lang is processed: back to
    # the msgid first, so `--lang en --help` is all English.
    for language in i18n.LANGUAGES:
        if language != "en":
            text = _msgids_by_translation(language).get(text, text)
    if i18n.get_language() == "en":
        return text
    catalog = i18n.catalog(i18n.get_language())
    if text in catalog:
        return catalog[text]
    # click cuts long one-line helps ("Push closed visits to the back office and...")
    if text.endswith("..."):
        stem = text[:-3].rstrip()
        for msgid, msgstr in catalog.items():
            if msgid.startswith(stem):
                return msgstr
    # "help text  [default: x]": click appended the (already translated) extra part
    head, sep, tail = text.partition("  [")
    if sep and head in catalog:
        return f"{catalog[head]}  [{tail}"
    if "\n\n" in text:
        return "\n\n".join(translate_help(part) for part in text.split("\n\n"))
    return text


class LocalizedFormatter(click.HelpFormatter):
    def write_text(self, text: str) -> None:
        super().write_text(translate_help(text))

    def write_dl(self, rows: Any, col_max: int = 30, col_spacing: int = 2) -> None:
        translated = [(term, translate_help(help_text)) for term, help_text in rows]
        super().write_dl(translated, col_max=col_max, col_spacing=col_spacing)


class LocalizedContext(click.Context):
    formatter_class = LocalizedFormatter


def localize_command(command: click.Command) -> click.Command:
    """Give ``command`` (and a group's subcommands) the translating help formatter."""
    command.context_class = LocalizedContext
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            localize_command(sub)
    return command
