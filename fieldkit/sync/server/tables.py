"""The server's tables (SQLAlchemy Core), shared by PostgreSQL and SQLite.

Every visit is stored as its full payload JSON as received (with its content hash, the
record of evidence), plus the rows the back office lists and updates (hazards, follow-up
calls, meter swaps). Its runs, step results and measurements are views of the payload
(migration ``0009_child_tables_as_views``): :data:`views` describes them for queries.
Complaints are logged by the back office against a visit.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()
# Views (not tables) the migrations make: described here for queries only, kept out of
# ``metadata`` so schema comparisons and ``create_all`` never take them for tables.
views = sa.MetaData()

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Ts = sa.DateTime(timezone=True)

account = sa.Table(
    "account",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("login", sa.String(200), nullable=False, unique=True),  # technician id (工号)
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("role", sa.String(16), nullable=False),  # "admin" | "technician"
    sa.Column("created_at", Ts, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
)

token = sa.Table(
    "token",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),  # public short id (shown, revocable)
    sa.Column("account_id", sa.Uuid, sa.ForeignKey("account.id"), nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),  # sha256 hex
    sa.Column("label", sa.String(200), nullable=True),
    sa.Column("created_at", Ts, nullable=False),
    sa.Column("revoked_at", Ts, nullable=True),
)

counter = sa.Table(
    "counter",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

work_order = sa.Table(
    "work_order",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("order_no", sa.String(200), nullable=False, unique=True),
    sa.Column("visit_type", sa.String(32), nullable=False),
    sa.Column("customer_no", sa.String(200), nullable=False, index=True),
    sa.Column("customer", Json, nullable=False),  # CustomerPayload JSON
    sa.Column("assigned_to", sa.String(200), nullable=False, index=True),
    sa.Column("previous_assignee", sa.String(200), nullable=True, index=True),
    sa.Column("scheduled_for", sa.Date, nullable=True),
    sa.Column("notes", sa.Text, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Column("cursor", sa.BigInteger, nullable=False, unique=True),
    sa.Column("created_at", Ts, nullable=False),
    sa.Column("updated_at", Ts, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=True),
)

visit = sa.Table(
    "visit",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("payload", Json, nullable=False),
    sa.Column("technician_id", sa.String(200), nullable=False),  # ix_visit_technician_page
    sa.Column("work_order_id", sa.Uuid, nullable=True, index=True),
    sa.Column("visit_type", sa.String(32), nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False, index=True),
    sa.Column("customer_no", sa.String(200), nullable=False, index=True),
    sa.Column("started_at", Ts, nullable=False),
    sa.Column("ended_at", Ts, nullable=False),
    sa.Column("visit_date", sa.Date, nullable=False, index=True),
    sa.Column("received_at", Ts, nullable=False),
    sa.Index("ix_visit_page", "started_at", "id"),
    sa.Index("ix_visit_technician_page", "technician_id", "started_at", "id"),
)

procedure_run = sa.Table(  # a view of visit.payload
    "procedure_run",
    views,
    sa.Column("visit_id", sa.Uuid, primary_key=True),
    sa.Column("id", sa.Uuid, primary_key=True),  # unique within its visit only
    sa.Column("procedure_id", sa.String(200), nullable=False),
    sa.Column("procedure_version", sa.Integer, nullable=False),
    sa.Column("status", sa.String(200), nullable=False),
    sa.Column("started_at", Ts, nullable=False),
    sa.Column("ended_at", Ts, nullable=True),
)

step_result = sa.Table(  # a view of visit.payload
    "step_result",
    views,
    sa.Column("visit_id", sa.Uuid, primary_key=True),
    sa.Column("id", sa.Uuid, primary_key=True),  # unique within its visit only
    sa.Column("run_id", sa.Uuid, nullable=False),
    sa.Column("step_id", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(200), nullable=False),
    sa.Column("value", Json, nullable=False),
    sa.Column("passed", sa.Boolean, nullable=True),
    sa.Column("at", Ts, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
)

measurement = sa.Table(  # a view of visit.payload
    "measurement",
    views,
    sa.Column("visit_id", sa.Uuid, primary_key=True),
    sa.Column("id", sa.Uuid, primary_key=True),  # unique within its visit only
    sa.Column("run_id", sa.Uuid, nullable=False),
    sa.Column("step_id", sa.String(200), nullable=False),
    sa.Column("quantity", sa.String(200), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("unit", sa.String(200), nullable=False),
    sa.Column("taken_at", Ts, nullable=False),
)

meter_swap = sa.Table(
    "meter_swap",
    metadata,
    sa.Column("visit_id", sa.Uuid, sa.ForeignKey("visit.id"), primary_key=True),
    sa.Column("id", sa.Uuid, primary_key=True),  # unique within its visit only
    sa.Column("customer_no", sa.String(200), nullable=False, index=True),
    sa.Column("old_meter_no", sa.String(200), nullable=False, index=True),
    sa.Column("new_meter_no", sa.String(200), nullable=False, index=True),
    sa.Column("seal_nos", Json, nullable=False),
    sa.Column("old_meter_reading", sa.Float, nullable=True),
    sa.Column("gas_used", sa.Float, nullable=True),
    sa.Column("gas_remaining", sa.Float, nullable=True),
    sa.Column("swapped_at", Ts, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Index("ix_meter_swap_page", "swapped_at", "visit_id", "id"),
)

hazard = sa.Table(
    "hazard",
    metadata,
    # A hazard belongs to a customer's premises: its id is unique for that customer only,
    # so a visit elsewhere can never change it.
    sa.Column("customer_no", sa.String(200), primary_key=True),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("visit_id", sa.Uuid, nullable=False, index=True),  # first reported in
    sa.Column("last_visit_id", sa.Uuid, nullable=False),  # latest status came from
    sa.Column("technician_id", sa.String(200), nullable=False, index=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("level", sa.String(16), nullable=False),  # major 重大 / general 一般
    sa.Column("status", sa.String(16), nullable=False, index=True),  # pending/rechecking/fixed
    sa.Column("found_at", Ts, nullable=False),
    sa.Column("deadline", sa.Date, nullable=True),  # 整改期限
    sa.Column("basis", sa.Text, nullable=True),
    sa.Column("refusal_code", sa.String(32), nullable=True),  # its 不予通气 class, if one
    sa.Column("fixed_at", Ts, nullable=True),  # when it was recorded 已整改
    sa.Column("updated_at", Ts, nullable=False),
    sa.Index("ix_hazard_open_page", "status", "found_at", "customer_no", "id"),
)

follow_up = sa.Table(
    "follow_up",
    metadata,
    sa.Column("visit_id", sa.Uuid, sa.ForeignKey("visit.id"), primary_key=True),
    sa.Column("technician_id", sa.String(200), nullable=False, index=True),
    sa.Column("customer_no", sa.String(200), nullable=False),
    sa.Column("due_date", sa.Date, nullable=False),  # ix_follow_up_page
    sa.Column("called_at", Ts, nullable=True),
    sa.Column("called_by", sa.String(200), nullable=True),
    sa.Column("result", sa.Text, nullable=True),
    sa.Column("satisfaction", sa.String(32), nullable=True),
    sa.Index("ix_follow_up_page", "due_date", "visit_id"),
)

complaint = sa.Table(
    "complaint",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("visit_id", sa.Uuid, sa.ForeignKey("visit.id"), nullable=False, index=True),
    sa.Column("logged_at", Ts, nullable=False),
    sa.Column("logged_by", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),  # open / closed
    sa.Column("closed_at", Ts, nullable=True),
    sa.Column("closed_by", sa.String(200), nullable=True),
    sa.Column("result", sa.Text, nullable=True),
    sa.Index("ix_complaint_page", "logged_at", "id"),
)

work_order_holder = sa.Table(
    "work_order_holder",
    metadata,
    # Every technician who ever held an order: each of them pulls its tombstone when it is
    # taken away or cancelled, however many times it was reassigned since.
    sa.Column("technician_id", sa.String(200), primary_key=True),
    sa.Column("work_order_id", sa.Uuid, sa.ForeignKey("work_order.id"), primary_key=True),
    sa.Column("since", Ts, nullable=False),
)

server_identity = sa.Table(
    "server_identity",
    metadata,
    # One row. The epoch laptops compare: a new database (or a restore, which bumps the
    # generation) makes them re-pull every work order.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("database_id", sa.Uuid, nullable=False),
    sa.Column("restore_generation", sa.Integer, nullable=False),
    sa.Column("created_at", Ts, nullable=False),
    sa.Column("restored_at", Ts, nullable=True),
)

WORK_ORDER_COUNTER = "work_order"

# The web console's tables share this metadata (one migration chain); see fieldkit.console.
import fieldkit.console.tables  # noqa: E402, F401

# Visits the server's re-derived safety state flagged (issue 8; fieldkit.sync.server.safety_flags).
visit_safety_flag = sa.Table(
    "visit_safety_flag",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("visit_id", sa.Uuid, nullable=False, index=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("flagged_at", Ts, nullable=False),
    sa.Index("ix_visit_safety_flag_flagged_at_id", "flagged_at", "id"),
)
