"""Lookups for the technician: ``code``, ``search``, ``cards``, ``conduct`` and ``data check``.

Thin shells over :mod:`fieldkit.diagnostics.catalog`, :mod:`fieldkit.cards.catalog` and
:mod:`fieldkit.conduct`. Plain text aligned by display width (CJK characters take two
columns), or ``--json`` for scripts. Exit codes: 0 found, 1 not found or unknown,
2 usage error (including an unknown ``--device``). Errors are one line on stderr.

No Textual, no rich: these commands must start fast on an old laptop.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from fieldkit.cli.common import echo_json, fail, json_option, lang_option
from fieldkit.diagnostics.present import (
    as_written_line,
    clears_codes_text,
    confidence_label,
    source_line,
)
from fieldkit.i18n import _, get_language

if TYPE_CHECKING:
    from fieldkit.cards.catalog import CardCatalog
    from fieldkit.cards.models import ToolCard, ToolCardTable
    from fieldkit.diagnostics.catalog import Catalog
    from fieldkit.diagnostics.models import FaultEntry
    from fieldkit.textmodel import Source, Text

F = TypeVar("F", bound=Callable[..., Any])

EXIT_FOUND = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2


# -- width-aware text ----------------------------------------------------------------------
def cell_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: wide and full-width characters count two.

    East-Asian *ambiguous* characters (①, …, “ ”, ·) count one, as most Western terminals
    draw them; fieldkit's own strings avoid them so nothing depends on that choice.
    """
    width = 0
    for ch in text:
        if unicodedata.combining(ch) or ch in "\u200b\u200d\ufe0f":
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def pad(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` columns (never cut)."""
    return text + " " * max(0, width - cell_width(text))


_CLOSING = set(")]},.;:!?%）」』》〉】，。、；：！？")
_OPENING = set("([{（「『《〈【")


def clip(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` cells, else cut to fit with "..." at the end."""
    if cell_width(text) <= limit:
        return text
    cut, used = "", 0
    for ch in text:
        used += cell_width(ch)
        if used > limit - 3:
            break
        cut += ch
    return cut + "..."


def wrap(text: str, width: int, indent: int = 0, first_indent: int | None = None) -> list[str]:
    """Wrap to ``width`` columns: Chinese may break between any two characters, English
    only at spaces. No line starts with closing punctuation or ends with an opening
    bracket. Continuation lines are indented by ``indent`` columns."""
    lines: list[str] = []
    current = ""
    used = indent if first_indent is None else first_indent
    limit = max(width, indent + 10)
    for token in _tokens(text):
        w = cell_width(token)
        if used + w > limit and current.strip() and token[0] not in _CLOSING:
            lines.append(current.rstrip())
            current, used = "", indent
            if token == " ":
                continue
        current += token
        used += w
    if current.strip() or not lines:
        lines.append(current.rstrip())
    return [lines[0]] + [" " * indent + line for line in lines[1:]]


def _tokens(text: str) -> Iterable[str]:
    """Words (ASCII runs), single spaces and single wide characters; an opening bracket
    sticks to what follows it."""
    word = ""
    opening = ""
    for ch in text:
        if ch in _OPENING:
            if word:
                yield opening + word
                word = opening = ""
            opening += ch
        elif ch == " " or cell_width(ch) == 2:
            if word:
                yield opening + word
                word = opening = ""
            if ch == " ":
                if opening:
                    yield opening
                    opening = ""
                yield ch
            else:
                yield opening + ch
                opening = ""
        else:
            word += ch
    if word or opening:
        yield opening + word


def _terminal_width() -> int:
    return max(40, min(shutil.get_terminal_size((100, 24)).columns, 120))


LAST_COLUMN = 30  # cells a table's last (free-text) column keeps before others are cut
MIN_COLUMN = 10


class Printer:
    """Labelled, wrapped lines with a hanging indent aligned on the label's width."""

    def __init__(self, width: int | None = None):
        self.width = width or _terminal_width()
        self.lines: list[str] = []

    def line(self, text: str = "") -> None:
        self.lines.append(text)

    def field(self, label: str, text: str, indent: int = 0) -> None:
        head = " " * indent + label + ("" if label.endswith("：") else " ")
        self.lines.extend(
            head + part if i == 0 else part
            for i, part in enumerate(
                wrap(text, self.width, indent=cell_width(head), first_indent=cell_width(head))
            )
        )

    def wrapped(self, text: str, indent: int = 0) -> None:
        """A plain line indented by ``indent``, wrapped, continuation lines indented 2 more."""
        first, *rest = wrap(text, self.width, indent=indent + 2, first_indent=indent)
        self.lines.extend([" " * indent + first, *rest])

    def table(self, rows: list[list[str]], indent: int = 2, cut: int | None = None) -> None:
        """Rows of cells; every column but the last is padded to its widest cell.

        The last column wraps under itself. When the line is too narrow to leave it
        ``LAST_COLUMN`` cells, column ``cut`` (never an id a user types) is shortened with
        "...", or left out when even ``MIN_COLUMN`` cells would not fit.
        """
        if not rows:
            return
        widths = [max(cell_width(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        if cut is not None:
            room = self.width - LAST_COLUMN - indent - 2 * len(widths)
            fits = room - (sum(widths) - widths[cut])
            if fits < MIN_COLUMN:
                rows = [row[:cut] + row[cut + 1 :] for row in rows]
                del widths[cut]
            else:
                widths[cut] = min(widths[cut], fits)
        lead = indent + sum(w + 2 for w in widths)
        for row in rows:
            cells = [pad(clip(cell, widths[i]), widths[i]) for i, cell in enumerate(row[:-1])]
            paragraphs = row[-1].split("\n")  # more lines of the last cell, under it
            first, *rest = wrap(paragraphs[0], self.width, indent=lead, first_indent=lead)
            self.lines.append((" " * indent + "  ".join([*cells, first])).rstrip())
            self.lines.extend(rest)
            for more in paragraphs[1:]:
                self.lines.extend(
                    " " * lead + line.lstrip() for line in wrap(more, self.width, lead, lead)
                )

    def echo(self) -> None:
        click.echo("\n".join(self.lines))


# -- shared rendering --------------------------------------------------------------------
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
    for item in entry.as_written:
        out.field(_("Note:"), as_written_line(item))
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
@click.option("--limit", "-n", default=10, show_default=True, type=click.IntRange(1, 200))
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


# -- fieldkit cards ---------------------------------------------------------------------
def _state_name(cards: CardCatalog, family_key: str, state: str) -> str:
    found = cards.state(family_key, state)
    return t(found.name) if found is not None else state


def _clears_label(value: str) -> str:
    return {
        "gas": _("gas credit"),
        "password": _("password"),
        "card_number": _("card number"),
        "purchase_count": _("purchase count"),
        "faults": _("fault codes"),
        "all": _("everything"),
    }.get(value, value)


def _transitions(cards: CardCatalog, family_key: str, card: ToolCard) -> str:
    """``工作状态 -> 初始化状态; 初始化状态 -> 工作状态``: one per mode."""
    parts = []
    for mode in card.modes:
        before = "/".join(_state_name(cards, family_key, s) for s in mode.requires_state)
        after = _state_name(cards, family_key, mode.result_state) if mode.result_state else ""
        if before or after:
            parts.append(f"{before or _('any state')} -> {after or _('unchanged')}")
    return "; ".join(parts) or "-"


def render_card(
    cards: CardCatalog,
    card: ToolCard,
    out: Printer,
    catalog: Catalog | None = None,
    with_rules: bool = True,
) -> None:
    """One card; ``with_rules`` adds the family rules that refer to it (off in a family
    view, which prints every rule once at the top)."""
    table = cards.table_of(card)
    family = table.family
    # In English the Chinese name comes too: it is what is printed on the card itself.
    names = [card.name.zh] if get_language() == "en" else []
    names += card.aliases
    also = f" ({'; '.join(names)})" if names else ""
    out.line(f"== {t(card.name)}{also} [{card.id}] ==")
    out.field(_("Family:"), f"{t(family.name)} [{family.key}]")
    out.field(_("Purpose:"), t(card.purpose))
    any_state = _("any state")
    for mode in card.modes:
        before = " / ".join(_state_name(cards, family.key, s) for s in mode.requires_state)
        after = (
            _state_name(cards, family.key, mode.result_state)
            if mode.result_state
            else _("unchanged")
        )
        label = t(mode.name) if mode.name is not None else _("Use")
        out.field(_("{name}:").format(name=label), f"{before or any_state} -> {after}")
        out.field(_("Effect:"), t(mode.effect), indent=4)
        if mode.clears:
            out.field(_("Clears:"), ", ".join(_clears_label(c) for c in mode.clears), indent=4)
        if mode.gas_after is not None:
            out.field(_("Gas afterwards:"), f"{mode.gas_after:g} m3", indent=4)
    if card.destroys is not None:
        out.field("!! " + _("Destroys / afterwards:"), t(card.destroys))
    if card.restrictions is not None:
        out.field(_("Restrictions:"), t(card.restrictions))
    if card.resolves_as_stated is not None:
        out.field(_("Clears codes:"), clears_codes_text(card))
    elif card.resolves_codes:
        out.field(_("Clears codes:"), ", ".join(card.resolves_codes))
    for item in card.as_written:
        out.field(_("Note:"), as_written_line(item))
    if card.reusable is not None:
        out.field(_("Reusable:"), _("yes") if card.reusable else _("no"))
    if catalog is not None and card.see_also:
        refs = [f"{ref} {_ref_title(catalog, ref)}".strip() for ref in card.see_also]
        out.field(_("See also:"), "; ".join(refs))
    if with_rules:
        for rule in table.rules:
            if card.id in rule.see_also:
                out.field(_("Rule:"), f"{t(rule.title)}: {t(rule.text)}")
    print_source(out, card.source or table.source, card.number)


def _family_title(table: ToolCardTable) -> str:
    """前锋工具卡 [qianfeng], 美华 民用表工具卡 [meihua-residential]: the brand once."""
    brand, name = t(table.family.brand), t(table.family.name)
    title = name if name.startswith(brand) else f"{brand} {name}"
    return f"{title} [{table.family.key}]"


def render_family(
    table: ToolCardTable, cards: CardCatalog, out: Printer, catalog: Catalog | None = None
) -> None:
    out.line(f"==== {_family_title(table)} ====")
    if table.meter_states:
        out.field(
            _("Meter states:"), ", ".join(f"{t(s.name)} ({s.key})" for s in table.meter_states)
        )
    for rule in table.rules:
        out.field(_("Rule:"), f"{t(rule.title)}: {t(rule.text)}")
    print_source(out, table.source)
    for card in table.cards:
        out.line()
        render_card(cards, card, out, catalog, with_rules=False)


def card_json(cards: CardCatalog, card: ToolCard) -> dict[str, Any]:
    table = cards.table_of(card)
    data = card.model_dump(mode="json", exclude_none=True, exclude={"source"})
    data["family"] = table.family.key
    for mode in data["modes"]:
        mode["requires_state_names"] = [
            _text_json(s.name)
            for key in mode["requires_state"]
            if (s := cards.state(table.family.key, key)) is not None
        ]
        if mode.get("result_state"):
            found = cards.state(table.family.key, mode["result_state"])
            mode["result_state_name"] = _text_json(found.name) if found else None
    data["source"] = source_json(card.source or table.source, card.number)
    return data


def family_json(table: ToolCardTable, cards: CardCatalog) -> dict[str, Any]:
    return {
        "family": table.family.model_dump(mode="json"),
        "source": source_json(table.source),
        "meter_states": [s.model_dump(mode="json") for s in table.meter_states],
        "rules": [r.model_dump(mode="json") for r in table.rules],
        "cards": [card_json(cards, c) for c in table.cards],
    }


@click.command()
@click.argument("query", required=False)
@json_option
@lang_option
@one_line_errors
def cards(query: str | None, as_json: bool, lang: str) -> None:
    """Tool cards: what each does, which meter state it needs and leaves, what it destroys.

    QUERY is a family key (meihua-residential), a card name or alias (回收转移卡, 清零卡,
    超级卡, "recovery card") or a card id. Without QUERY, every family in short.
    """
    catalog = _catalog()
    cards = catalog.cards
    out = Printer()
    if query is None:
        if as_json:
            echo_json({"families": [family_json(f, cards) for f in cards.families()]})
            return
        for table in cards.families():
            out.line(f"==== {_family_title(table)} ====")
            rows = [
                [
                    c.id,
                    t(c.name) + (" (" + ", ".join(c.aliases) + ")" if c.aliases else ""),
                    "\n".join(
                        part
                        for part in (
                            _transitions(cards, table.family.key, c),
                            _first_sentence(t(c.purpose), 80),
                        )
                        if part != "-"
                    ),
                ]
                for c in table.cards
            ]
            out.table(rows)
            out.line()
        out.line(_("Details: fieldkit cards <family, card name or id>"))
        out.echo()
        return
    key = query.strip().lower()
    if key in cards.tables:
        table = cards.family(key)
        if as_json:
            echo_json(family_json(table, cards))
            return
        render_family(table, cards, out, catalog)
        out.echo()
        return
    found = cards.find(query)
    if as_json:
        echo_json(
            {
                "query": query,
                "found": bool(found),
                "cards": [card_json(cards, c) for c in found],
                **({} if found else {"families": cards.family_keys()}),
            }
        )
        raise SystemExit(EXIT_FOUND if found else EXIT_NOT_FOUND)
    if not found:
        out.line(_("No tool card answers to '{query}'. Families:").format(query=query))
        out.table([[f.family.key, t(f.family.name)] for f in cards.families()])
        click.echo("\n".join(out.lines), err=True)
        raise SystemExit(EXIT_NOT_FOUND)
    if len(found) > 1:
        out.line(
            _("{n} cards answer to '{query}'; they are different cards:").format(
                n=len(found), query=query
            )
        )
        out.line()
    for n, card in enumerate(found):
        if n:
            out.line()
        render_card(cards, card, out, catalog)
    out.echo()


def _first_sentence(text: str, limit: int = 40) -> str:
    for stop in ("。", "；", ". "):
        if stop in text:
            text = text.split(stop, 1)[0]
            break
    return clip(text, limit)


# -- fieldkit conduct -------------------------------------------------------------------
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


# -- fieldkit data check ----------------------------------------------------------------
@click.group()
def data() -> None:
    """Check the data tables a utility edits."""


def _procedure_problems(folders: list[Path]) -> tuple[int, list[Any]]:
    """(procedures loaded, problems) from each folder's procedures/."""
    from fieldkit.procedures import load_procedures

    procedures, problems = load_procedures([f / "procedures" for f in folders])
    return len(procedures), list(problems)


def _conduct_problems(folders: list[Path]) -> tuple[int, list[Any]]:
    """(conduct files checked, problems) for each folder's conduct/service_conduct.yaml."""
    from fieldkit.conduct import CONDUCT_DIR, CONDUCT_FILE, parse_conduct
    from fieldkit.datafiles import read_yaml

    checked = 0
    problems: list[Any] = []
    for folder in folders:
        path = folder / CONDUCT_DIR / CONDUCT_FILE
        if not path.is_file():
            continue
        checked += 1
        raw, found = read_yaml(path)
        if not found:
            _conduct, found = parse_conduct(path, raw)
        problems.extend(found)
    return checked, problems


@data.command("check")
@click.argument(
    "folder", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@json_option
@lang_option
@one_line_errors
def check(folder: Path | None, as_json: bool, lang: str) -> None:
    """Validate FOLDER (a data folder or a folder of tables), or the shipped data plus
    FIELDKIT_DATA. Prints every problem; exit 1 if there is any."""
    from fieldkit.diagnostics.catalog import load_catalog_from
    from fieldkit.paths import data_dirs

    folders = [folder] if folder is not None else data_dirs()
    catalog = load_catalog_from(folders)
    problems = list(catalog.problems)
    n_procedures, proc_problems = _procedure_problems(folders)
    problems.extend(proc_problems)
    n_conduct, conduct_problems = _conduct_problems(folders)
    problems.extend(conduct_problems)
    summary = {
        "folders": [str(f) for f in folders],
        "fault_tables": len(catalog.tables),
        "entries": len(catalog.entries()),
        "card_families": len(catalog.cards.tables),
        "cards": len(catalog.cards.cards()),
        "procedures": n_procedures,
        "conduct_files": n_conduct,
        "overrides": [str(s) for s in catalog.sources if s.replaces is not None],
        "problems": [
            {"file": str(p.file), "entry": p.entry, "field": p.field, "message": p.message}
            for p in problems
        ],
    }
    if as_json:
        echo_json(summary)
        raise SystemExit(1 if problems else 0)
    for problem in problems:
        click.echo(str(problem))
    for source in catalog.sources:
        if source.replaces is not None:
            click.echo(_("Override: {source}").format(source=source))
    click.echo(
        _(
            "{tables} fault tables, {entries} entries, {families} card families, {cards} cards, "
            "{procedures} procedures: {problems} problem(s)"
        ).format(
            tables=summary["fault_tables"],
            entries=summary["entries"],
            families=summary["card_families"],
            cards=summary["cards"],
            procedures=n_procedures,
            problems=len(problems),
        )
    )
    raise SystemExit(1 if problems else 0)
