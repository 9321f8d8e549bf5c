"""hazard fields (issue 8): a hazard's 不予通气 class and when it was fixed

The server's safety re-derivation sees the same hazard facts as the laptop: the refusal
class (a hazard of one blocks ignition until fixed) and the time it was recorded 已整改.

Revision ID: 0006_hazard_fields
Revises: 0005_console_hazard_events
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_hazard_fields"
down_revision = "0005_console_hazard_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hazard") as batch:
        batch.add_column(sa.Column("refusal_code", sa.String(32), nullable=True))
        batch.add_column(sa.Column("fixed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hazard") as batch:
        batch.drop_column("fixed_at")
        batch.drop_column("refusal_code")
