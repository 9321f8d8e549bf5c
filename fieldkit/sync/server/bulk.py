"""Many rows into one table in one round trip.

On PostgreSQL a batch of rows goes in as one ``INSERT … SELECT * FROM unnest(arrays)``
statement: one array parameter per column, one statement and one round trip per table
however many rows (psycopg's ``executemany`` sends one ``Execute`` per row, which costs the
server a plan execution each). On SQLite (one-office installs, tests) it is a plain
``executemany``. Errors surface as SQLAlchemy's (``IntegrityError`` …) on both, so callers
keep their fallbacks.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@lru_cache(maxsize=64)
def _casts(table: sa.Table, columns: tuple[str, ...]) -> tuple[str, tuple[bool, ...]]:
    """``unnest(%b::uuid[], …)`` (binary parameters) for these columns, and which of them hold JSON."""
    dialect = postgresql.dialect()
    parts, is_json = [], []
    for name in columns:
        pg_type = table.c[name].type.dialect_impl(dialect)
        parts.append(f"%b::{pg_type.compile(dialect=dialect)}[]")
        is_json.append(isinstance(pg_type, sa.JSON))
    return f"unnest({', '.join(parts)})", tuple(is_json)


def _arrays(
    rows: Sequence[dict[str, Any]], columns: tuple[str, ...], is_json: tuple[bool, ...]
) -> tuple[list[Any], ...]:
    from psycopg.types.json import Jsonb

    arrays: list[list[Any]] = []
    for name, json_column in zip(columns, is_json, strict=True):
        values = [row[name] for row in rows]
        if json_column:
            values = [None if v is None else Jsonb(v, dumps=_dumps) for v in values]
        arrays.append(values)
    return tuple(arrays)


def insert_sql(table: sa.Table, columns: tuple[str, ...]) -> str:
    """``INSERT INTO table (columns) SELECT * FROM unnest(…)`` (PostgreSQL; append an
    ``ON CONFLICT``/``RETURNING`` clause as needed)."""
    source, _ = _casts(table, columns)
    quoted = ", ".join(f'"{c}"' for c in columns)
    return f'INSERT INTO "{table.name}" ({quoted}) SELECT * FROM {source}'


def execute_unnest(
    conn: Connection,
    table: sa.Table,
    columns: tuple[str, ...],
    rows: Sequence[dict[str, Any]],
    sql: str,
) -> sa.CursorResult[Any]:
    """Run ``sql`` (from :func:`insert_sql` for these ``columns``, maybe extended) with
    ``rows`` as its arrays."""
    _source, is_json = _casts(table, columns)
    return conn.exec_driver_sql(sql, _arrays(rows, columns, is_json))


def insert_rows(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in one statement."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(table.insert(), list(rows))
        return
    columns = tuple(rows[0])
    execute_unnest(conn, table, columns, rows, insert_sql(table, columns))


def upsert_insert(conn: Connection, table: sa.Table) -> Any:
    """The dialect's ``INSERT`` construct (with ``on_conflict_*``) for SQLite."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
