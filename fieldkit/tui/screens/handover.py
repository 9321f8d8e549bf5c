"""The handover form (设施交接单) of a visit, to read through with the customer."""

from __future__ import annotations

import uuid
from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from fieldkit.i18n import _
from fieldkit.tui.keys import translate_bindings
from fieldkit.tui.text import narrow
from fieldkit.tui.widgets.footer import FieldFooter


class HandoverScreen(ModalScreen[None]):
    """Shows :func:`fieldkit.records.handover.handover_text` for the visit (read only)."""

    CSS_PATH = "handover.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "app.help", "Help", id="app.help"),
        Binding("escape", "close", "Close", id="handover.close"),
    ]

    def __init__(self, visit_id: uuid.UUID) -> None:
        super().__init__()
        translate_bindings(self)
        self.visit_id = visit_id

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="handover-body"):
            yield Static("", id="handover-text")
        yield FieldFooter()

    def on_mount(self) -> None:
        from fieldkit.records.handover import build_handover, handover_text

        services = self.app.services  # type: ignore[attr-defined]
        try:
            text = handover_text(build_handover(services.database(), self.visit_id))
        except Exception as exc:
            text = _("The handover form cannot be built: {error}").format(error=exc)
        self.query_one("#handover-text", Static).update(escape(narrow(text)))
        self.query_one("#handover-body", VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)
