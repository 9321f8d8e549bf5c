"""Open the technician's TUI: what ``fieldkit tui`` and plain ``fieldkit`` run.

Free of click, so plain ``fieldkit`` (no arguments, :func:`fieldkit.cli.main`) opens the
TUI without importing it; Textual is imported only here, so the rest of the CLI stays light.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fieldkit.config import Settings


class LaunchError(Exception):
    """The TUI cannot be opened; the message (in the user's language) says why."""


def run_plain_tui() -> int:
    """Plain ``fieldkit``: the TUI with the settings' language and database; the exit code.
    A problem is one message on stderr and exit code 1, as through click."""
    try:
        run_tui(None, None, demo=False, create_db=False)
    except LaunchError as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 1
    return 0


def run_tui(lang: str | None, db_url: str | None, *, demo: bool, create_db: bool) -> None:
    """Open the TUI (``db_url`` already a URL); :class:`LaunchError` when it cannot be."""
    from fieldkit import i18n

    look = first_look(lang, db_url)
    language = look["language"] or "zh"
    i18n.set_language(language)
    if db_url is not None and not (demo or create_db):
        _refuse_a_missing_database(db_url)

    def settings_loader() -> Settings:
        from fieldkit.config import load_settings

        return load_settings(language=lang, db_url=db_url)

    settings: Settings | None = None
    notices: list[str] = []
    banner = ""
    demo_session = None
    if demo:
        from fieldkit.config import ConfigError
        from fieldkit.tui.demo import DemoError, start_demo

        try:
            demo_session = start_demo(settings_loader())
        except (ConfigError, DemoError) as exc:
            raise LaunchError(str(exc)) from exc
        settings = demo_session.settings
        notices = demo_session.notes
        banner = demo_session.banner

    from fieldkit.tui.app import FieldkitApp

    # Without --demo the settings file is read after the first paint (pydantic is the
    # slowest import of the start-up); a broken file is reported on the home screen.
    app = FieldkitApp(
        settings,
        settings_loader=settings_loader,
        language=language,
        notices=notices,
        banner=banner,
        first_look=(look["db_url"], look["technician_id"]) if settings is None else None,
    )
    try:
        app.run()
    finally:
        if demo_session is not None:
            demo_session.stop()


def _refuse_a_missing_database(db_url: str) -> None:
    """A mistyped --db must not become a new, empty database (the demo and --create-db may)."""
    from fieldkit.i18n import _
    from fieldkit.records.db import DatabaseError, missing_database

    try:
        missing = missing_database(db_url)
    except (DatabaseError, ValueError) as exc:
        raise LaunchError(_("Error: {error}").format(error=exc)) from exc
    if missing is not None:
        message = _(
            "There is no visit database at {path}; check the path. Nothing was created."
        ).format(path=missing)
        raise LaunchError(
            _("Error: {error}").format(error=message)
            + " "
            + _("To start a new one there, add --create-db.")
        )


def first_language() -> str:
    """The language to draw the first screen in, before the settings are loaded."""
    return first_look()["language"] or "zh"


def first_look(lang: str | None = None, db_url: str | None = None) -> dict[str, str | None]:
    """What the first screen needs before the settings are loaded (pydantic is the slowest
    import of the start-up): its language, and for a first glance at the visit database
    (fieldkit.records.glance) the database URL and the technician id.

    Same layers as :func:`fieldkit.config.load_settings` (file, then environment, then
    the command line) but nothing is validated: once the settings are loaded they win, and
    a broken file is reported then.
    """
    import os

    from fieldkit import paths

    data: dict[str, object] = {}
    try:
        import tomllib

        data = tomllib.loads(paths.config_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}

    def pick(field: str, *variables: str) -> str | None:
        for name in variables:
            if os.environ.get(name):
                return os.environ[name]
        value = data.get(field)
        return value if isinstance(value, str) and value else None

    language = lang or pick("language", "FIELDKIT_LANGUAGE", "FIELDKIT_LANG")
    url = db_url or pick("db_url", "FIELDKIT_DB_URL")
    if url is None:
        folder = pick("data_dir", "FIELDKIT_DATA_DIR")
        base = Path(folder).expanduser() if folder else paths.user_data_dir()
        url = f"sqlite:///{(base / 'fieldkit.db').as_posix()}"
    return {
        "language": language if language in ("zh", "en") else None,
        "db_url": url,
        "technician_id": pick("technician_id", "FIELDKIT_TECHNICIAN", "FIELDKIT_TECHNICIAN_ID"),
    }
