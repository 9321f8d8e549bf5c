"""The technician's TUI: :class:`FieldkitApp`.

Start-up is kept short: the first screen (home) paints from settings alone; the visit
database, the fault catalog and the procedure library are loaded after the first paint in
a worker thread (:mod:`fieldkit.tui.services`) and screens are imported when first opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from fieldkit import i18n
from fieldkit.config import Settings
from fieldkit.i18n import _
from fieldkit.tui.keys import translate_bindings
from fieldkit.tui.services import Services

if TYPE_CHECKING:
    from textual.screen import Screen


class FieldkitApp(App[None]):
    """fieldkit's Textual application. ``settings`` come from :func:`fieldkit.config.load_settings`."""

    CSS_PATH = "app.tcss"
    TITLE = "fieldkit"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "home", "Home", id="app.home"),
        Binding("f3", "lookup", "Faults", id="app.lookup"),
        Binding("f4", "conduct", "Conduct", id="app.conduct"),
        Binding("f5", "sync", "Sync", id="app.sync"),
        Binding("f6", "device", "Device", id="app.device"),
        Binding("f9", "settings", "Settings", id="app.settings"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
    ]

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        services: Services | None = None,
        cursor_blink: bool = True,
        config_path: Path | None = None,
        notices: list[str] | None = None,
    ) -> None:
        self.settings = settings or Settings()
        i18n.set_language(self.settings.language)
        super().__init__()
        self.services = services or Services(self.settings)
        self.cursor_blink = cursor_blink
        """False freezes the cursor of every input (tests and screenshots)."""
        self.config_path = config_path
        self.notices = list(notices or [])
        translate_bindings(self)
        if self.settings.keymap:
            self.set_keymap(dict(self.settings.keymap))

    # -- start-up ------------------------------------------------------------------------

    def on_mount(self) -> None:
        from fieldkit.tui.screens.home import HomeScreen

        self.title = _("fieldkit - gas field toolkit")
        self.push_screen(HomeScreen())
        for notice in self.notices:
            self.notify(notice, timeout=8)

    def on_unmount(self) -> None:
        self.services.close()

    # -- navigation ----------------------------------------------------------------------

    def _open(self, screen_type: type[Screen], *args: Any) -> None:
        """Bring ``screen_type`` to the top: pop back to it if open, else push a new one."""
        for index, screen in enumerate(self.screen_stack):
            if type(screen) is screen_type:
                while len(self.screen_stack) > index + 1:
                    self.pop_screen()
                return
        self.push_screen(screen_type(*args))

    def action_home(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()

    def action_lookup(self) -> None:
        from fieldkit.tui.screens.lookup import LookupScreen

        self._open(LookupScreen)

    def action_conduct(self) -> None:
        from fieldkit.tui.screens.conduct import ConductScreen

        self._open(ConductScreen)

    def action_settings(self) -> None:
        from fieldkit.tui.screens.settings import SettingsScreen

        self._open(SettingsScreen)

    def action_sync(self) -> None:
        from fieldkit.tui.screens.sync import SyncScreen

        if isinstance(self.screen, SyncScreen):
            return
        self.push_screen(SyncScreen())

    def action_device(self) -> None:
        try:
            from fieldkit.tui.screens.device import DeviceScreen  # type: ignore[import-not-found]
        except ImportError:
            self.notify(_("The device screen is not installed in this build."), severity="warning")
            return
        self._open(DeviceScreen)

    # -- language ------------------------------------------------------------------------

    def apply_settings(self, settings: Settings) -> None:
        """Use new settings now: language, keymap; screens are rebuilt in the new language."""
        from fieldkit.tui.screens.home import HomeScreen

        language_changed = settings.language != self.settings.language
        if settings.resolved_db_url() != self.settings.resolved_db_url():
            self.services.close()  # the next screen opens the database in the new folder
        self.settings = settings
        self.services.settings = settings
        i18n.set_language(settings.language)
        translate_bindings(self)
        self.set_keymap(dict(settings.keymap))
        if language_changed:
            self.title = _("fieldkit - gas field toolkit")
            while len(self.screen_stack) > 1:
                self.pop_screen()
            self.push_screen(HomeScreen())
        self.refresh_bindings()
