"""Fault lookup: search as you type over the fault catalog, with the tool cards linked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from fieldkit.diagnostics.present import as_written_line, clears_codes_text
from fieldkit.diagnostics.present import source_line as describe_source
from fieldkit.i18n import _, get_language, pick
from fieldkit.tui.screens.base import FieldkitScreen
from fieldkit.tui.text import narrow
from fieldkit.tui.widgets.footer import FieldFooter
from fieldkit.tui.widgets.inputs import FieldInput
from fieldkit.tui.widgets.status import StatusBar


@dataclass(frozen=True)
class EntryHit:
    """An entry opened by its id (shaped like the catalog's search hits)."""

    entry: Any


def _t(text: Any) -> str:
    return narrow(pick(text)) if text is not None else ""


def source_line(source: Any, number: int | None = None) -> str:
    """Where an entry comes from, worded as the CLI words it (outside sources with their
    confidence); empty when there is no source."""
    if source is None:
        return ""
    return narrow(describe_source(source, number, language=get_language()))


def render_entry(sections: list[Any]) -> str:
    """An entry's sections (:func:`fieldkit.diagnostics.sections.entry_sections`, the model
    ``fieldkit code`` prints too) as Rich markup: bold heading, red emergency steps."""
    from rich.markup import escape

    lines: list[str] = []
    for section in sections:
        if section.kind == "heading":
            lines.append(f"[b]{escape(narrow(section.title))}[/b]")
            continue
        style = {"emergency": "b red", "source": "dim"}.get(section.kind, "")
        lines.append("")
        if section.kind == "emergency":
            lines.append(f"[b reverse red] {escape(narrow(section.title))} [/]")
        for line in section.lines:
            text = " " * line.indent + (f"{line.label} " if line.label else "") + line.text
            text = escape(narrow(text))
            lines.append(f"[{style}]{text}[/]" if style else text)
    return "\n".join(lines)


def render_card(card: Any, family: Any, table: Any) -> str:
    """A tool card as Rich markup: purpose, modes (state before/after), what it destroys."""
    from rich.markup import escape

    def e(text: Any) -> str:
        return escape(_t(text))

    states = {s.key: s for s in getattr(table, "meter_states", [])}

    def state(key: str) -> str:
        return e(states[key].name) if key in states else escape(key)

    lines = [f"[b]{e(card.name)}[/b]  ({e(family.name)})"]
    if card.aliases:
        lines.append(
            _("Also called: {names}").format(names=escape(narrow(", ".join(card.aliases))))
        )
    lines.append(e(card.purpose))
    for mode in card.modes:
        lines.append("")
        if mode.name is not None:
            lines.append(f"[b]{e(mode.name)}[/b]")
        if mode.requires_state:
            lines.append(
                _("Use only when the meter is in: {states}").format(
                    states=", ".join(state(s) for s in mode.requires_state)
                )
            )
        if mode.result_state:
            lines.append(_("Leaves the meter in: {state}").format(state=state(mode.result_state)))
        lines.append(e(mode.effect))
    if card.destroys is not None:
        lines.append("")
        lines.append(f"[b red]{escape(_('Destroys:'))} {e(card.destroys)}[/]")
    if card.restrictions is not None:
        lines.append(_("Restrictions: {text}").format(text=e(card.restrictions)))
    if card.resolves_codes or card.resolves_as_stated is not None:
        lines.append(
            _("Clears codes: {codes}").format(codes=escape(narrow(clears_codes_text(card))))
        )
    for item in card.as_written:
        lines.append(_("Note: {text}").format(text=escape(narrow(as_written_line(item)))))
    where = source_line(card.source or getattr(table, "source", None), card.number)
    if where:
        lines.append("")
        lines.append(f"[dim]{escape(where)}[/dim]")
    return "\n".join(lines)


class LookupScreen(FieldkitScreen):
    """Type a code (ERR-1, E0), a symptom in Chinese or pinyin, or English words."""

    CSS_PATH = "lookup.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "app.help", "Help", id="app.help"),
        Binding("ctrl+f", "focus_search", "Search", id="lookup.search"),
        Binding("f7", "focus_cards", "Tool cards", id="lookup.cards"),
        Binding("escape", "app.pop_screen", "Back", id="lookup.back"),
    ]

    class CatalogReady(Message):
        pass

    class CatalogFailed(Message):
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    def __init__(self, query: str = "") -> None:
        super().__init__()
        self._initial = query
        self._hits: list[Any] = []
        self._cards: list[Any] = []
        self._ready = False

    def compose(self) -> ComposeResult:
        yield StatusBar(_("Fault lookup"))
        yield FieldInput(
            self._initial,
            placeholder=_("Code, symptom, pinyin or English"),
            id="search",
        )
        with Horizontal(id="lookup-body"):
            with Vertical(id="lookup-left"):
                yield OptionList(id="results", markup=False)
                yield Label(_("Tool cards"), classes="heading")
                yield OptionList(id="cards", markup=False)
            with VerticalScroll(id="lookup-detail"):
                yield Static(_("Loading the fault catalog..."), id="detail")
        yield FieldFooter()

    def on_mount(self) -> None:
        self.query_one("#search", FieldInput).focus()
        self._load()

    @work(thread=True, exclusive=True, group="catalog")
    def _load(self) -> None:
        try:
            self.services.catalog()
            self.services.tool_cards()
        except Exception as exc:
            self.post_message(self.CatalogFailed(str(exc)))
            return
        self.post_message(self.CatalogReady())

    @on(CatalogReady)
    def _ready_now(self) -> None:
        self._ready = True
        self.query_one("#detail", Static).update(
            _("Type a code (ERR-1, E0), a symptom (不点火, buhuo) or English words.")
        )
        self._search(self.query_one("#search", FieldInput).value)

    @on(CatalogFailed)
    def _failed(self, message: CatalogFailed) -> None:
        self.query_one("#detail", Static).update(
            _("Cannot load the fault catalog: {error}").format(error=message.error)
        )

    @on(FieldInput.Changed, "#search")
    def _typed(self, event: FieldInput.Changed) -> None:
        if self._ready:
            self._search(event.value)

    @on(FieldInput.Submitted, "#search")
    def _submitted(self) -> None:
        if self._hits:
            self.query_one("#results", OptionList).focus()

    def _search(self, query: str) -> None:
        catalog = self.services.catalog()
        wanted = query.strip()
        if wanted and catalog.has_entry(wanted):  # an entry id, e.g. from a procedure's finding
            self._hits = [EntryHit(catalog.entry(wanted))]
        else:
            self._hits = catalog.search(query, limit=30) if wanted else []
        results = self.query_one("#results", OptionList)
        results.clear_options()
        for index, hit in enumerate(self._hits):
            entry = hit.entry
            codes = " ".join(dict.fromkeys(entry.codes[:2]))
            device = narrow(catalog.device_of(entry).name(get_language()))
            # Which device the hit is for: the same code means different things on
            # different meters and boilers.
            label = _("{entry} ({device})").format(
                entry=f"{codes} {_t(entry.symptom)}".strip(), device=device
            )
            results.add_option(Option(label, id=f"hit-{index}"))
        if self._hits:
            results.highlighted = 0
            self._show_entry(0)
        else:
            self._set_cards([])
            self.query_one("#detail", Static).update(
                _("Nothing found for {query}.").format(query=query) if query.strip() else ""
            )

    @on(OptionList.OptionHighlighted, "#results")
    def _result_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index < len(self._hits):
            self._show_entry(event.option_index)

    @on(OptionList.OptionHighlighted, "#cards")
    def _card_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index < len(self._cards):
            self._show_card(self._cards[event.option_index])

    @on(OptionList.OptionSelected, "#results")
    def _result_selected(self, event: OptionList.OptionSelected) -> None:
        self._show_entry(event.option_index)
        if self._cards:
            self.action_focus_cards()

    def _device_of(self, entry: Any) -> tuple[str, Any]:
        catalog = self.services.catalog()
        device = catalog.device_of(entry)
        return device.name(get_language()), catalog.source_of(entry)

    def _show_entry(self, index: int) -> None:
        from fieldkit.diagnostics.sections import entry_sections

        entry = self._hits[index].entry
        sections = entry_sections(self.services.catalog(), entry)
        self.query_one("#detail", Static).update(render_entry(sections))
        self._set_cards(self._linked_cards(entry))

    def _linked_cards(self, entry: Any) -> list[Any]:
        """Cards the entry names in ``see_also``, then cards of its device that clear its codes."""
        cards = self.services.tool_cards()
        linked: list[Any] = []
        for ref in entry.see_also:
            try:
                linked.append(cards.card(ref))
            except KeyError:
                continue
        device_key = entry.id.split(".", 1)[0]
        codes = set(entry.codes)
        if codes:
            for table in cards.families():
                if device_key not in table.family.devices:
                    continue
                for card in table.cards:
                    if codes & set(card.resolves_codes) and card not in linked:
                        linked.append(card)
        return linked

    def _set_cards(self, cards: list[Any]) -> None:
        self._cards = cards
        option_list = self.query_one("#cards", OptionList)
        option_list.clear_options()
        for card in cards:
            option_list.add_option(Option(_t(card.name), id=card.id))
        if not cards:
            option_list.add_option(Option(_("(none for this entry)"), disabled=True))

    def _show_card(self, card: Any) -> None:
        cards = self.services.tool_cards()
        self.query_one("#detail", Static).update(
            render_card(card, cards.family_of(card), cards.table_of(card))
        )

    def action_focus_search(self) -> None:
        self.query_one("#search", FieldInput).focus()

    def action_focus_cards(self) -> None:
        if self._cards:
            option_list = self.query_one("#cards", OptionList)
            option_list.focus()
            option_list.highlighted = 0
            self._show_card(self._cards[0])
