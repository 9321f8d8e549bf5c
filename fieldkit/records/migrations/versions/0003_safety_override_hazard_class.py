"""safety (issue 8): hazard refusal class; procedure file hash and override per run

Revision ID: 0003_safety
Revises: 0002_sync_state
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_safety"
down_revision = "0002_sync_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hazard", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refusal_code", sa.String(length=32), nullable=True))
    with op.batch_alter_table("procedure_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("override", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("procedure_run", schema=None) as batch_op:
        batch_op.drop_column("override")
        batch_op.drop_column("content_hash")
    with op.batch_alter_table("hazard", schema=None) as batch_op:
        batch_op.drop_column("refusal_code")
