"""``fieldkit tui`` (and plain ``fieldkit``): open the technician's TUI.

Textual is imported only inside the command, so the rest of the CLI stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from fieldkit.cli.common import database_url, fail

if TYPE_CHECKING:
    from fieldkit.config import Settings


@click.command(name="tui")
@click.option(
    "--lang",
    type=click.Choice(["zh", "en"]),
    default=None,
    help="Interface language (zh default; also the 'language' setting).",
)
@click.option("--db", "db_url", default=None, help="Visit database URL (default: the data dir).")
@click.option(
    "--demo",
    is_flag=True,
    help="Start the meter and card-reader emulators and add demo work orders.",
)
@click.option(
    "--create-db",
    is_flag=True,
    help="Create the --db database if it does not exist yet.",
)
def tui(lang: str | None, db_url: str | None, demo: bool, create_db: bool = False) -> None:
    """Open the technician's TUI (the default when fieldkit runs without a command)."""
    from fieldkit import i18n

    language = lang or first_language()
    i18n.set_language(language)
    db_url = database_url(db_url)
    if db_url is not None and not (demo or create_db):
        _refuse_a_missing_database(db_url)

    def settings_loader() -> Settings:
        from fieldkit.config import load_settings

        return load_settings(language=lang, db_url=db_url)

    settings: Settings | None = None
    notices: list[str] = []
    demo_session = None
    if demo:
        from fieldkit.config import ConfigError
        from fieldkit.tui.demo import DemoError, start_demo

        try:
            demo_session = start_demo(settings_loader())
        except (ConfigError, DemoError) as exc:
            fail(str(exc), code=1)
            return
        settings = demo_session.settings
        notices = demo_session.notes

    from fieldkit.tui.app import FieldkitApp

    # Without --demo the settings file is read after the first paint (pydantic is the
    # slowest import of the start-up); a broken file is reported on the home screen.
    app = FieldkitApp(settings, settings_loader=settings_loader, language=language, notices=notices)
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
        fail(_("Error: {error}").format(error=exc), code=1)
    if missing is not None:
        message = _(
            "There is no visit database at {path}; check the path. Nothing was created."
        ).format(path=missing)
        fail(
            _("Error: {error}").format(error=message)
            + " "
            + _("To start a new one there, add --create-db."),
            code=1,
        )


def first_language() -> str:
    """The language to draw the first screen in, before the settings are loaded.

    Same order as :func:`fieldkit.config.load_settings` (environment over the config file);
    if the full settings say otherwise once loaded, the TUI switches to their language.
    """
    from fieldkit.configfile import peek_language

    return peek_language()
