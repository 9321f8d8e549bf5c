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


def _plan(conn: sa.Connection, query: sa.Select) -> str:
    """The query plan of ``query`` where only an index can give its order."""
    sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "postgresql":
        with conn.begin():  # no sequential scan, no sort: an index must serve the order
            conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
            conn.execute(sa.text("SET LOCAL enable_sort = off"))
            lines = conn.exec_driver_sql(f"EXPLAIN {sql}").scalars().all()
        plan = "\n".join(lines)
        assert "Sort" not in plan, plan  # a disabled sort still shows when nothing else can
        return plan
    plan = "\n".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    assert "TEMP B-TREE" not in plan, plan
    return plan


def test_console_lists_keep_an_index_after_0008(backoffice: Backoffice) -> None:
    """0008_drop_duplicate_visit_indexes dropped the console's copies of the sync server's
    visit and follow-up indexes: the console's lists still read an index in order."""
    from datetime import date
    from zoneinfo import ZoneInfo

    from fieldkit.console import lists
    from fieldkit.console.filters import Filters

    scope = lists.Scope(tz=ZoneInfo("Asia/Shanghai"), today=date(2026, 12, 1))
    v, fu = lists.V, lists.FU
    cases = {
        "visits": lists.VISITS.build(Filters(), scope).order_by(
            v.c.started_at.desc(), v.c.id.desc()
        ),
        "a technician's visits": lists.VISITS.build(Filters(technician="T001"), scope).order_by(
            v.c.started_at.desc(), v.c.id.desc()
        ),
        "follow-ups called": lists.FOLLOW_UPS.build(Filters(status="done"), scope).order_by(
            fu.c.due_date, fu.c.visit_id
        ),
    }
    with backoffice.engine.connect() as conn:
        for name, query in cases.items():
            plan = _plan(conn, query.limit(51))
            kept = ("ix_visit_page", "ix_visit_technician_page", "ix_follow_up_page")
            assert any(index in plan for index in kept), f"{name}: {plan}"
