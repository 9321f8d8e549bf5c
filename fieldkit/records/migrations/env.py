"""Alembic environment for the visit database.

Run programmatically by :func:`fieldkit.records.db.upgrade`, which passes an open connection
in ``config.attributes["connection"]``. Batch mode is on because SQLite alters tables by
copying them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from fieldkit.records.models import metadata

config = context.config


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render fieldkit's column types as the plain SQLAlchemy types they store, so the
    migration scripts never import application code (which may change later)."""
    if type_ == "type" and isinstance(obj, TypeDecorator | sa.String):
        impl = obj.impl if isinstance(obj, TypeDecorator) else obj
        if isinstance(impl, sa.String):
            return f"sa.String(length={impl.length})" if impl.length else "sa.String()"
        if isinstance(impl, sa.DateTime):
            return "sa.DateTime()"
        return f"sa.{type(impl).__name__}()"
    return False


OPTIONS: dict[str, Any] = {
    "render_as_batch": True,
    "compare_type": True,
    "render_item": render_item,
}


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            **OPTIONS,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=NullPool)
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported for the visit database")
run_migrations_online()
