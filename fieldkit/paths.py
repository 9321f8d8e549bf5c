"""Where fieldkit finds its shipped data and keeps the user's files.

All paths are :class:`pathlib.Path`; platform directories come from platformdirs
(``%LOCALAPPDATA%\\fieldkit`` on Windows, ``~/.local/share/fieldkit`` on Linux).
``FIELDKIT_HOME`` relocates every per-user directory at once (tests, portable installs).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

APP_NAME = "fieldkit"


def shipped_data_dir() -> Path:
    """The ``data/`` folder shipped with the package (the top-level ``data/`` in a checkout)."""
    return Path(str(resources.files("fieldkit.data")))


def extra_data_dirs() -> list[Path]:
    """Folders from ``FIELDKIT_DATA`` (``os.pathsep``-separated) that add or override tables."""
    raw = os.environ.get("FIELDKIT_DATA", "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip()]


def data_dirs(extra_dirs: list[Path] | None = None) -> list[Path]:
    """The shipped data folder, then ``extra_dirs`` (default: the ``FIELDKIT_DATA`` folders).

    Loaders read them in this order, so a utility's tables add to or override ours.
    """
    return [shipped_data_dir(), *(extra_data_dirs() if extra_dirs is None else extra_dirs)]


def _home_override() -> Path | None:
    raw = os.environ.get("FIELDKIT_HOME")
    return Path(raw).expanduser() if raw else None


def user_data_dir() -> Path:
    """Per-user data directory (visit database, logs). Created on first use by callers."""
    home = _home_override()
    if home is not None:
        return home / "data"
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def user_config_dir() -> Path:
    home = _home_override()
    if home is not None:
        return home / "config"
    from platformdirs import user_config_path

    return user_config_path(APP_NAME, appauthor=False)


def config_file() -> Path:
    raw = os.environ.get("FIELDKIT_CONFIG")
    return Path(raw).expanduser() if raw else user_config_dir() / "config.toml"
