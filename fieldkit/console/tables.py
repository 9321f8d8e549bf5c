"""The console's own server tables (staff, sessions, audit, follow-up calls, complaints,
back-office hazard changes).

They live on the server's :data:`~fieldkit.sync.server.tables.metadata` (migration
``0003_console``) so one alembic chain builds every table. The indexes at the bottom are
on server tables the console lists with keyset pagination (no column of theirs changes).
"""

from __future__ import annotations

import sqlalchemy as sa

from fieldkit.sync.server import tables as t
from fieldkit.sync.server.tables import Json, Ts, metadata

ROLES: tuple[str, ...] = ("admin", "dispatcher", "service", "supervisor")

staff = sa.Table(
    "staff",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("username", sa.String(200), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(400), nullable=False),  # argon2id
    sa.Column("created_at", Ts, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
)

staff_session = sa.Table(
    "staff_session",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),  # sha256 of the cookie value
    sa.Column("staff_id", sa.Uuid, sa.ForeignKey("staff.id"), nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", Ts, nullable=False),
    sa.Column("expires_at", Ts, nullable=False),
    sa.Column("last_seen_at", Ts, nullable=False),
)

login_failure = sa.Table(
    "staff_login_failure",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("username", sa.String(200), nullable=False),
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("at", Ts, nullable=False),
    sa.Index("ix_staff_login_failure_username_at", "username", "at"),
    sa.Index("ix_staff_login_failure_address_at", "address", "at"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("at", Ts, nullable=False, index=True),
    sa.Column("actor", sa.String(200), nullable=False, index=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(200), nullable=True),
    sa.Column("detail", Json, nullable=False),
)

follow_up_call = sa.Table(
    "follow_up_call",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("visit_id", sa.Uuid, sa.ForeignKey("visit.id"), nullable=False, index=True),
    sa.Column("called_at", Ts, nullable=False),
    sa.Column("called_by", sa.String(200), nullable=False),
    sa.Column("reached", sa.Boolean, nullable=False),
    sa.Column("satisfaction", sa.String(32), nullable=True),
    sa.Column("comments", sa.Text, nullable=True),
    sa.Column("complaint_id", sa.Uuid, nullable=True),
)

case = sa.Table(
    "complaint_case",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("case_no", sa.String(32), nullable=False, unique=True),
    sa.Column("stage", sa.String(16), nullable=False, index=True),
    sa.Column("customer_no", sa.String(200), nullable=False, index=True),
    sa.Column("visit_id", sa.Uuid, nullable=True, index=True),
    sa.Column("complainant", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("assigned_to", sa.String(200), nullable=True),
    sa.Column("deadline", sa.Date, nullable=True),
    sa.Column("handling", sa.Text, nullable=True),
    sa.Column("confirmation", sa.Text, nullable=True),
    sa.Column("created_at", Ts, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("updated_at", Ts, nullable=False),
    sa.Column("closed_at", Ts, nullable=True),
    sa.Index("ix_complaint_case_created_at_id", "created_at", "id"),
)

case_event = sa.Table(
    "complaint_case_event",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("case_id", sa.Uuid, sa.ForeignKey("complaint_case.id"), nullable=False, index=True),
    sa.Column("at", Ts, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("note", sa.Text, nullable=True),
)

# What the back office did to a hazard (migration ``0005_console_hazard_events``): moved it
# forward (复查中, 已整改) or noted that the customer was notified, always with a note.
# Laptop pushes never move a hazard backwards (fieldkit.sync.server.service), so a
# back-office change stands until a visit moves it further.
hazard_event = sa.Table(
    "hazard_event",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("customer_no", sa.String(200), nullable=False),
    sa.Column("hazard_id", sa.Uuid, nullable=False),
    sa.Column("at", Ts, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # notified | rechecking | fixed
    sa.Column("from_status", sa.String(16), nullable=False),
    sa.Column("to_status", sa.String(16), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Index("ix_hazard_event_hazard_at", "customer_no", "hazard_id", "at"),
)

# Keyset pagination of the server's lists: (sort key, id) in one index each. Visits by
# (started_at, id) and (technician_id, started_at, id), follow-ups by (due_date, visit_id):
# the sync server's ix_visit_page, ix_visit_technician_page and ix_follow_up_page (the
# console's copies were dropped by 0008_drop_duplicate_visit_indexes).
sa.Index("ix_console_hazard_found_at_id", t.hazard.c.found_at, t.hazard.c.id)
# A technician's hazards, newest first: bounded by that technician's hazards even when few
# (or none) of them match the status filter (migration 0005_console_hazard_events).
sa.Index(
    "ix_console_hazard_technician_found",
    t.hazard.c.technician_id,
    t.hazard.c.found_at,
    t.hazard.c.id,
)
# The follow-ups still to call are few among millions of done ones.
sa.Index(
    "ix_console_follow_up_pending",
    t.follow_up.c.due_date,
    t.follow_up.c.visit_id,
    postgresql_where=t.follow_up.c.called_at.is_(None),
    sqlite_where=t.follow_up.c.called_at.is_(None),
)
# A technician's last sync and open orders, per row of the technicians page.
sa.Index("ix_console_visit_technician_received", t.visit.c.technician_id, t.visit.c.received_at)
sa.Index("ix_console_work_order_assigned_status", t.work_order.c.assigned_to, t.work_order.c.status)
