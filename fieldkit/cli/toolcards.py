"""``fieldkit cards``: the utility's tool cards, what each does and what it destroys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from fieldkit.cli.common import echo_json, json_option, lang_option
from fieldkit.cli.lookup_common import (
    EXIT_FOUND,
    EXIT_NOT_FOUND,
    _catalog,
    _text_json,
    one_line_errors,
    print_source,
    source_json,
    t,
)
from fieldkit.cli.textlayout import Printer, clip
from fieldkit.diagnostics.present import as_written_line, clears_codes_text
from fieldkit.diagnostics.sections import ref_title as _ref_title
from fieldkit.i18n import _, get_language

if TYPE_CHECKING:
    from fieldkit.cards.catalog import CardCatalog
    from fieldkit.cards.models import ToolCard, ToolCardTable
    from fieldkit.diagnostics.catalog import Catalog


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
