"""The technician's TUI: :class:`FieldkitApp`.

Start-up is kept short: the first screen (home) paints knowing only the language; the
settings (pydantic), the visit database (SQLAlchemy, migrations), the fault catalog and the
procedure library are loaded after the first paint in a worker thread
(:mod:`fieldkit.tui.services`), and screens are imported when first opened.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events
from textual.app import App
from textual.binding import Binding, BindingType

from fieldkit import i18n
from fieldkit.i18n import _
from fieldkit.tui.keys import translate_bindings
from fieldkit.tui.services import Services

if TYPE_CHECKING:
    from textual.screen import Screen

    from fieldkit.config import Settings


def _load_default_settings() -> Settings:
    from fieldkit.config import load_settings

    return load_settings()


class FieldkitApp(App[None]):
    """fieldkit's Textual application.

    Give ``settings`` (tests), or let the app call ``settings_loader`` (default
    :func:`fieldkit.config.load_settings`) after its first paint; ``language`` is what
    the first screen is drawn in until the settings are known.
    """

    CSS_PATH = "app.tcss"
    TITLE = "fieldkit"
    ENABLE_COMMAND_PALETTE = False
    # The F-keys work on every screen but only the home screen lists them in its footer
    # (HomeScreen.BINDINGS), so every footer fits in 80 columns with the screen's own keys.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help", id="app.help", show=False),
        Binding("f2", "home", "Home", id="app.home", show=False),
        Binding("f3", "lookup", "Faults", id="app.lookup", show=False),
        Binding("f4", "conduct", "Conduct", id="app.conduct", show=False),
        Binding("f5", "sync", "Sync", id="app.sync", show=False),
        Binding("f6", "device", "Device", id="app.device", show=False),
        Binding("f9", "settings", "Settings", id="app.settings", show=False),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True, show=False),
    ]

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        settings_loader: Callable[[], Settings] | None = None,
        language: str | None = None,
        services: Services | None = None,
        cursor_blink: bool = True,
        config_path: Path | None = None,
        notices: list[str] | None = None,
        banner: str = "",
        first_look: tuple[str | None, str | None] | None = None,
    ) -> None:
        self._settings = settings
        self._settings_loader = settings_loader or _load_default_settings
        self._settings_lock = threading.Lock()
        self._settings_applied = False
        self.language = settings.language if settings is not None else (language or "zh")
        i18n.set_language(self.language)
        super().__init__()
        self.services = services or Services(lambda: self.settings)
        self.cursor_blink = cursor_blink
        """False freezes the cursor of every input (tests and screenshots)."""
        self.config_path = config_path
        self.notices = list(notices or [])
        self.banner = banner
        self._warmed_up = False
        self.first_look = first_look
        """(database URL, technician id) read without pydantic, for the home screen's first
        glance while the settings load (fieldkit.cli.app.first_look)."""
        """Shown in every screen's status bar (the demo says where its data goes)."""
        self._last_key = float("-inf")  # time.monotonic() of the last key press
        self._key_served = float("-inf")  # the last key background work has waited for
        self._ui_thread: int | None = None  # the thread running the app's event loop
        self._device_screen: Screen | None = None  # F6's screen, built ahead and kept
        self._device_stale = False  # the kept one is to be dropped once closed
        self._loop: asyncio.AbstractEventLoop | None = None
        translate_bindings(self)
        if settings is not None:
            self.settings_ready()

    # -- settings ------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The settings, loaded on first use (any thread); raises ConfigError if broken."""
        if self._settings is None:
            with self._settings_lock:
                if self._settings is None:
                    self._settings = self._settings_loader()
        return self._settings

    @property
    def loaded_settings(self) -> Settings | None:
        """The settings if they are loaded, else None (never loads; for rendering)."""
        return self._settings

    def settings_ready(self) -> None:
        """Apply the loaded settings once, on the UI thread: keymap, and the language if the
        first screen was drawn in another one."""
        if self._settings_applied or self._settings is None:
            return
        self._settings_applied = True
        if self._settings.keymap:
            self.set_keymap(dict(self._settings.keymap))
        if self._settings.language != self.language and self.is_mounted:
            self._switch_language(self._settings.language)

    # -- start-up ------------------------------------------------------------------------

    # -- keys before background work -----------------------------------------------------

    KEY_YIELD = 1.0
    """Seconds after a key press during which background loading waits for the UI to be idle."""
    KEY_QUIET = 0.2
    """Seconds the UI thread must have been idle for a key's work to count as done: longer
    than the gap between a screen's first paint and what its own worker fills in (F6: the
    ports list, 0.05-0.2 s later on a busy laptop)."""

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self._last_key = time.monotonic()
        await super().on_event(event)

    def _ui_answers(self, within: float) -> bool:
        """True if the UI thread ran a callback from this (another) thread within
        ``within`` seconds (it is idle); also True once the app's loop is gone."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return True
        ran = threading.Event()
        try:
            loop.call_soon_threadsafe(ran.set)
        except RuntimeError:  # the loop has closed
            return True
        return ran.wait(within)

    def _ui_importing(self) -> bool:
        """True while the UI thread is inside an import (possibly waiting for a module
        that a paused background import has begun: see fieldkit.tui.preload)."""
        frame = sys._current_frames().get(self._ui_thread or -1)
        while frame is not None:
            if frame.f_code.co_filename.startswith("<frozen importlib"):
                return True
            frame = frame.f_back
        return False

    def yield_to_keys(self, longest: float = 3.0) -> None:
        """Called from a background thread between two steps of its work (imports,
        database, catalogs) and, while the home worker imports ahead, before each module
        it imports (fieldkit.tui.preload): right after a key press, wait (idle) until the
        UI thread has done what the key asked for, so the screen it opens is not slowed
        down by the background work (one Python thread runs at a time).

        The UI thread counts as done once it has answered at once for KEY_QUIET; the key is
        then served and later steps go on without waiting again for it. Waits at most
        ``longest`` seconds and never past KEY_YIELD after the last key; without a recent
        key it returns at once. It does not wait while the UI thread is importing: that
        import may be waiting for a module this thread has begun (and holds the lock of)."""
        deadline = time.monotonic() + longest
        key = self._last_key
        quiet = 0
        while time.monotonic() < deadline:
            if key <= self._key_served or time.monotonic() - key > self.KEY_YIELD:
                return
            if self._ui_importing():
                return
            # idle: quick answers from the UI thread for KEY_QUIET s (one every 20 ms)
            quiet = quiet + 1 if self._ui_answers(0.004) else 0
            if quiet >= round(self.KEY_QUIET / 0.02):
                self._key_served = key
                return
            time.sleep(0.02)
            if self._last_key != key:  # another key meanwhile: wait for its work too
                key, quiet = self._last_key, 0

    def on_mount(self) -> None:
        from fieldkit.tui.screens.home import HomeScreen

        self._loop = asyncio.get_running_loop()
        self._ui_thread = threading.get_ident()
        self.title = _("fieldkit - gas field toolkit")
        self.push_screen(HomeScreen())
        for notice in self.notices:
            self.notify(notice, timeout=8)
        self._handle_signals(install=True)

    def warm_up(self) -> None:
        """Prepare, while the technician reads the work orders, what the first F6 (or any
        first form) would otherwise make them wait for: Textual parses the whole stylesheet
        again each time a widget type first appears (Select, Button, Input…) and re-reads
        and re-applies it when a screen's CSS file is first used. Done once here, with only
        the home screen up: the device screen's own CSS (its rules name only its own
        widgets) and the default CSS of the widget types the later screens use."""
        if self._warmed_up:
            return
        self._warmed_up = True
        from textual.containers import VerticalScroll
        from textual.widgets import Button, Input, OptionList, Select
        from textual.widgets._select import SelectCurrent, SelectOverlay

        stylesheet = self.stylesheet
        added = False
        device_css = Path(__file__).resolve().parent / "screens" / "device.tcss"
        if not stylesheet.has_source(str(device_css), ""):
            stylesheet.read(device_css)
            added = True
        samples = [
            Button(),
            Input(),
            OptionList(),
            Select[str]([]),
            SelectCurrent(""),
            SelectOverlay(),
            VerticalScroll(),
        ]
        for widget in samples:
            for read_from, css, tie_breaker, scope in widget._get_default_css():
                if stylesheet.has_source(*read_from):
                    continue
                stylesheet.add_source(
                    css,
                    read_from=read_from,
                    is_default_css=True,
                    tie_breaker=tie_breaker,
                    scope=scope,
                )
                added = True
        if added:  # (an F6 pressed before this ran has already read them all)
            stylesheet.reparse()
            stylesheet.update(self)

    def on_unmount(self) -> None:
        self._handle_signals(install=False)
        self.services.close()

    def _handle_signals(self, *, install: bool) -> None:
        """TERM and HUP (a closed terminal) end the app as Ctrl+Q does, so what runs after
        it (the demo's clean-up) runs. Every answer is saved when given: nothing is lost.
        Where the event loop cannot take signals (Windows) this does nothing."""
        import asyncio
        import signal

        loop = asyncio.get_running_loop()
        for name in ("SIGTERM", "SIGHUP"):
            number = getattr(signal, name, None)
            if number is None:
                continue
            try:
                if install:
                    loop.add_signal_handler(number, self.exit)
                else:
                    loop.remove_signal_handler(number)
            except (NotImplementedError, RuntimeError, ValueError):
                continue

    # -- navigation ----------------------------------------------------------------------

    def _open(self, screen_type: type[Screen], *args: Any) -> None:
        """Bring ``screen_type`` to the top: pop back to it if open, else push a new one."""
        for index, screen in enumerate(self.screen_stack):
            if type(screen) is screen_type:
                while len(self.screen_stack) > index + 1:
                    self.pop_screen()
                return
        self.push_screen(screen_type(*args))

    def action_help(self) -> None:
        """F1: every key of the current screen (the footer may have no room for all)."""
        from fieldkit.tui.screens.help import HelpScreen, screen_keys

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        from fieldkit.tui.widgets.status import StatusBar

        bars = self.screen.query(StatusBar)
        heading = bars.first().heading if bars else ""
        self.push_screen(HelpScreen(screen_keys(self, self.screen), heading))

    def notify(self, message: str, *args: Any, markup: bool = False, **kwargs: Any) -> None:
        """As App.notify, but the message is plain text unless ``markup=True``: messages
        carry data ([keymap], codes in brackets) that must be shown as typed."""
        super().notify(message, *args, markup=markup, **kwargs)

    def on_input_changed(self, event: Any) -> None:
        """Typing always happens where the user can see it: the input is scrolled into view."""
        if event.input.has_focus:  # not a value set by the program
            event.input.scroll_visible(animate=False)

    def action_home(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()

    def action_lookup(self) -> None:
        from fieldkit.tui.screens.lookup import LookupScreen

        # A screen may suggest what to look up (the runner: the fault entry its finding names).
        suggest = getattr(self.screen, "lookup_query", None)
        query = suggest() if callable(suggest) else ""
        if query and not isinstance(self.screen, LookupScreen):
            self.push_screen(LookupScreen(query))
            return
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

    def prebuild_device_screen(self) -> None:
        """Build F6's screen now, while the technician reads the work orders (the home
        screen calls this once its worker has imported the device package): it is composed
        and mounted but not shown, so F6 only has to show it (and list the ports). It is
        kept (installed) while the settings and the language stay: F6 shows the same
        screen again, with the port typed and the last reading."""
        if self._device_screen is not None or not self.is_running:
            return
        try:
            from fieldkit.tui.screens.device import DeviceScreen  # type: ignore[import-not-found]
        except ImportError:
            return
        self.warm_up()  # its styles first, so that F6 does not parse the stylesheet again
        port = self.loaded_settings.serial_port if self.loaded_settings else None
        screen = DeviceScreen(port)
        self._device_screen = screen
        name = f"device-{id(screen)}"
        self.install_screen(screen, name)
        self._get_screen(name)  # registered: composed and mounted, not shown

    async def _drop_device_screen(self) -> None:
        """Forget the kept device screen (another language, other settings); if it is open
        now, once it is closed (the next F6 builds a new one)."""
        kept = self._device_screen
        if kept is None:
            return
        if kept in self.screen_stack:
            self._device_stale = True
            return
        self._device_screen, self._device_stale = None, False
        self.uninstall_screen(kept)
        if kept.is_mounted:
            await kept.remove()

    def action_device(self) -> None:
        try:
            from fieldkit.tui.screens.device import DeviceScreen  # type: ignore[import-not-found]
        except ImportError:
            self.notify(_("The device screen is not installed in this build."), severity="warning")
            return
        port = self.loaded_settings.serial_port if self.loaded_settings else None
        kept = self._device_screen
        if kept is None and not any(isinstance(s, DeviceScreen) for s in self.screen_stack):
            # F6 before the home worker had it built ahead: built now, and kept as that
            # one would have been (not built a second time when the worker gets there)
            self.prebuild_device_screen()
            kept = self._device_screen
        if kept is not None and kept not in self.screen_stack:
            if not self._device_stale and getattr(kept, "port_setting", None) == port:
                self.push_screen(kept)
                return
            self.call_later(self._drop_device_screen)  # the settings changed since
        self._open(DeviceScreen, port)

    def on_device_screen_reading_taken(self, message: Any) -> None:
        """A meter or card was read: keep it with the visit open beneath, if any."""
        visit = next((s for s in reversed(self.screen_stack) if hasattr(s, "visit_id")), None)
        if visit is None:
            return
        reading = message.reading
        data = dict(reading.data)
        diagnosis = data.get("diagnosis")
        if isinstance(diagnosis, dict):
            diagnosis = [diagnosis]
        domain = reading.reading
        raw = getattr(domain, "raw", None)
        if raw is None:  # a meter: what it answered, frame after frame
            raw = b"".join(e.reply for e in getattr(domain, "exchanges", []))
        # the port this reading was taken on (a card reader is not on the meter's port)
        port = (
            getattr(reading, "port", None)
            or getattr(domain, "port", None)
            or (self.loaded_settings.serial_port if self.loaded_settings else None)
        )
        repo = self.services.repository()
        try:
            repo.attach_device_reading(
                visit.visit_id,
                kind=reading.kind,
                raw=raw,
                decoded=data,
                diagnosis=diagnosis if isinstance(diagnosis, list) else [],
                port=port,
            )
            volume = data.get("current_volume") if reading.kind == "meter" else None
            if isinstance(volume, int | float):  # the meter's own reading is the 表底数
                repo.update_meter(visit.visit_id, meter_reading=float(volume))
        except Exception as exc:
            self.notify(_("Reading not attached: {error}").format(error=exc), severity="error")
            return
        self.notify(_("Reading attached to the visit."))

    # -- language ------------------------------------------------------------------------

    def apply_settings(self, settings: Settings) -> None:
        """Use new settings now: language, keymap; screens are rebuilt in the new language."""
        old = self._settings
        if old is not None and settings.resolved_db_url() != old.resolved_db_url():
            self.services.close()  # the next screen opens the database in the new folder
        self._settings = settings
        self._settings_applied = True
        self.call_later(self._drop_device_screen)  # rebuilt with the new settings
        self.set_keymap(dict(settings.keymap))
        if settings.language != self.language:
            self._switch_language(settings.language)
        self.refresh_bindings()

    def _switch_language(self, language: str) -> None:
        from fieldkit.tui.screens.home import HomeScreen

        self.language = language
        i18n.set_language(language)
        self.call_later(self._drop_device_screen)  # its texts are in the old language
        translate_bindings(self)
        self.title = _("fieldkit - gas field toolkit")
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.push_screen(HomeScreen())
        self.refresh_bindings()
