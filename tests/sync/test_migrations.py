"""The same alembic migrations build the server tables on SQLite and PostgreSQL, and the
result matches the table definitions the code uses."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from fieldkit.sync.server.db import alembic_config, create_server_engine, upgrade
from fieldkit.sync.server.tables import metadata
from tests.sync.conftest import Backoffice

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_migrated_schema_matches_the_tables(backoffice: Backoffice) -> None:
    with backoffice.engine.connect() as conn:
        context = MigrationContext.configure(conn)
        assert context.get_current_revision() == HEAD
        assert compare_metadata(context, metadata) == []
        value = conn.execute(sa.text("SELECT value FROM counter WHERE name = 'work_order'"))
        assert value.scalar_one() >= 0


def test_upgrade_is_idempotent(backoffice: Backoffice) -> None:
    engine = create_server_engine(backoffice.proc.db_url)
    try:
        upgrade(engine)
        upgrade(engine)
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == HEAD
    finally:
        engine.dispose()
