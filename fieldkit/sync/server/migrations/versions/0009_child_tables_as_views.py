"""child tables as views (issue 11): a push writes ~3 rows per visit, not ~34

``procedure_run``, ``step_result`` and ``measurement`` held copies of what every visit's
payload (``visit.payload``, the record of evidence) already says: one row per run, step
result and measurement, ~31 rows per visit, written on every push and read by nothing in
fieldkit (the console and the API read the payload). They become views of the same names
and columns, computed from the payload, so SQL written against them keeps working; a push
no longer pays for those rows, their primary-key indexes and their foreign-key checks.
Hazards, follow-ups, meter swaps, complaints and safety flags stay tables (the back office
lists and updates them).

On PostgreSQL the payload column is also compressed with lz4 where the server supports it
(much cheaper than the default pglz for the ~7 KB a visit's JSON takes; existing rows keep
theirs until rewritten).

Downgrade makes the tables again and fills them from the payloads (nothing is lost either
way: the rows were always cut out of the payload).

On SQLite a later migration that rebuilds ``visit`` (``batch_alter_table`` with
``recreate``) must drop these views first and make them again after.

Revision ID: 0009_child_tables_as_views
Revises: 0008_drop_dup_visit_indexes
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009_child_tables_as_views"
down_revision = "0008_drop_dup_visit_indexes"
branch_labels = None
depends_on = None

VIEWS = ("procedure_run", "step_result", "measurement")

# --- the projections: the same columns the tables had, cut out of the payload JSON
_PG_FROM_RUNS = (
    "FROM visit v CROSS JOIN LATERAL jsonb_array_elements(v.payload->'procedure_runs') AS r(run)"
)
_PG = {
    "procedure_run": (
        "SELECT v.id AS visit_id, (r.run->>'run_id')::uuid AS id,"
        " (r.run->>'procedure_id')::varchar(200) AS procedure_id,"
        " (r.run->>'procedure_version')::integer AS procedure_version,"
        " (r.run->>'status')::varchar(200) AS status,"
        " (r.run->>'started_at')::timestamptz AS started_at,"
        " (r.run->>'ended_at')::timestamptz AS ended_at " + _PG_FROM_RUNS
    ),
    "step_result": (
        "SELECT v.id AS visit_id, (s.step->>'result_id')::uuid AS id,"
        " (r.run->>'run_id')::uuid AS run_id, (s.step->>'step_id')::varchar(200) AS step_id,"
        " (s.step->>'kind')::varchar(200) AS kind, s.step->'value' AS value,"
        " (s.step->>'passed')::boolean AS passed, (s.step->>'at')::timestamptz AS at,"
        " (s.step->>'actor')::varchar(200) AS actor " + _PG_FROM_RUNS + " CROSS JOIN LATERAL"
        " jsonb_array_elements(r.run->'steps') AS s(step)"
    ),
    "measurement": (
        "SELECT v.id AS visit_id, (m.item->>'measurement_id')::uuid AS id,"
        " (r.run->>'run_id')::uuid AS run_id, (m.item->>'step_id')::varchar(200) AS step_id,"
        " (m.item->>'quantity')::varchar(200) AS quantity,"
        " (m.item->>'value')::double precision AS value,"
        " (m.item->>'unit')::varchar(200) AS unit,"
        " (m.item->>'taken_at')::timestamptz AS taken_at " + _PG_FROM_RUNS + " CROSS JOIN LATERAL"
        " jsonb_array_elements(r.run->'measurements') AS m(item)"
    ),
}


def _sqlite_uuid(expr: str) -> str:
    # SQLAlchemy keeps a UUID on SQLite as 32 hex digits (the payload's text has dashes)
    return f"replace({expr}, '-', '')"


def _sqlite_time(expr: str) -> str:
    # The payload's times are UTC (the wire schema converts them): ``…T09:30:00.123456Z``;
    # SQLAlchemy keeps them on SQLite as ``… 09:30:00.123456`` (UTC, no zone).
    return f"replace(replace(replace({expr}, 'T', ' '), 'Z', ''), '+00:00', '')"


def _j(alias: str, key: str) -> str:
    return f"json_extract({alias}.value, '$.{key}')"


_SQLITE_FROM_RUNS = "FROM visit v, json_each(v.payload, '$.procedure_runs') AS r"
_SQLITE = {
    "procedure_run": (
        f"SELECT v.id AS visit_id, {_sqlite_uuid(_j('r', 'run_id'))} AS id,"
        f" {_j('r', 'procedure_id')} AS procedure_id,"
        f" {_j('r', 'procedure_version')} AS procedure_version, {_j('r', 'status')} AS status,"
        f" {_sqlite_time(_j('r', 'started_at'))} AS started_at,"
        f" {_sqlite_time(_j('r', 'ended_at'))} AS ended_at " + _SQLITE_FROM_RUNS
    ),
    "step_result": (
        f"SELECT v.id AS visit_id, {_sqlite_uuid(_j('s', 'result_id'))} AS id,"
        f" {_sqlite_uuid(_j('r', 'run_id'))} AS run_id, {_j('s', 'step_id')} AS step_id,"
        f" {_j('s', 'kind')} AS kind, json(json_extract(s.value, '$.value')) AS value,"
        f" {_j('s', 'passed')} AS passed, {_sqlite_time(_j('s', 'at'))} AS at,"
        f" {_j('s', 'actor')} AS actor " + _SQLITE_FROM_RUNS + ","
        " json_each(r.value, '$.steps') AS s"
    ),
    "measurement": (
        f"SELECT v.id AS visit_id, {_sqlite_uuid(_j('m', 'measurement_id'))} AS id,"
        f" {_sqlite_uuid(_j('r', 'run_id'))} AS run_id, {_j('m', 'step_id')} AS step_id,"
        f" {_j('m', 'quantity')} AS quantity, CAST({_j('m', 'value')} AS REAL) AS value,"
        f" {_j('m', 'unit')} AS unit, {_sqlite_time(_j('m', 'taken_at'))} AS taken_at "
        + _SQLITE_FROM_RUNS
        + ", json_each(r.value, '$.measurements') AS m"
    ),
}


def projection(dialect: str, name: str) -> str:
    """The SELECT a view is made of (also fills the tables again on downgrade)."""
    return (_PG if dialect == "postgresql" else _SQLITE)[name]


def _lz4_supported() -> bool:
    found = op.get_bind().exec_driver_sql(
        "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
        "AND 'lz4' = ANY(enumvals)"
    )
    return found.first() is not None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name in VIEWS:
        op.drop_table(name)
        op.execute(f"CREATE VIEW {name} AS {projection(dialect, name)}")
    if dialect == "postgresql" and _lz4_supported():
        op.execute("ALTER TABLE visit ALTER COLUMN payload SET COMPRESSION lz4")


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _tables() -> dict[str, list[sa.Column]]:
    ts = sa.DateTime(timezone=True)
    return {
        "procedure_run": [
            sa.Column("visit_id", sa.Uuid(), nullable=False),
            sa.Column("id", sa.Uuid(), nullable=False),
            sa.Column("procedure_id", sa.String(length=200), nullable=False),
            sa.Column("procedure_version", sa.Integer(), nullable=False),
            sa.Column("status", sa.String(length=200), nullable=False),
            sa.Column("started_at", ts, nullable=False),
            sa.Column("ended_at", ts, nullable=True),
        ],
        "step_result": [
            sa.Column("visit_id", sa.Uuid(), nullable=False),
            sa.Column("id", sa.Uuid(), nullable=False),
            sa.Column("run_id", sa.Uuid(), nullable=False),
            sa.Column("step_id", sa.String(length=200), nullable=False),
            sa.Column("kind", sa.String(length=200), nullable=False),
            sa.Column("value", _json(), nullable=False),
            sa.Column("passed", sa.Boolean(), nullable=True),
            sa.Column("at", ts, nullable=False),
            sa.Column("actor", sa.String(length=200), nullable=False),
        ],
        "measurement": [
            sa.Column("visit_id", sa.Uuid(), nullable=False),
            sa.Column("id", sa.Uuid(), nullable=False),
            sa.Column("run_id", sa.Uuid(), nullable=False),
            sa.Column("step_id", sa.String(length=200), nullable=False),
            sa.Column("quantity", sa.String(length=200), nullable=False),
            sa.Column("value", sa.Float(), nullable=False),
            sa.Column("unit", sa.String(length=200), nullable=False),
            sa.Column("taken_at", ts, nullable=False),
        ],
    }


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("ALTER TABLE visit ALTER COLUMN payload SET COMPRESSION default")
    for name, columns in _tables().items():
        op.execute(f"DROP VIEW {name}")
        op.create_table(
            name,
            *columns,
            sa.ForeignKeyConstraint(["visit_id"], ["visit.id"]),
            sa.PrimaryKeyConstraint("visit_id", "id", name=f"{name}_pkey"),
        )
        names = ", ".join(c.name for c in columns)
        op.execute(f"INSERT INTO {name} ({names}) {projection(dialect, name)}")
