"""One settings loader for the TUI, the CLI and the sync client/server (pydantic-settings).

Layers, later wins: defaults → ``config.toml`` in the user config dir (or ``FIELDKIT_CONFIG``)
→ environment variables ``FIELDKIT_<FIELD>`` (e.g. ``FIELDKIT_LANGUAGE=en``,
``FIELDKIT_DB_URL=…``; ``FIELDKIT_LANG`` and ``FIELDKIT_TECHNICIAN`` are short aliases)
→ explicit overrides from the command line (keyword arguments of :func:`load_settings`).

A bad value is one :class:`ConfigError` naming where it came from: the environment
variable, the file and line, or the command-line option. The file is written with tomlkit,
so a user's comments and layout survive :func:`save_settings`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from fieldkit import paths
from fieldkit.configfile import ENV_ALIASES, ENV_PREFIX, ConfigError, read_config_file
from fieldkit.errortext import describe_error
from fieldkit.i18n import _

__all__ = [
    "ConfigError",
    "Language",
    "Settings",
    "check_server_url",
    "file_settings",
    "load_settings",
    "read_config_file",
    "save_settings",
]

Language = Literal["zh", "en"]


# The file the current load reads (set by load_settings for the sources below).
_config_file: ContextVar[Path | None] = ContextVar("fieldkit_config_file", default=None)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        validate_assignment=True,
        case_sensitive=False,
    )

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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Flags → FIELDKIT_* → short aliases → config.toml (first wins). No .env, no secrets dir.
        return (
            init_settings,
            _EnvSource(settings_cls),
            _AliasEnvSource(settings_cls),
            _FileSource(settings_cls),
        )

    @field_validator("server_url")
    @classmethod
    def _server_url_is_an_address(cls, value: str | None) -> str | None:
        """A URL the sync client can use, checked where it is set (settings form, file,
        environment, option), not only when a sync starts."""
        if value is None:
            return None
        value = value.strip()
        if not value:
            return None
        return check_server_url(value)

    def resolved_data_dir(self) -> Path:
        return self.data_dir if self.data_dir is not None else paths.user_data_dir()

    def resolved_db_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.resolved_data_dir() / 'fieldkit.db').as_posix()}"

    def is_default_db(self) -> bool:
        """True when the database is the one in the user data dir (created on first run)."""
        return not self.db_url


def check_server_url(url: str) -> str:
    """``url`` if it is an http(s) address with a host and a port in 1-65535; else a
    ValueError whose message (in the user's language) says what is wrong."""
    from urllib.parse import urlsplit

    bad_port = _("the port must be a number from 1 to 65535 (e.g. https://host:8443)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(bad_port) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(_("must start with http:// or https:// followed by the server's address"))
    if port == 0:
        raise ValueError(bad_port)
    if any(ch.isspace() for ch in url):
        raise ValueError(_("must not contain spaces"))
    return url


class _EnvSource(EnvSettingsSource):
    """``FIELDKIT_<FIELD>``; the keymap is a table in the file only."""

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in super().__call__().items() if k != "keymap"}


class _AliasEnvSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # pragma: no cover - __call__ does the work

    def __call__(self) -> dict[str, Any]:
        return {
            field: os.environ[name]
            for name, field in ENV_ALIASES.items()
            if os.environ.get(name) not in (None, "")
        }


class _FileSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # pragma: no cover - __call__ does the work

    def __call__(self) -> dict[str, Any]:
        path = _config_file.get()
        return read_config_file(path) if path is not None else {}


def _file_line(path: Path, field: str) -> int | None:
    """The line where ``field`` is set in the file (for error messages), if found."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    pattern = re.compile(
        rf"^\s*[\"']?{re.escape(field)}[\"']?\s*=|^\s*\[\s*{re.escape(field)}\s*\]"
    )
    for number, line in enumerate(lines, start=1):
        if pattern.match(line):
            return number
    return None


def _env_name(field: str) -> str | None:
    """The environment variable that set ``field`` in this process, if one did."""
    name = ENV_PREFIX + field.upper()
    if field != "keymap" and os.environ.get(name) not in (None, ""):
        return name
    for alias, target in ENV_ALIASES.items():
        if target == field and os.environ.get(alias) not in (None, ""):
            return alias
    return None


def _source_of(field: str, path: Path, overrides: Mapping[str, Any]) -> str:
    if field in overrides:
        return _("command-line option for '{field}'").format(field=field)
    env = _env_name(field)
    if env is not None:
        return _("environment variable {name}={value}").format(
            name=env, value=os.environ.get(env, "")
        )
    line = _file_line(path, field)
    if line is not None:
        return _("{path}, line {line}").format(path=path, line=line)
    return str(path)


def _problems(exc: ValidationError, path: Path, overrides: Mapping[str, Any]) -> str:
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        field = loc[0] if loc else ""
        source = _source_of(field, path, overrides)
        problems.append(
            _("{source}: setting '{field}': {problem}").format(
                source=source, field=".".join(loc), problem=describe_error(err)
            )
        )
    return "\n".join(problems)


def load_settings(config_path: Path | None = None, **overrides: Any) -> Settings:
    """Load settings (file → environment → ``overrides``; ``None`` overrides are ignored).

    Raises :class:`ConfigError` naming the source (file and line, environment variable or
    option) and the field for a bad value, and the file, line and column for broken TOML.
    """
    path = config_path or paths.config_file()
    given = {k: v for k, v in overrides.items() if v is not None}
    token = _config_file.set(path)
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise ConfigError(_problems(exc, path, given)) from None
    except SettingsError as exc:  # an environment value that is not even parseable
        raise ConfigError(str(exc)) from None
    finally:
        _config_file.reset(token)


def file_settings(config_path: Path | None = None) -> dict[str, Any]:
    """What the config file itself says (no environment, no options): for a settings form."""
    return read_config_file(config_path or paths.config_file())


def _toml_ready(value: Any) -> Any:
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, dict):
        return {str(k): _toml_ready(v) for k, v in value.items()}
    return value


def save_settings(settings: Settings, config_path: Path | None = None) -> Path:
    """Write the settings file atomically (temp file + replace); returns its path.

    The existing file is edited in place with tomlkit: comments, order and layout of what
    the user wrote stay; settings back at their default are removed.
    """
    import tomlkit

    path = config_path or paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        document = tomlkit.document()
    except (OSError, UnicodeDecodeError, tomlkit.exceptions.TOMLKitError) as exc:
        raise ConfigError(
            _("{path}: cannot be updated ({error})").format(path=path, error=exc)
        ) from None
    values = settings.model_dump(exclude_defaults=True)
    for name in Settings.model_fields:
        if name == "keymap":
            continue
        if name in values:
            document[name] = _toml_ready(values[name])
        elif name in document:
            del document[name]
    keymap = _toml_ready(values.get("keymap", {}))
    if keymap:
        existing = document.get("keymap")
        if not isinstance(existing, dict):
            existing = tomlkit.table()
            document["keymap"] = existing
        for key in [k for k in existing if k not in keymap]:
            del existing[key]
        for key, value in sorted(keymap.items()):
            existing[key] = value
    elif "keymap" in document:
        del document["keymap"]
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(tomlkit.dumps(document))
        handle.flush()
        os.fsync(handle.fileno())  # on disk before it replaces the old file (power loss)
    os.replace(tmp, path)
    return path
