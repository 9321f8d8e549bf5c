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
    if value is None:
        import os

        value = os.environ.get("FIELDKIT_LANG") or os.environ.get("FIELDKIT_LANGUAGE") or "zh"
        if value not in i18n.LANGUAGES:
            value = "zh"
    i18n.set_language(value)
    return value


def lang_option(func: F) -> F:
    """``--lang zh|en`` (default zh, or FIELDKIT_LANG); sets the process language."""
    return click.option(
        "--lang",
        type=click.Choice(sorted(i18n.LANGUAGES)),
        default=None,
        callback=_set_lang,
        is_eager=True,
        expose_value=True,
        help="Output language (zh default, or FIELDKIT_LANG).",
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
