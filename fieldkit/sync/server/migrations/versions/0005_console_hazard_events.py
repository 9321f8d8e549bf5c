"""console: hazard_event (back-office hazard status changes and notices, with notes) and
the index paging a technician's hazards

Revision ID: 0005_console_hazard_events
Revises: 0004_safety_flags
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_console_hazard_events"
down_revision = "0004_safety_flags"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hazard_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_no", sa.String(length=200), nullable=False),
        sa.Column("hazard_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_hazard_event_hazard_at", "hazard_event", ["customer_no", "hazard_id", "at"])
    op.create_index(
        "ix_console_hazard_technician_found", "hazard", ["technician_id", "found_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_console_hazard_technician_found", table_name="hazard")
    op.drop_index("ix_hazard_event_hazard_at", table_name="hazard_event")
    op.drop_table("hazard_event")
