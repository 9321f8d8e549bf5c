"""Settings: language, technician, data folder, sync server. Saved to config.toml."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Label, Select, Static

from fieldkit.i18n import _
from fieldkit.tui.screens.base import FieldkitScreen
from fieldkit.tui.widgets.inputs import FieldInput
from fieldkit.tui.widgets.status import StatusBar


class SettingsScreen(FieldkitScreen):
    """Ctrl+S saves and applies at once (a new language rebuilds the screens)."""

    CSS_PATH = "settings.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="settings.save"),
        Binding("escape", "app.pop_screen", "Back", id="settings.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._broken: str | None = None

    def compose(self) -> ComposeResult:
        from fieldkit.config import ConfigError, Settings

        try:
            settings = self.fk_app.settings
        except ConfigError as exc:
            # Never overwrite a settings file we could not read: it may hold more than the
            # form shows. Fix the file (the message names it and the field) first.
            self._broken = str(exc)
            settings = Settings()
        yield StatusBar(_("Settings"))
        with VerticalScroll(id="settings-form"):
            yield Label(_("Language"))
            yield Select(
                [("中文", "zh"), ("English", "en")],
                value=settings.language,
                allow_blank=False,
                id="language",
            )
            yield Label(_("Technician id"))
            yield FieldInput(settings.technician_id or "", id="technician-id")
            yield Label(_("Technician name"))
            yield FieldInput(settings.technician_name or "", id="technician-name")
            yield Label(_("Data folder (empty: the default)"))
            yield FieldInput(
                str(settings.data_dir) if settings.data_dir else "",
                placeholder=str(settings.resolved_data_dir()),
                id="data-dir",
            )
            yield Label(_("Sync server address"))
            yield FieldInput(settings.server_url or "", id="server-url")
            yield Static(
                _(
                    "Keys can be remapped in config.toml under [keymap], e.g. "
                    '"app.sync" = "f8". Binding ids are listed in docs/tui.md.'
                ),
                classes="hint",
            )
            yield Static(
                _(
                    "The settings file cannot be read, so it will not be changed here: {error}"
                ).format(error=self._broken)
                if self._broken
                else "",
                id="settings-message",
                classes="error-text" if self._broken else "",
            )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#technician-id", FieldInput).focus()

    def action_save(self) -> None:
        from fieldkit.config import ConfigError, Settings, save_settings

        if self._broken:
            return

        def value(selector: str) -> str | None:
            return self.query_one(selector, FieldInput).value.strip() or None

        data_dir = value("#data-dir")
        edited = {
            "language": self.query_one("#language", Select).value,
            "technician_id": value("#technician-id"),
            "technician_name": value("#technician-name"),
            "data_dir": Path(data_dir).expanduser() if data_dir else None,
            "server_url": value("#server-url"),
        }
        message = self.query_one("#settings-message", Static)
        try:
            # What runs now: the current settings (with any --db/--lang given) plus the form.
            updated = Settings.model_validate({**self.fk_app.settings.model_dump(), **edited})
            # What is written: the file's own values plus the form, so options given on the
            # command line for this session are not made permanent.
            on_file = Settings.model_validate({**_file_values(self.fk_app.config_path), **edited})
            path = save_settings(on_file, self.fk_app.config_path)
        except (ConfigError, ValueError, OSError) as exc:
            message.set_classes("error-text")
            message.update(_("Not saved: {error}").format(error=exc))
            return
        message.set_classes("saved")
        message.update(_("Saved to {path}").format(path=path))
        self.fk_app.apply_settings(updated)


def _file_values(config_path: Path | None) -> dict[str, Any]:
    """The settings written in the config file (no environment, no command line)."""
    from fieldkit.config import file_settings

    return file_settings(config_path)
