"""``fieldkit code`` and ``fieldkit search``: fault codes and symptoms from the catalog.

Exit codes: 0 found, 1 not found or unknown, 2 usage error (including an unknown
``--device``). Errors are one line on stderr.
"""

from __future__ import annotations

import click

from fieldkit.cli.common import echo_json, fail, json_option, lang_option
from fieldkit.cli.lookup_common import (
    EXIT_FOUND,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    _catalog,
    _unknown_device,
    device_name,
    entry_json,
    one_line_errors,
    render_entry,
    t,
)
from fieldkit.cli.textlayout import Printer
from fieldkit.i18n import _


# -- fieldkit code ----------------------------------------------------------------------
@click.command()
@click.argument("words", nargs=-1, required=True, metavar="CODE")
@click.option("--device", "-d", default=None, help="Only this device's table (e.g. meihua-ic).")
@json_option
@lang_option
@one_line_errors
def code(words: tuple[str, ...], device: str | None, as_json: bool, lang: str) -> None:
    """Explain a fault code: causes, remedies and the manual page.

    CODE is forgiving: ERR-1, ERR—1, err1, ＥＲＲ－１, AL 01 (quotes optional) / AL1.
    An entry id such as meihua-ic.01 shows that entry.
    """
    code = " ".join(words).strip()
    if not code:
        fail(_("Error: give a code, e.g. ERR-1"), EXIT_USAGE)
    catalog = _catalog()
    if device is not None and catalog.resolve_device(device) is None:
        _unknown_device(catalog, device, as_json)
    result = catalog.lookup_code(code, device)
    matches = result.matches
    if not matches and catalog.has_entry(code.strip()):  # an entry id
        entry = catalog.entry(code.strip())
        if result.device is None or catalog.device_of(entry).key == result.device:
            matches = [entry]
    if as_json:
        echo_json(
            {
                "query": result.query,
                "normalized": result.normalized,
                "device": result.device,
                "found": bool(matches),
                "matches": [entry_json(catalog, e) for e in matches],
                "known_codes": result.known_codes,
                "unknown_device": result.unknown_device,
                **(
                    {
                        "devices_with_codes": {
                            k: catalog.known_codes(k)
                            for k in catalog.device_keys()
                            if catalog.known_codes(k)
                        }
                    }
                    if not matches and result.device is None
                    else {}
                ),
            }
        )
        raise SystemExit(EXIT_FOUND if matches else EXIT_NOT_FOUND)
    out = Printer()
    if matches:
        for n, entry in enumerate(matches):
            if n:
                out.line()
            render_entry(catalog, entry, out)
        out.echo()
        return
    if result.device is not None:
        out.line(
            _("{code}: unknown for this device ({device}).").format(
                code=code, device=f"{device_name(catalog, result.device)} [{result.device}]"
            )
        )
        if result.known_codes:
            out.field(_("Known codes of this device:"), ", ".join(result.known_codes))
        else:
            out.line(
                _("This device's table has no codes; describe the symptom with 'fieldkit search'.")
            )
    else:
        out.line(_("{code}: not in any fault table.").format(code=code))
        rows = [
            [key, device_name(catalog, key), ", ".join(catalog.known_codes(key))]
            for key in catalog.device_keys()
            if catalog.known_codes(key)
        ]
        if rows:
            out.line(_("Codes each device knows:"))
            out.table(rows)
    click.echo("\n".join(out.lines), err=True)
    raise SystemExit(EXIT_NOT_FOUND)


# -- fieldkit search --------------------------------------------------------------------
_MATCH_FIELDS = {
    "code": lambda: _("code"),
    "symptom": lambda: _("symptom"),
    "display": lambda: _("display"),
    "meaning": lambda: _("meaning"),
    "cause": lambda: _("cause"),
    "device": lambda: _("device"),
    "remedy": lambda: _("remedy"),
    "note": lambda: _("note"),
}


def _matched_label(matched_on: str) -> str:
    name, _sep, how = matched_on.partition(":")
    label = _MATCH_FIELDS.get(name, lambda: name)()
    if how in ("pinyin", "initials"):
        pattern = _("{field} (pinyin)") if how == "pinyin" else _("{field} (pinyin initials)")
        label = pattern.format(field=label)
    return label


@click.command()
@click.argument("words", nargs=-1, required=True, metavar="WORDS")
@click.option("--device", "-d", default=None, help="Only this device's table.")
@click.option(
    "--limit",
    "-n",
    default=10,
    show_default=True,
    type=click.IntRange(1, 200),
    help="Show at most this many results.",
)
@click.option("--full", is_flag=True, help="Show every hit in full (causes and remedies).")
@json_option
@lang_option
@one_line_errors
def search(
    words: tuple[str, ...], device: str | None, limit: int, full: bool, as_json: bool, lang: str
) -> None:
    """Search symptoms in Chinese, English, pinyin or pinyin initials (不显示, "no display", bxs)."""
    query = " ".join(words).strip()
    if not query:
        fail(_("Error: give something to search for"), EXIT_USAGE)
    catalog = _catalog()
    if device is not None and catalog.resolve_device(device) is None:
        _unknown_device(catalog, device, as_json)
    hits = catalog.search(query, limit=limit, device=device)
    if as_json:
        echo_json(
            {
                "query": query,
                "device": catalog.resolve_device(device) if device else None,
                "found": bool(hits),
                "hits": [
                    {
                        "rank": n,
                        "score": hit.score,
                        "matched_on": hit.matched_on,
                        "entry": entry_json(catalog, hit.entry),
                    }
                    for n, hit in enumerate(hits, 1)
                ],
            }
        )
        raise SystemExit(EXIT_FOUND if hits else EXIT_NOT_FOUND)
    if not hits:
        fail(_("No symptom matches '{query}'.").format(query=query), EXIT_NOT_FOUND)
    out = Printer()
    if full:
        for n, hit in enumerate(hits):
            if n:
                out.line()
            render_entry(catalog, hit.entry, out)
        out.echo()
        return
    rows = [[_("#"), _("Device"), _("Id"), _("Matched on"), _("Symptom")]]
    for n, hit in enumerate(hits, 1):
        entry = hit.entry
        symptom = t(entry.symptom)
        if entry.codes:
            symptom += "  [" + ", ".join(entry.codes) + "]"
        if entry.severity.value == "danger":
            symptom = "!! " + symptom
        rows.append(
            [
                str(n),
                device_name(catalog, catalog.device_of(entry).key),
                entry.id,
                _matched_label(hit.matched_on),
                symptom,
            ]
        )
    out.table(rows, indent=0, cut=1)
    out.line()
    out.line(_("Details: fieldkit code <id>, or add --full"))
    out.echo()
