"""Service conduct reference: 五个一, 文明用语 and 忌语 (phrases never to be said), and the rest."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from fieldkit.i18n import _, pick
from fieldkit.tui.screens.base import FieldkitScreen
from fieldkit.tui.screens.lookup import source_line
from fieldkit.tui.text import narrow
from fieldkit.tui.widgets.footer import FieldFooter
from fieldkit.tui.widgets.status import StatusBar


def render_section(section: Any, source: Any = None) -> str:
    forbidden = section.kind == "forbidden_phrases"
    lines = []
    if section.group is not None:
        lines.append(f"[dim]{escape(narrow(pick(section.group)))}[/dim]")
    lines.append(f"[b]{escape(narrow(pick(section.title)))}[/b]")
    if forbidden:
        lines.append(f"[b red]{escape(_('Never say these to a customer:'))}[/]")
    for number, item in enumerate(section.items, start=1):
        text = escape(narrow(pick(item)))
        lines.append(f"[red]{number}. {text}[/]" if forbidden else f"{number}. {text}")
    if section.note is not None:
        lines.append("")
        lines.append(escape(narrow(pick(section.note))))
    if source is not None:
        lines.append("")
        lines.append(f"[dim]{escape(source_line(source))}[/dim]")
    return "\n".join(lines)


class ConductScreen(FieldkitScreen):
    """Sections of the manual's service conduct, one at a time."""

    CSS_PATH = "conduct.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "app.help", "Help", id="app.help"),
        Binding("escape", "app.pop_screen", "Back", id="conduct.back"),
    ]

    class Loaded(Message):
        def __init__(self, sections: list[Any], error: str | None = None) -> None:
            super().__init__()
            self.sections = sections
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        self._sections: list[Any] = []

    def compose(self) -> ComposeResult:
        yield StatusBar(_("Service conduct"))
        with Horizontal(id="conduct-body"):
            yield OptionList(id="sections", markup=False)
            with VerticalScroll(id="conduct-detail"):
                yield Static(_("Loading..."), id="conduct-text")
        yield FieldFooter()

    def on_mount(self) -> None:
        self.query_one("#sections", OptionList).focus()
        self._load()

    @work(thread=True, exclusive=True, group="conduct")
    def _load(self) -> None:
        try:
            sections = list(self.services.conduct().sections)
        except Exception as exc:
            self.post_message(self.Loaded([], str(exc)))
            return
        self.post_message(self.Loaded(sections))

    @on(Loaded)
    def _show(self, message: Loaded) -> None:
        if message.error is not None:
            self.query_one("#conduct-text", Static).update(
                _("Cannot load the service conduct: {error}").format(error=message.error)
            )
            return
        self._sections = message.sections
        option_list = self.query_one("#sections", OptionList)
        option_list.clear_options()
        for section in self._sections:
            option_list.add_option(Option(narrow(pick(section.title)), id=section.id))
        if self._sections:
            # Open on 五个一 when the data has it (the five things done at every visit).
            start = next((i for i, s in enumerate(self._sections) if "五个一" in s.title.zh), 0)
            option_list.highlighted = start
            self._show_section(start)

    @on(OptionList.OptionHighlighted, "#sections")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index < len(self._sections):
            self._show_section(event.option_index)

    def _show_section(self, index: int) -> None:
        section = self._sections[index]
        source = self.services.conduct().source_of(section)
        self.query_one("#conduct-text", Static).update(render_section(section, source))
