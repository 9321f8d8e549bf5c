"""What every fieldkit screen shares: translated bindings, the status bar, the footer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on
from textual.events import Mount
from textual.screen import Screen
from textual.widgets import Footer

from fieldkit.tui.keys import translate_bindings

if TYPE_CHECKING:
    from fieldkit.tui.app import FieldkitApp
    from fieldkit.tui.services import Services


class FieldkitScreen(Screen[Any]):
    """A screen whose footer descriptions are in the current language."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        translate_bindings(self)

    @on(Mount)
    def _compact_footer(self) -> None:
        """Every footer compact (one space between keys), so a screen's keys fit 80 columns."""
        for footer in self.query(Footer):
            footer.compact = True

    @property
    def fk_app(self) -> FieldkitApp:
        return self.app  # type: ignore[return-value]

    @property
    def services(self) -> Services:
        return self.fk_app.services
