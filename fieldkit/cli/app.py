"""``fieldkit tui`` (and plain ``fieldkit``): open the technician's TUI.

The work is in :mod:`fieldkit.cli.launch` (free of click, for plain ``fieldkit``).
"""

from __future__ import annotations

import click

from fieldkit.cli.common import database_url, fail
from fieldkit.cli.launch import LaunchError, first_language, first_look, run_tui

__all__ = ["first_language", "first_look", "tui"]


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
    try:
        run_tui(lang, database_url(db_url), demo=demo, create_db=create_db)
    except LaunchError as exc:
        fail(str(exc), code=1)
