"""One settings model for the TUI, the CLI and the sync client.

Layers, later wins: defaults → ``config.toml`` in the user config dir (or ``FIELDKIT_CONFIG``)
→ environment variables ``FIELDKIT_<FIELD>`` (e.g. ``FIELDKIT_LANGUAGE=en``,
``FIELDKIT_DB_URL=…``) → explicit overrides from the command line.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fieldkit import paths

Language = Literal["zh", "en"]


class ConfigError(Exception):
    """The config file or an environment variable holds a value fieldkit cannot use."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    language: Language = "zh"
    technician_id: str | None = Field(default=None, description="工号 / technician id")
    technician_name: str | None = None
    data_dir: Path | None = Field(default=None, description="overrides the platform data dir")
    db_url: str | None = Field(default=None, description="overrides the local SQLite database")
    server_url: str | None = Field(default=None, description="back-office sync server")
    token: str | None = Field(default=None, description="device token from the back office")
    insecure: bool = Field(default=False, description="skip TLS verification (never default)")
    ca_bundle: Path | None = None
    serial_port: str | None = None
    keymap: dict[str, str] = Field(default_factory=dict, description="binding id → keys")

    def resolved_data_dir(self) -> Path:
        return self.data_dir if self.data_dir is not None else paths.user_data_dir()

    def resolved_db_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.resolved_data_dir() / 'fieldkit.db').as_posix()}"


_ENV_PREFIX = "FIELDKIT_"
# Environment variables that are not settings (they configure paths or data, see paths.py).
_NOT_SETTINGS = {"FIELDKIT_HOME", "FIELDKIT_CONFIG", "FIELDKIT_DATA"}
# Friendly aliases.
_ENV_ALIASES = {"FIELDKIT_LANG": "language", "FIELDKIT_TECHNICIAN": "technician_id"}


def _env_values() -> dict[str, Any]:
    values: dict[str, Any] = {}
    fields = Settings.model_fields
    for name, raw in os.environ.items():
        if not name.startswith(_ENV_PREFIX) or name in _NOT_SETTINGS:
            continue
        field = _ENV_ALIASES.get(name) or name[len(_ENV_PREFIX) :].lower()
        if field in fields and field != "keymap":
            values[field] = raw
    return values


def load_settings(config_path: Path | None = None, **overrides: Any) -> Settings:
    """Load settings; raises :class:`ConfigError` naming the file and field on bad values."""
    path = config_path or paths.config_file()
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    data.update(_env_values())
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from exc


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value.as_posix() if isinstance(value, Path) else value)
    # A JSON string is a valid TOML basic string: quotes, backslashes and control
    # characters (a newline pasted into a name) are escaped the same way in both.
    return json.dumps(text, ensure_ascii=False)


def save_settings(settings: Settings, config_path: Path | None = None) -> Path:
    """Write the settings file atomically (temp file + replace); returns its path."""
    path = config_path or paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    keymap = {}
    for name, value in settings.model_dump(exclude_defaults=True).items():
        if name == "keymap":
            keymap = value
            continue
        lines.append(f"{name} = {_toml_value(value)}")
    if keymap:
        lines.append("")
        lines.append("[keymap]")
        lines.extend(f"{_toml_value(k)} = {_toml_value(v)}" for k, v in sorted(keymap.items()))
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
        handle.flush()
        os.fsync(handle.fileno())  # on disk before it replaces the old file (power loss)
    os.replace(tmp, path)
    return path
