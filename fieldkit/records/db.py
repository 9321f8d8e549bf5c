"""The visit database on the laptop: SQLite in WAL mode, durable commits, migrations.

``open_database()`` is the only way in. It

* creates the parent directory of the database file,
* sets the pragmas on every new connection (``journal_mode=WAL`` read back, falling back to
  ``DELETE`` with a warning when the filesystem refuses WAL — network shares, some VM
  folders; ``synchronous=FULL`` so a commit that returned survives power loss;
  ``foreign_keys=ON``; ``busy_timeout``),
* takes over transaction control from pysqlite (SQLAlchemy's documented recipe: the driver
  emits no BEGIN of its own, we emit ``BEGIN IMMEDIATE`` when a transaction starts, so a
  write transaction never fails half-way on a lock upgrade),
* runs ``PRAGMA quick_check`` and raises :class:`DatabaseCorrupt` if it fails — the file is
  never recreated or "repaired" silently,
* upgrades the schema to the latest alembic revision (the scripts ship inside the package).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError as SADatabaseError
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from fieldkit.i18n import _

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
_BEGIN_OPTION = "fieldkit_sqlite_begin"
# alembic keeps its migration context in module globals: one upgrade at a time per process.
_UPGRADE_LOCK = threading.Lock()
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class DatabaseError(Exception):
    """The visit database cannot be opened or used; the message says what to do."""


class DatabaseCorrupt(DatabaseError):
    """``PRAGMA quick_check`` failed (or SQLite says the file is not a database)."""

    def __init__(self, path: str, detail: str):
        self.path = path
        self.detail = detail
        super().__init__(
            _(
                "The visit database {path} is damaged ({detail}). Nothing was changed. "
                "Close fieldkit, keep a copy of the file together with any -wal and -shm "
                "files beside it, and ask the back office to recover it; do not delete them."
            ).format(path=path, detail=detail)
        )


class WalUnavailableWarning(UserWarning):
    """The filesystem refused WAL mode; the database runs in rollback-journal mode."""


@dataclass(frozen=True)
class PragmaState:
    journal_mode: str
    synchronous: int
    foreign_keys: int
    busy_timeout: int


def _install_pragmas(engine: Engine, wal: bool) -> None:
    warned: list[str] = []  # warn once per database, not on every connection

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Take BEGIN away from pysqlite (it would otherwise start transactions lazily and
        # commit before DDL); SQLAlchemy's "begin" event below issues our own BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if wal:
                mode = str(cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
                if mode not in ("wal", "memory"):
                    mode = str(cursor.execute("PRAGMA journal_mode = DELETE").fetchone()[0]).lower()
                    if not warned:
                        warned.append(mode)
                        log.warning("the filesystem refused WAL; journal_mode=%s", mode)
                        warnings.warn(
                            _(
                                "The filesystem refused WAL mode; the visit database uses "
                                "journal_mode={mode} (still durable, slower)."
                            ).format(mode=mode),
                            WalUnavailableWarning,
                            stacklevel=2,
                        )
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front (BEGIN IMMEDIATE), so a transaction never
        # fails half-way on a lock upgrade; readers use a deferred BEGIN and, in WAL mode,
        # never block the writer.
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


_writes_lock = threading.Lock()
_writes = 0


def write_count() -> int:
    """Committed write transactions to any visit database of this process so far — ORM
    sessions and the plain-SQL save (:mod:`fieldkit.records.plain_save`) alike. A screen
    shown again re-reads the database only when this changed (Esc and Ctrl+L stay quick)."""
    return _writes


def count_write() -> None:
    """One more committed write (called by every write path after its COMMIT)."""
    global _writes
    with _writes_lock:
        _writes += 1


def _counted_commit(connection: Any) -> None:
    if is_write(connection):
        count_write()


def is_write(connection: Any) -> bool:
    """True for a connection of a write session (:meth:`Database.session` without
    ``readonly``): what a listener on the engine's "commit" event uses to tell writes from
    reads (the TUI re-reads a screen only when something was written)."""
    return connection.get_execution_options().get(_BEGIN_OPTION) == "IMMEDIATE"


class Database:
    """An open visit database. Use :meth:`session` for each unit of work."""

    def __init__(self, engine: Engine, path: Path | None):
        self.engine = engine
        self.path = path
        self._writer = engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        """A session whose transaction commits when the block ends without an exception.

        The commit has returned (and, with ``synchronous=FULL``, reached the disk) by the
        time the ``with`` block is left; an exception rolls everything back. A write
        session holds SQLite's write lock from its start (``BEGIN IMMEDIATE``);
        ``readonly=True`` sessions read a consistent snapshot without blocking writers.
        """
        bind = self.engine if readonly else self._writer
        with Session(bind, expire_on_commit=False) as session, session.begin():
            yield session

    def pragmas(self) -> PragmaState:
        with self.engine.connect() as conn:

            def one(name: str) -> Any:
                return conn.exec_driver_sql(f"PRAGMA {name}").scalar()

            return PragmaState(
                journal_mode=str(one("journal_mode")).lower(),
                synchronous=int(one("synchronous")),
                foreign_keys=int(one("foreign_keys")),
                busy_timeout=int(one("busy_timeout")),
            )

    def quick_check(self) -> list[str]:
        """Rows of ``PRAGMA quick_check``; ``["ok"]`` for a healthy file."""
        with self.engine.connect() as conn:
            return [str(r[0]) for r in conn.exec_driver_sql("PRAGMA quick_check").fetchall()]

    def table_names(self) -> set[str]:
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")
            return {str(r[0]) for r in rows}

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        raise DatabaseError(
            _("The visit database must be SQLite, got {url}").format(url=parsed.drivername)
        )
    database = parsed.database
    if not database or database == ":memory:":
        return None
    if database.startswith("file:"):  # a URI filename (``?uri=true``), e.g. to pick a VFS
        database = database[len("file:") :]
        if not database or database.startswith(":memory:") or "mode=memory" in str(parsed):
            return None
    return Path(database)


def missing_database(url: str) -> Path | None:
    """The file of a SQLite ``url`` when it does not exist yet (None: it exists, or the
    database is in memory). Raises :class:`DatabaseError` for a URL that is not SQLite."""
    path = _sqlite_path(url)
    return path if path is not None and not path.exists() else None


def default_url() -> str:
    from fieldkit.config import load_settings

    return load_settings().resolved_db_url()


SERVER_ONLY_TABLES = {"account", "token", "server_identity"}
"""Tables only the back office's database has (fieldkit.sync.server.tables)."""


def _not_a_visit_database(database: Database, where: str) -> DatabaseError | None:
    """Why the file must not be used (nor migrated into) as a visit database, or None.

    A back-office server database (its newer revisions read as "written by a newer
    fieldkit") and another program's SQLite file (the migrations would add our tables to
    it) are refused before anything is written."""
    tables = database.table_names()
    if not tables or ("alembic_version" in tables and not tables & SERVER_ONLY_TABLES):
        return None
    if tables & SERVER_ONLY_TABLES:
        message = _(
            "{path} is the back office's server database, not a visit database "
            "(fieldkit serve and fieldkit admin use it). Nothing was changed."
        )
    else:
        message = _(
            "{path} is not a fieldkit visit database (it holds other tables). Nothing was changed."
        )
    return DatabaseError(message.format(path=where))


def open_database(url: str | None = None, *, migrate: bool = True, create: bool = True) -> Database:
    """Open (creating if needed) the visit database and bring its schema up to date.

    With ``create=False`` a database file that does not exist is a :class:`DatabaseError`
    (a mistyped ``--db`` path must not turn into a new, empty database).

    ``url`` defaults to :meth:`fieldkit.config.Settings.resolved_db_url` (platform data dir,
    overridden by ``FIELDKIT_HOME``, ``FIELDKIT_DB_URL`` or the config file).
    Raises :class:`DatabaseCorrupt` when the file fails ``quick_check`` and
    :class:`DatabaseError` when it cannot be opened at all.
    """
    url = url or default_url()
    path = _sqlite_path(url)
    where = str(path) if path is not None else url
    if path is not None and not create and not path.exists():
        raise DatabaseError(
            _("There is no visit database at {path}; check the path. Nothing was created.").format(
                path=path
            )
        )
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(
                _("Cannot create the folder for the visit database {path}: {error}").format(
                    path=path, error=exc.strerror or exc
                )
            ) from exc
        if path.is_dir():
            raise DatabaseError(
                _("The visit database path {path} is a folder, not a file").format(path=path)
            )
    # The default pool keeps a few connections open (pragmas are set once per connection);
    # opening a connection per step would double the cost of saving a step.
    engine = create_engine(url)
    _install_pragmas(engine, wal=True)
    event.listen(engine, "commit", _counted_commit)
    database = Database(engine, path)
    try:
        rows = database.quick_check()
    except SADatabaseError as exc:
        engine.dispose()
        orig = getattr(exc, "orig", exc)
        if isinstance(exc, OperationalError) and "unable to open" in str(orig):
            raise DatabaseError(
                _("Cannot open the visit database {path}: {error}").format(path=where, error=orig)
            ) from exc
        raise DatabaseCorrupt(where, str(orig)) from exc
    if rows != ["ok"]:
        engine.dispose()
        raise DatabaseCorrupt(where, "; ".join(rows[:5]))
    foreign = _not_a_visit_database(database, where)
    if foreign is not None:
        engine.dispose()
        raise foreign
    if migrate:
        from alembic.util.exc import CommandError

        try:
            upgrade(database)
        except CommandError as exc:  # a revision this fieldkit does not know
            engine.dispose()
            raise DatabaseError(
                _(
                    "The visit database {path} was written by a newer fieldkit ({error}); "
                    "update fieldkit on this laptop. Nothing was changed."
                ).format(path=where, error=exc)
            ) from exc
        except SADatabaseError as exc:
            engine.dispose()
            raise DatabaseError(
                _("Cannot update the visit database {path}: {error}").format(
                    path=where, error=getattr(exc, "orig", exc)
                )
            ) from exc
    return database


def alembic_config(database: Database | None = None) -> Any:
    """An alembic ``Config`` pointing at the migrations shipped inside the package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if database is not None:
        # configparser interpolation: a literal % must be doubled.
        url = database.engine.url.render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    """Upgrade the schema (idempotent); runs on one connection inside one transaction."""
    from alembic import command

    config = alembic_config(database)
    with _UPGRADE_LOCK, database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(database: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
