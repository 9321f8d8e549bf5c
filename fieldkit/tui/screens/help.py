"""The help overlay (F1): every key of the screen beneath, including those the footer has
no room for on a small terminal."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

from fieldkit.i18n import _
from fieldkit.tui.keys import translate_bindings


def screen_keys(app: Any, screen: Screen[Any]) -> list[tuple[str, str]]:
    """(key as shown, what it does) for every fieldkit binding active on ``screen``: the
    screen's own, the focused widget's and the app's F-keys (bindings with an id; Textual's
    own editing keys are left out), each action once."""
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for active in screen.active_bindings.values():
        binding = active.binding
        if binding.id is None or not binding.description or binding.action in seen:
            continue
        seen.add(binding.action)
        rows.append((app.get_key_display(binding), binding.description))
    return rows


class HelpScreen(ModalScreen[None]):
    """Lists the keys; Esc or F1 closes it."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    #help-dialog {
        width: 60;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        padding: 0 1;
        background: $panel;
        border: ascii $accent;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("f1", "close", "Close", id="help.close_f1", show=False),
    ]

    def __init__(self, keys: list[tuple[str, str]], title: str = "") -> None:
        super().__init__()
        translate_bindings(self)
        self.keys = keys
        self.title_text = title

    def compose(self) -> ComposeResult:
        width = max((cell_len(k) for k, _d in self.keys), default=0) + 2
        text = Text()
        for key, description in self.keys:
            text.append(key + " " * (width - cell_len(key)), style="bold")
            text.append(description + "\n")
        text.append("\n" + _("Esc or F1: close this list."), style="dim")
        with VerticalScroll(id="help-dialog"):
            heading = (
                _("Keys: {screen}").format(screen=self.title_text) if self.title_text else _("Keys")
            )
            yield Label(Text(heading), classes="heading")
            yield Static(text, id="help-keys")

    def on_mount(self) -> None:
        self.query_one("#help-dialog", VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)
