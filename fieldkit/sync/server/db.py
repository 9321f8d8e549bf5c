"""The server's database: a URL (SQLite for a one-office install, PostgreSQL in production),
opened with the same alembic migrations on both.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fieldkit.i18n import N_
from fieldkit.sync.server import dberror
from fieldkit.sync.server.texterror import TextError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
ENV_DB = "FIELDKIT_SERVER_DB"


class ServerDatabaseError(TextError):
    """The server database URL is missing or cannot be opened."""


def default_url() -> str:
    """``FIELDKIT_SERVER_DB``, else a SQLite file in the user data dir."""
    url = os.environ.get(ENV_DB)
    if url:
        return url
    from fieldkit import paths

    return f"sqlite:///{(paths.user_data_dir() / 'server.db').as_posix()}"


def normalise_url(url: str) -> str:
    """``postgresql://…`` means psycopg 3 (the driver fieldkit ships with)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front (two writers never deadlock upgrading a read
        # lock); readers (see ``reading``) start a plain transaction and never wait for one.
        if connection.get_execution_options().get(READONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


READONLY = "fieldkit_readonly"


def reading(engine: Engine) -> Connection:
    """A connection for reads only (on SQLite it does not take the write lock)."""
    return engine.connect().execution_options(**{READONLY: True})


def create_server_engine(url: str | None = None, **kwargs: Any) -> Engine:
    url = normalise_url(url or default_url())
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _sqlite_pragmas(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **kwargs)


def alembic_config(engine: Engine | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        url = engine.url.render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to date (idempotent). On PostgreSQL an advisory lock makes
    several hosts starting at once migrate one after the other."""
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(726871)"))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


LAPTOP_ONLY_TABLES = {"outbox_item", "sync_state"}
"""Tables only a laptop's visit database has (fieldkit.records.models)."""


def open_server_database(url: str | None = None, *, migrate: bool = True) -> Engine:
    from alembic.util.exc import CommandError

    try:
        engine = create_server_engine(url)
        tables = set(sa.inspect(engine).get_table_names())
        if tables & LAPTOP_ONLY_TABLES:  # a laptop's visit database given as --db
            engine.dispose()
            raise ServerDatabaseError(
                N_(
                    "{url} is a laptop's visit database, not the server database "
                    "(fieldkit visits --db reads it). Nothing was changed."
                ),
                {"url": engine.url.render_as_string(hide_password=True)},
            )
        if migrate:
            upgrade(engine)
        else:
            with engine.connect():
                pass
    except CommandError as exc:  # a revision this fieldkit does not know
        raise ServerDatabaseError(
            N_(
                "the server database was written by a newer fieldkit ({error}); "
                "update fieldkit on this server. Nothing was changed."
            ),
            {"error": exc},
        ) from exc
    except sa.exc.SQLAlchemyError as exc:
        raise ServerDatabaseError(
            N_("cannot open the server database: {error}"),
            {"error": dberror.explain(getattr(exc, "orig", exc))},
        ) from exc
    except ImportError as exc:  # e.g. psycopg missing for a PostgreSQL URL
        raise ServerDatabaseError(
            N_("cannot open the server database: {error}"), {"error": exc}
        ) from exc
    return engine
