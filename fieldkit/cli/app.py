"""``fieldkit tui`` (and plain ``fieldkit``): open the technician's TUI.

Textual is imported only inside the command, so the rest of the CLI stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from fieldkit.cli.common import fail

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
def tui(lang: str | None, db_url: str | None, demo: bool) -> None:
    """Open the technician's TUI (the default when fieldkit runs without a command)."""
    from fieldkit import i18n

    language = lang or first_language()
    i18n.set_language(language)

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
            fail(str(exc), code=1)
            return
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
    )
    try:
        app.run()
    finally:
        if demo_session is not None:
            demo_session.stop()


def first_language() -> str:
    """The language to draw the first screen in, before the settings are loaded.

    Same order as :func:`fieldkit.config.load_settings` (environment over the config file);
    if the full settings say otherwise once loaded, the TUI switches to their language.
    """
    import os

    for name in ("FIELDKIT_LANGUAGE", "FIELDKIT_LANG"):
        value = os.environ.get(name)
        if value in ("zh", "en"):
            return value
    from fieldkit import paths

    try:
        text = paths.config_file().read_text(encoding="utf-8")
    except (OSError, ValueError):
        return "zh"
    import tomllib

    try:
        data = tomllib.loads(text)
    except ValueError:
        return "zh"
    value = data.get("language")
    return value if value in ("zh", "en") else "zh"
