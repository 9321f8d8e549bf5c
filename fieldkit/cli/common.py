"""Options and output helpers shared by every subcommand."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from fieldkit import i18n

F = TypeVar("F", bound=Callable[..., Any])


def _set_lang(ctx: click.Context, _param: click.Parameter, value: str | None) -> str:
    """The command's language: --lang, else ``fieldkit --lang``, else the settings.

    The settings are loaded with the one loader (config file → FIELDKIT_* → options), so a
    bad ``FIELDKIT_LANGUAGE`` or a broken config.toml is an error naming its source here too.
    """
    from fieldkit.config import ConfigError, load_settings

    if value is None:
        value = ctx.find_root().params.get("lang")
    try:
        settings = load_settings(language=value)
    except ConfigError as exc:
        if value is not None:
            i18n.set_language(value)
        fail(i18n.gettext("Error: {error}").format(error=exc), code=2)
    i18n.set_language(settings.language)
    ctx.meta["fieldkit.settings"] = settings
    return settings.language


def lang_option(func: F) -> F:
    """``--lang zh|en`` (default: the ``language`` setting); sets the process language."""
    return click.option(
        "--lang",
        type=click.Choice(sorted(i18n.LANGUAGES)),
        default=None,
        callback=_set_lang,
        is_eager=True,
        expose_value=True,
        help="Output language: zh or en (default: the 'language' setting).",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output.")(
        func
    )


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error on stderr and exit with ``code`` (never a traceback)."""
    click.echo(message, err=True)
    sys.exit(code)


def database_url(value: str | None) -> str | None:
    """A ``--db`` value as a database URL: a plain file path becomes ``sqlite:///…``."""
    if value is None or "://" in value:
        return value
    from pathlib import Path

    return f"sqlite:///{Path(value).expanduser().resolve().as_posix()}"
