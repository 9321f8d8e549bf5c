"""Small modal dialogs shared by the visit screens: a yes/no question, and the keys overlay."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Label, Static

from fieldkit.i18n import _
from fieldkit.tui.keys import translate_bindings
from fieldkit.tui.text import narrow


class ConfirmScreen(ModalScreen[bool]):
    """Ask before something that cannot be taken back. Ctrl+S (or F7) confirms, Esc cancels."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="confirm.cancel"),
        Binding("ctrl+s", "confirm", "Confirm", id="confirm.ok"),
        Binding("f7", "confirm", "Confirm", id="confirm.ok_f7", show=False),
    ]

    def __init__(self, title: str, body: str, *, confirm_label: str = "") -> None:
        super().__init__()
        translate_bindings(self)
        self.title_text = title
        self.body = body
        self.confirm_label = confirm_label or _("Ctrl+S / F7: yes   Esc: no")

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Label(escape(narrow(self.title_text)), classes="heading")
            with VerticalScroll(id="confirm-body"):
                yield Static(escape(narrow(self.body)))
            yield Static(escape(self.confirm_label), classes="hint")
        yield Footer()

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


def key_label(key: str) -> str:
    """How a key is written on a keyboard (ctrl+s -> Ctrl+S, f7 -> F7, escape -> Esc)."""
    names = {"escape": "Esc", "enter": "Enter", "tab": "Tab"}
    parts = []
    for part in key.split("+"):
        parts.append(names.get(part, part.upper() if len(part) <= 3 else part.capitalize()))
    return "+".join(p if p != "CTRL" else "Ctrl" for p in parts)


class KeysScreen(ModalScreen[None]):
    """Every key of the screen below (the footer may not have room for all), F1 or Esc closes."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1", "close", "Close", id="keys.close"),
    ]

    def __init__(self, screen: Screen[object]) -> None:
        super().__init__()
        translate_bindings(self)
        self.below = screen

    def compose(self) -> ComposeResult:
        lines = []
        seen: set[str] = set()
        for key, bindings in self.below._bindings.key_to_bindings.items():
            for binding in bindings:
                if not binding.description or not binding.show or binding.action in seen:
                    continue
                if self.below.check_action(binding.action, ()) is False:
                    continue
                seen.add(binding.action)
                lines.append(f"{key_label(key):<8} {binding.description}")
        lines.append(f"{'Tab':<8} {_('Next field')}")
        lines.append(f"{'F2':<8} {_('Home')}")
        lines.append(f"{'F3':<8} {_('Faults')}")
        with Vertical(id="keys-dialog"):
            yield Label(_("Keys on this screen"), classes="heading")
            with VerticalScroll(id="keys-body"):
                yield Static(escape("\n".join(lines)))
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)
