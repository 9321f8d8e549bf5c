"""sync indexes (issue 11): fewer indexes to maintain on the push path

Every pushed visit writes ~30 child rows; each index on those tables costs every insert.
Dropped: the single-column ``visit_id`` indexes of procedure_run, step_result, measurement
and meter_swap (their primary key starts with visit_id and serves the same lookups),
``ix_visit_technician_id`` (the leading column of ``ix_visit_technician_page``) and
``ix_hazard_customer_no`` (the leading column of the hazard's primary key).

Revision ID: 0007_sync_indexes
Revises: 0006_hazard_fields
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0007_sync_indexes"
down_revision = "0006_hazard_fields"
branch_labels = None
depends_on = None

# (table, index, columns): indexes whose work a wider index already does
REDUNDANT = (
    ("procedure_run", "ix_procedure_run_visit_id", ["visit_id"]),
    ("step_result", "ix_step_result_visit_id", ["visit_id"]),
    ("measurement", "ix_measurement_visit_id", ["visit_id"]),
    ("meter_swap", "ix_meter_swap_visit_id", ["visit_id"]),
    ("visit", "ix_visit_technician_id", ["technician_id"]),
    ("hazard", "ix_hazard_customer_no", ["customer_no"]),
)


def upgrade() -> None:
    for table, name, _columns in REDUNDANT:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for table, name, columns in REDUNDANT:
        op.create_index(name, table, columns, unique=False)
