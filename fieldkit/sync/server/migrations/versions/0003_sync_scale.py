"""sync at scale: assignment history, server epoch, per-visit child ids, per-customer
hazard ids, keyset-page indexes, canonical content hashes

Revision ID: 0003_sync_scale
Revises: 0003_console
Create Date: 2026-11-30 21:40:00
"""

from __future__ import annotations

import uuid
import warnings
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003_sync_scale"
down_revision = "0003_console"
branch_labels = None
depends_on = None

CHILDREN = ("procedure_run", "step_result", "measurement", "meter_swap")


def _repoint_primary_key(table: str, columns: list[str]) -> None:
    """Replace a table's one-column primary key on ``id`` by ``columns``."""
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(f"{table}_pkey", table, type_="primary")
        op.create_primary_key(f"{table}_pkey", table, columns)
        return
    with warnings.catch_warnings():  # SQLAlchemy notes the primary key it replaces
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        with op.batch_alter_table(table, recreate="always") as batch_op:
            batch_op.create_primary_key(f"{table}_pkey", columns)


def upgrade() -> None:
    now = datetime.now(UTC)
    op.create_table(
        "work_order_holder",
        sa.Column("technician_id", sa.String(length=200), nullable=False),
        sa.Column("work_order_id", sa.Uuid(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["work_order_id"], ["work_order.id"]),
        sa.PrimaryKeyConstraint("technician_id", "work_order_id"),
    )
    # Everyone who holds or held an order so far (only the last one before was known).
    op.execute(
        "INSERT INTO work_order_holder (technician_id, work_order_id, since) "
        "SELECT assigned_to, id, updated_at FROM work_order"
    )
    op.execute(
        "INSERT INTO work_order_holder (technician_id, work_order_id, since) "
        "SELECT previous_assignee, id, updated_at FROM work_order "
        "WHERE previous_assignee IS NOT NULL AND previous_assignee <> assigned_to"
    )
    op.create_table(
        "server_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("database_id", sa.Uuid(), nullable=False),
        sa.Column("restore_generation", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("restored_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    identity = sa.table(
        "server_identity",
        sa.column("id", sa.Integer),
        sa.column("database_id", sa.Uuid),
        sa.column("restore_generation", sa.Integer),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(
        identity,
        [{"id": 1, "database_id": uuid.uuid4(), "restore_generation": 0, "created_at": now}],
    )
    for table in CHILDREN:
        _repoint_primary_key(table, ["visit_id", "id"])
    _repoint_primary_key("hazard", ["customer_no", "id"])
    with op.batch_alter_table("hazard") as batch_op:
        batch_op.create_index("ix_hazard_technician_id", ["technician_id"])
        batch_op.create_index("ix_hazard_open_page", ["status", "found_at", "customer_no", "id"])
    with op.batch_alter_table("visit") as batch_op:
        batch_op.create_index("ix_visit_page", ["started_at", "id"])
        batch_op.create_index("ix_visit_technician_page", ["technician_id", "started_at", "id"])
    with op.batch_alter_table("follow_up") as batch_op:
        batch_op.create_index("ix_follow_up_page", ["due_date", "visit_id"])
    with op.batch_alter_table("complaint") as batch_op:
        batch_op.create_index("ix_complaint_page", ["logged_at", "id"])
    with op.batch_alter_table("meter_swap") as batch_op:
        batch_op.create_index("ix_meter_swap_page", ["swapped_at", "visit_id", "id"])
    _rehash_visits()


def _rehash_visits() -> None:
    """Content hashes are now over canonical numbers (fieldkit.sync.schema.canonical_text)."""
    from fieldkit.sync.schema import content_hash_of_dump

    bind = op.get_bind()
    visit = sa.table(
        "visit", sa.column("id", sa.Uuid), sa.column("payload", sa.JSON), sa.column("content_hash")
    )
    last: uuid.UUID | None = None
    while True:
        query = sa.select(visit.c.id, visit.c.payload).order_by(visit.c.id).limit(500)
        if last is not None:
            query = query.where(visit.c.id > last)
        rows = bind.execute(query).all()
        if not rows:
            return
        for row in rows:
            bind.execute(
                visit.update()
                .where(visit.c.id == row.id)
                .values(content_hash=content_hash_of_dump(row.payload))
            )
        last = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("meter_swap") as batch_op:
        batch_op.drop_index("ix_meter_swap_page")
    with op.batch_alter_table("complaint") as batch_op:
        batch_op.drop_index("ix_complaint_page")
    with op.batch_alter_table("follow_up") as batch_op:
        batch_op.drop_index("ix_follow_up_page")
    with op.batch_alter_table("visit") as batch_op:
        batch_op.drop_index("ix_visit_technician_page")
        batch_op.drop_index("ix_visit_page")
    with op.batch_alter_table("hazard") as batch_op:
        batch_op.drop_index("ix_hazard_open_page")
        batch_op.drop_index("ix_hazard_technician_id")
    _repoint_primary_key("hazard", ["id"])
    for table in CHILDREN:
        _repoint_primary_key(table, ["id"])
    op.drop_table("server_identity")
    op.drop_table("work_order_holder")
