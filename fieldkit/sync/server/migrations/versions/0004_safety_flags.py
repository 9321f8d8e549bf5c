"""safety flags (issue 8): violations found by re-deriving each pushed visit's safety state

Revision ID: 0004_safety_flags
Revises: 0003_sync_scale
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_safety_flags"
down_revision = "0003_sync_scale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "visit_safety_flag",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("visit_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_visit_safety_flag_visit_id", "visit_safety_flag", ["visit_id"])
    op.create_index("ix_visit_safety_flag_flagged_at_id", "visit_safety_flag", ["flagged_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_visit_safety_flag_flagged_at_id", table_name="visit_safety_flag")
    op.drop_index("ix_visit_safety_flag_visit_id", table_name="visit_safety_flag")
    op.drop_table("visit_safety_flag")
