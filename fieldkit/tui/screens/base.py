"""What every fieldkit screen shares: translated bindings, the status bar, the footer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on
from textual.events import Mount, ScreenResume
from textual.screen import Screen
from textual.widgets import Footer

from fieldkit.tui.keys import TranslatedKeys, translate_bindings

if TYPE_CHECKING:
    from fieldkit.tui.app import FieldkitApp
    from fieldkit.tui.services import Services


class StyledScreen(TranslatedKeys, Screen[Any]):
    """A screen that is not restyled as a whole when nothing about its styles changed.

    Textual restyles every widget of a screen each time it is pushed, although its widgets
    were styled as they were mounted (a new screen) or when last shown (a kept screen, the
    visit's hazards). That is skipped unless the stylesheet changed meanwhile (another
    screen's CSS file was read, a widget type first used, a theme set): ~200 ms saved on
    every F6 and Ctrl+L on a field laptop.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._style_stamp: tuple[int, str] | None = None

    def _stylesheet_stamp(self) -> tuple[int, str]:
        return (len(self.app.stylesheet.source), self.app.theme)

    @on(Mount)
    def _styled_on_mount(self) -> None:
        self._style_stamp = self._stylesheet_stamp()

    def _on_screen_resume(self, event: ScreenResume) -> None:
        # Textual's own handler (Screen._on_screen_resume) runs after this one, reading
        # the flag.
        stamp = self._stylesheet_stamp()
        if stamp == self._style_stamp:
            event.refresh_styles = False
        self._style_stamp = stamp


class FieldkitScreen(StyledScreen):
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
