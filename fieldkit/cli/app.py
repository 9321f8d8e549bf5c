"""``fieldkit tui`` (and plain ``fieldkit``): open the technician's TUI.

Textual is imported only inside the command, so the rest of the CLI stays light.
"""

from __future__ import annotations

import click

from fieldkit.cli.common import fail


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
def tui(lang: str | None, db_url: str | None, demo: bool) -> None:
    """Open the technician's TUI (the default when fieldkit runs without a command)."""
    from fieldkit.config import ConfigError, load_settings

    try:
        settings = load_settings(language=lang, db_url=db_url)
    except ConfigError as exc:
        fail(str(exc), code=2)
        return
    from fieldkit import i18n

    i18n.set_language(settings.language)

    demo_session = None
    if demo:
        from fieldkit.tui.demo import DemoError, start_demo

        try:
            demo_session = start_demo(settings)
        except DemoError as exc:
            fail(str(exc), code=1)
            return
        settings = demo_session.settings

    from fieldkit.tui.app import FieldkitApp

    try:
        notices = demo_session.notes if demo_session is not None else []
        FieldkitApp(settings, notices=notices).run()
    finally:
        if demo_session is not None:
            demo_session.stop()
