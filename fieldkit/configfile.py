"""The config file and environment, read without pydantic (for the first screen and --help).

:mod:`fieldkit.config` is the settings loader; this module holds what it shares with the
start-up paths that must stay light: reading ``config.toml`` (tomllib) and the language
to draw the first screen or the help in, before the full settings are validated.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from fieldkit import paths
from fieldkit.i18n import LANGUAGES, _

ENV_PREFIX = "FIELDKIT_"
# Short environment names kept for compatibility: name → field.
ENV_ALIASES = {"FIELDKIT_LANG": "language", "FIELDKIT_TECHNICIAN": "technician_id"}


class ConfigError(Exception):
    """The config file, an environment variable or an option holds a value fieldkit cannot use."""


def read_config_file(path: Path) -> dict[str, Any]:
    """The values written in one config file ({} when there is none).

    Raises :class:`ConfigError` naming the file, line and column for broken TOML.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError:
        raise ConfigError(_("{path}: not UTF-8 text").format(path=path)) from None
    except OSError as exc:
        raise ConfigError(
            _("{path}: cannot be read ({error})").format(path=path, error=exc.strerror or exc)
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+), column (\d+)", str(exc))
        where: tuple[int | str, int | str] | None = None
        if found is not None:
            where = (found.group(1), found.group(2))
        elif "end of document" in str(exc):  # something left open at the end
            lines = text.splitlines() or [""]
            where = (len(lines), len(lines[-1]) + 1)
        if where is not None:
            message = _("{path}, line {line}, column {column}: not valid TOML").format(
                path=path, line=where[0], column=where[1]
            )
        else:
            message = _("{path}: not valid TOML").format(path=path)
        raise ConfigError(message) from None


def peek_language(default: str = "zh") -> str:
    """The language the settings will most likely say, without validating them.

    Same order as :func:`fieldkit.config.load_settings` (environment over the file); any
    problem falls back to ``default`` — the full load reports it properly afterwards.
    """
    for name in ("FIELDKIT_LANGUAGE", "FIELDKIT_LANG"):
        value = os.environ.get(name)
        if value:
            return value if value in LANGUAGES else default
    try:
        value = read_config_file(paths.config_file()).get("language")
    except ConfigError:
        return default
    return value if isinstance(value, str) and value in LANGUAGES else default
