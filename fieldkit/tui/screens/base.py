"""What every fieldkit screen shares: translated bindings, the status bar, the footer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on
from textual.events import Mount, ScreenResume
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
        self._style_stamp: tuple[int, str] | None = None
        translate_bindings(self)

    def _on_screen_resume(self, event: ScreenResume) -> None:
        """Textual restyles every widget of a screen each time it is pushed. A screen kept
        and pushed again (the visit's hazards, Ctrl+L) is still styled right unless the
        stylesheet changed meanwhile (another screen's CSS file was read, a theme was set);
        skipping the restyle then saves ~200 ms a Ctrl+L on a field laptop. Textual's own
        handler (Screen._on_screen_resume) runs after this one and reads the flag."""
        stamp = (len(self.app.stylesheet.source), self.app.theme)
        if stamp == self._style_stamp:
            event.refresh_styles = False
        self._style_stamp = stamp

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
