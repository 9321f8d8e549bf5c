"""drop duplicate visit indexes (issue 11): one index per key, not two

The console (0003_console) and the sync server (0003_sync_scale) each made an index on the
same columns; every pushed visit paid for both. The sync server's keep serving both:

* ``ix_console_visit_started_at_id`` = ``ix_visit_page`` (started_at, id);
* ``ix_console_visit_technician_started`` = ``ix_visit_technician_page``
  (technician_id, started_at, id);
* ``ix_console_follow_up_due_visit`` = ``ix_follow_up_page`` (due_date, visit_id);
* ``ix_follow_up_due_date`` (due_date), the leading column of ``ix_follow_up_page``.

Revision ID: 0008_drop_dup_visit_indexes (alembic_version holds 32 characters: the file
name is the long form)
Revises: 0007_sync_indexes
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0008_drop_dup_visit_indexes"
down_revision = "0007_sync_indexes"
branch_labels = None
depends_on = None

# (table, dropped index, its columns): an index that stays does the same work
DUPLICATES = (
    ("visit", "ix_console_visit_started_at_id", ["started_at", "id"]),
    ("visit", "ix_console_visit_technician_started", ["technician_id", "started_at", "id"]),
    ("follow_up", "ix_console_follow_up_due_visit", ["due_date", "visit_id"]),
    ("follow_up", "ix_follow_up_due_date", ["due_date"]),
)


def upgrade() -> None:
    for table, name, _columns in DUPLICATES:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for table, name, columns in DUPLICATES:
        op.create_index(name, table, columns, unique=False)
