"""The same alembic migrations build the server tables on SQLite and PostgreSQL, and the
result matches the table definitions the code uses."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from fieldkit.sync.server.db import alembic_config, create_server_engine, upgrade
from fieldkit.sync.server.tables import metadata
from tests.sync.conftest import Backoffice, close_visit, fresh_server_db

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


# --- 0009: runs, step results and measurements become views of the payload ------------
VIEWS_REVISION = "0009_child_tables_as_views"
BEFORE_VIEWS = "0008_drop_dup_visit_indexes"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A fresh, empty server database (not the module's running server's)."""
    yield from fresh_server_db(request, lambda: tmp_path)


def _downgrade(engine: sa.Engine, revision: str) -> None:
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def _child_rows(engine: sa.Engine) -> dict[str, set[tuple[Any, ...]]]:
    """Every row of the three (tables or views), UTC-aware times, as sets."""
    from fieldkit.sync.server import tables as t

    out: dict[str, set[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name in ("procedure_run", "step_result", "measurement"):
            table = getattr(t, name)
            rows = set()
            for row in conn.execute(sa.select(table)):
                values = []
                for v in row:
                    if isinstance(v, datetime) and v.tzinfo is None:  # SQLite: UTC, no zone
                        v = v.replace(tzinfo=UTC)
                    values.append(json.dumps(v, sort_keys=True) if isinstance(v, dict) else v)
                rows.add(tuple(values))
            out[name] = rows
    return out


def _payload_compression(engine: sa.Engine) -> str | None:
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT attcompression::text FROM pg_attribute "
            "WHERE attrelid = 'visit'::regclass AND attname = 'payload'"
        ).scalar_one()


def test_child_tables_become_views_of_the_payload_and_back(empty_db: str, laptop) -> None:
    """0009 replaces procedure_run / step_result / measurement by views of visit.payload:
    the views show exactly the rows the tables held; downgrading fills the tables again
    with the same rows (nothing lost either way)."""
    from fieldkit.records.repo import VisitRepository
    from fieldkit.sync.schema import VisitPayload
    from fieldkit.sync.server import service
    from fieldkit.sync.server import tables as t

    engine = create_server_engine(empty_db)
    try:
        upgrade(engine, BEFORE_VIEWS)
        payloads = []
        for n in range(3):
            close_visit(laptop, customer_no=f"MIG-{n}", steps=3 + n)
        for item in VisitRepository(laptop).pending_outbox():
            data = copy.deepcopy(item.payload)
            run = data["procedure_runs"][0]
            run["ended_at"] = None
            run["steps"][0].update(passed=None, value={"读数": [1.5, None, True], "n": {}})
            run["steps"][-1]["at"] = "2026-11-23T09:30:00.123456+08:00"
            run["measurements"] = [
                {"measurement_id": str(uuid.uuid4()), "step_id": "s1", "quantity": "p",
                 "value": value, "unit": "kPa", "taken_at": "2026-11-23T01:00:00.5Z"}
                for value in (2.0, 1e-7, -3.25)
            ]  # fmt: skip
            payloads.append(VisitPayload.model_validate(data))
        rows = service.view_rows(payloads)
        now = datetime.now(UTC)
        with engine.begin() as conn:  # the tables as the push path wrote them before 0009
            conn.execute(t.visit.insert(), [service.visit_row(p, now) for p in payloads])
            for name in ("procedure_run", "step_result", "measurement"):
                conn.execute(getattr(t, name).insert(), rows[name])
        tables_before = _child_rows(engine)
        assert {k: len(v) for k, v in tables_before.items()} == {
            "procedure_run": 3, "step_result": 3 + 4 + 5, "measurement": 9,
        }  # fmt: skip

        upgrade(engine)
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == HEAD
            kinds = sa.inspect(conn)
            assert not {"procedure_run", "step_result", "measurement"} & set(
                kinds.get_table_names()
            )
            assert {"procedure_run", "step_result", "measurement"} <= set(kinds.get_view_names())
        assert _child_rows(engine) == tables_before
        assert _payload_compression(engine) in (None, "l", "")  # lz4 where built with it
        step = rows["step_result"][4]
        with engine.connect() as conn:  # the views answer lookups by any of their ids
            found = conn.execute(
                sa.select(t.step_result.c.visit_id, t.step_result.c.step_id).where(
                    t.step_result.c.id == step["id"], t.step_result.c.run_id == step["run_id"]
                )
            ).all()
            assert found == [(step["visit_id"], step["step_id"])]
            run = rows["procedure_run"][1]
            assert conn.execute(
                sa.select(t.measurement.c.value).where(t.measurement.c.run_id == run["id"])
            ).scalars().all() == [2.0, 1e-7, -3.25]

        _downgrade(engine, BEFORE_VIEWS)
        with engine.connect() as conn:
            kinds = sa.inspect(conn)
            assert {"procedure_run", "step_result", "measurement"} <= set(kinds.get_table_names())
            assert not set(kinds.get_view_names()) & {"procedure_run", "step_result"}
        assert _child_rows(engine) == tables_before
        assert _payload_compression(engine) in (None, "")
        # a real table again: its primary key holds
        with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
            conn.execute(t.step_result.insert(), rows["step_result"][:1])
        upgrade(engine)
        assert _child_rows(engine) == tables_before
    finally:
        engine.dispose()
