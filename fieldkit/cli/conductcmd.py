"""``fieldkit conduct``: service conduct (服务理念, 五个一, 文明用语 and 忌语)."""

from __future__ import annotations

import unicodedata
from typing import Any

import click

from fieldkit.cli.common import echo_json, fail, json_option, lang_option
from fieldkit.cli.lookup_common import (
    EXIT_NOT_FOUND,
    _text_json,
    one_line_errors,
    print_source,
    source_json,
    t,
)
from fieldkit.cli.textlayout import Printer
from fieldkit.i18n import _


def _load_conduct() -> Any:
    from fieldkit.conduct import load_conduct

    try:
        return load_conduct()
    except Exception as exc:  # a data problem must be one line, never a traceback
        fail(_("Error: cannot load the service conduct: {error}").format(error=exc))


@click.command()
@click.argument("section", required=False)
@json_option
@lang_option
@one_line_errors
def conduct(section: str | None, as_json: bool, lang: str) -> None:
    """Service conduct: 服务理念, 五个一, 文明售后, 文明用语 and 忌语 (never to be said).

    SECTION is a section id or (part of) its title, in Chinese or English.
    """
    data = _load_conduct()
    sections = list(data.sections)
    if section is not None:
        wanted = unicodedata.normalize("NFKC", section).strip().casefold()
        chosen = [s for s in sections if s.id.casefold() == wanted]
        if not chosen:
            chosen = [
                s
                for s in sections
                if wanted in s.title.zh.casefold() or wanted in s.title.en.casefold()
            ]
        if not chosen:
            if as_json:
                echo_json({"query": section, "found": False, "sections": [s.id for s in sections]})
                raise SystemExit(EXIT_NOT_FOUND)
            out = Printer()
            out.line(_("No conduct section '{section}'. Sections:").format(section=section))
            out.table([[s.id, t(s.title)] for s in sections])
            click.echo("\n".join(out.lines), err=True)
            raise SystemExit(EXIT_NOT_FOUND)
        sections = chosen
    if as_json:
        echo_json(
            {
                "sections": [
                    {
                        "id": s.id,
                        "kind": s.kind,
                        "title": _text_json(s.title),
                        "group": _text_json(s.group),
                        "items": [_text_json(i) for i in s.items],
                        "source": source_json(data.source_of(s)),
                    }
                    for s in sections
                ]
            }
        )
        return
    out = Printer()
    for n, s in enumerate(sections):
        if n:
            out.line()
        marker = "!! " if s.kind == "forbidden_phrases" else ""
        out.line(f"== {marker}{t(s.title)} [{s.id}] ==")
        if marker:
            out.line("!! " + _("Never say these to a customer:"))
        digits = len(str(len(s.items)))  # 1. … 10. right-aligned, so the texts line up
        for i, item in enumerate(s.items, 1):
            out.field(f"{i:>{digits}}.", t(item), indent=2)
        if s.note is not None:
            out.field(_("Note:"), t(s.note), indent=2)
        print_source(out, data.source_of(s), indent=2)
    out.echo()
