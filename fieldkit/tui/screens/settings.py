"""Settings: language, technician, data folder, sync server, device token. Saved to config.toml.

The device token (``fk_…``, about 55 characters, given once by the back office) is never
typed by hand: paste it into the masked field, or read it from a file, e.g. the one the
admin wrote to a USB stick with ``fieldkit admin add-technician … > token.txt``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Button, Label, Select, Static

from fieldkit.i18n import _
from fieldkit.tui.screens.base import FieldkitScreen
from fieldkit.tui.widgets.footer import FieldFooter
from fieldkit.tui.widgets.inputs import FieldInput
from fieldkit.tui.widgets.status import StatusBar

if TYPE_CHECKING:
    from pydantic import ValidationError

TOKEN_PATTERN = re.compile(r"fk_[0-9a-f]{8}_[A-Za-z0-9_-]{20,}")
"""A device token as the back office issues it (fieldkit.sync.server.auth.issue_token)."""
MAX_TOKEN_FILE = 64 * 1024


class TokenFileError(ValueError):
    """The token file cannot be used; the message says why (in the user's language)."""


def token_from_file(path: Path) -> str:
    """The device token written in ``path`` (found among other text, e.g. the whole output
    of ``fieldkit admin add-technician``); a file holding only one word is taken as is."""
    try:
        if not path.is_file():
            raise TokenFileError(_("No such file: {path}").format(path=path))
        if path.stat().st_size > MAX_TOKEN_FILE:
            raise TokenFileError(_("{path} is too large to be a token file.").format(path=path))
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise TokenFileError(
            _("Cannot read {path}: {error}").format(path=path, error=exc.strerror or exc)
        ) from exc
    found = TOKEN_PATTERN.findall(text)
    if len(set(found)) == 1:
        return found[0]
    if len(set(found)) > 1:
        raise TokenFileError(
            _("{path} holds several tokens; keep only yours in the file.").format(path=path)
        )
    words = text.split()
    if len(words) == 1 and 16 <= len(words[0]) <= 200 and words[0].isprintable():
        return words[0]
    raise TokenFileError(_("No device token found in {path}.").format(path=path))


class SettingsScreen(FieldkitScreen):
    """Ctrl+S saves and applies at once (a new language rebuilds the screens)."""

    CSS_PATH = "settings.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="settings.save"),
        Binding("ctrl+o", "read_token", "Token from file", id="settings.token_file"),
        Binding("ctrl+t", "toggle_token", "Show token", id="settings.show_token"),
        Binding("f1", "app.help", "Help", id="app.help"),
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
        # Above the form, so a problem or "saved" is seen whatever the form is scrolled to.
        yield Static(
            _("The settings file cannot be read, so it will not be changed here: {error}").format(
                error=self._broken
            )
            if self._broken
            else "",
            id="settings-message",
            classes="error-text" if self._broken else "",
            markup=False,
        )
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
            yield Label(_("Device token (from the back office)"))
            yield FieldInput(settings.token or "", password=True, id="token")
            yield Static(
                _(
                    "Paste the token (Ctrl+V or the terminal's paste), or read it from a "
                    "file, e.g. on a USB stick: type the file's path and press Ctrl+O."
                ),
                classes="hint",
                markup=False,
            )
            yield Label(_("Token file"))
            yield FieldInput(
                placeholder=_("e.g. /media/usb/token.txt or E:\\token.txt"), id="token-file"
            )
            yield Button(_("Read token from file"), id="read-token", compact=True)
            yield Static(
                _(
                    "Keys can be remapped in config.toml under [keymap], e.g. "
                    '"app.sync" = "f8". Binding ids are listed in docs/tui.md.'
                ),
                classes="hint",
                markup=False,
            )
        yield FieldFooter()

    def on_mount(self) -> None:
        self.query_one("#technician-id", FieldInput).focus()

    def action_save(self) -> None:
        from pydantic import ValidationError

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
            "token": value("#token"),
        }
        message = self.query_one("#settings-message", Static)
        try:
            # What runs now: the current settings (with any --db/--lang given) plus the form.
            updated = Settings.model_validate({**self.fk_app.settings.model_dump(), **edited})
            # What is written: the file's own values plus the form, so options given on the
            # command line for this session are not made permanent.
            on_file = Settings.model_validate({**_file_values(self.fk_app.config_path), **edited})
            path = save_settings(on_file, self.fk_app.config_path)
        except ValidationError as exc:
            message.set_classes("error-text")
            message.update(_("Not saved: {error}").format(error=_form_problems(exc)))
            return
        except (ConfigError, ValueError, OSError) as exc:
            message.set_classes("error-text")
            message.update(_("Not saved: {error}").format(error=exc))
            return
        message.set_classes("saved")
        message.update(_("Saved to {path}").format(path=path))
        self.fk_app.apply_settings(updated)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "read-token":
            event.stop()
            self.action_read_token()

    def action_read_token(self) -> None:
        """Fill the token field from the file named in the token-file field."""
        message = self.query_one("#settings-message", Static)
        raw = self.query_one("#token-file", FieldInput).value.strip().strip('"')
        if not raw:
            message.set_classes("error-text")
            message.update(_("Type the path of the token file first."))
            self.query_one("#token-file", FieldInput).focus()
            return
        try:
            token = token_from_file(Path(raw).expanduser())
        except TokenFileError as exc:
            message.set_classes("error-text")
            message.update(str(exc))
            return
        self.query_one("#token", FieldInput).value = token
        message.set_classes("saved")
        message.update(_("Token read from the file. Press Ctrl+S to save it."))

    def action_toggle_token(self) -> None:
        field = self.query_one("#token", FieldInput)
        field.password = not field.password


def _file_values(config_path: Path | None) -> dict[str, Any]:
    """The settings written in the config file (no environment, no command line)."""
    from fieldkit.config import file_settings

    return file_settings(config_path)


def _form_problems(exc: ValidationError) -> str:
    """A settings validation error as the form's own words: "<label>: <problem>"."""
    from fieldkit.errortext import describe_error

    labels = {
        "language": _("Language"),
        "technician_id": _("Technician id"),
        "technician_name": _("Technician name"),
        "data_dir": _("Data folder (empty: the default)"),
        "server_url": _("Sync server address"),
        "token": _("Device token (from the back office)"),
    }
    lines = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        lines.append(f"{labels.get(field, field)}: {describe_error(err)}")
    return "; ".join(lines)
