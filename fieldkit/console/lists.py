"""The console's lists: one :class:`ListSpec` each (query, sort key, columns), shared by
the page (keyset-paginated) and its CSV/XLSX export."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fieldkit.console import tables as ct
from fieldkit.console.filters import Filters, day_bounds
from fieldkit.console.paging import Page, batches, keyset
from fieldkit.sync.server import tables as t
from fieldkit.sync.server.db import reading

MAX_EXPORT = 100_000
COMPLAINT_STAGES = ("accepted", "dispatched", "handled", "confirmed", "closed")


@dataclass(frozen=True)
class Scope:
    """What a query needs besides the filters: the console's time zone and today there."""

    tz: Any
    today: date


@dataclass(frozen=True)
class ListSpec:
    name: str
    columns: tuple[tuple[str, str], ...]  # (row key, English column heading = msgid)
    statuses: tuple[str, ...]
    build: Callable[[Filters, Scope], sa.Select]
    key: Callable[[], tuple[Any, ...]]
    row: Callable[[Any, Scope], dict[str, Any]]
    descending: bool = True
    # A query finding an exact (indexed) match for ``q``: when there is one, the list
    # shows exact matches only and skips the slower text search.
    exact_probe: Callable[[str], sa.Select] | None = None


def _address(customer: dict[str, Any] | None) -> str:
    a = (customer or {}).get("address") or {}
    parts = [a.get("community"), a.get("building"), a.get("unit"), a.get("floor"), a.get("room")]
    text = "-".join(str(p) for p in parts if p)
    return " ".join(p for p in (text, a.get("detail") or "") if p)


def _like(column: Any, q: str) -> Any:
    return column.contains(q, autoescape=True)


# ----------------------------------------------------------------------------- work orders
def _work_orders(f: Filters, s: Scope) -> sa.Select:
    w, v = t.work_order, t.visit
    received = (
        sa.select(sa.func.max(v.c.received_at)).where(v.c.work_order_id == w.c.id).scalar_subquery()
    )
    query = sa.select(w, received.label("visit_received_at"))
    if f.technician:
        query = query.where(w.c.assigned_to == f.technician)
    if f.visit_type:
        query = query.where(w.c.visit_type == f.visit_type)
    if f.status:
        query = query.where(w.c.status == f.status)
    if f.date_from:
        query = query.where(w.c.scheduled_for >= f.date_from)
    if f.date_to:
        query = query.where(w.c.scheduled_for <= f.date_to)
    if f.q and f.exact:
        query = query.where(sa.or_(w.c.order_no == f.q, w.c.customer_no == f.q))
    elif f.q:
        c = w.c.customer
        query = query.where(
            sa.or_(
                _like(c["name"].as_string(), f.q),
                _like(c["phone"].as_string(), f.q),
                _like(c["address"]["community"].as_string(), f.q),
                _like(c["address"]["detail"].as_string(), f.q),
            )
        )
    return query


def _work_order_row(r: Any, _s: Scope) -> dict[str, Any]:
    return {
        "id": r.id,
        "order_no": r.order_no,
        "visit_type": r.visit_type,
        "customer_no": r.customer_no,
        "customer_name": (r.customer or {}).get("name") or "",
        "address": _address(r.customer),
        "assigned_to": r.assigned_to,
        "scheduled_for": r.scheduled_for,
        "status": r.status,
        "notes": r.notes or "",
        "updated_at": r.updated_at,
        "visit_received_at": r.visit_received_at,
    }


WORK_ORDERS = ListSpec(
    name="work_orders",
    columns=(
        ("order_no", "Order no."),
        ("visit_type", "Type"),
        ("customer_no", "Customer no."),
        ("customer_name", "Customer"),
        ("address", "Address"),
        ("assigned_to", "Technician"),
        ("scheduled_for", "Due"),
        ("status", "Status"),
        ("visit_received_at", "Visit received"),
        ("notes", "Notes"),
    ),
    statuses=("open", "cancelled", "done"),
    build=_work_orders,
    key=lambda: (t.work_order.c.cursor,),
    row=_work_order_row,
    exact_probe=lambda q: sa.select(t.work_order.c.id).where(
        sa.or_(t.work_order.c.order_no == q, t.work_order.c.customer_no == q)
    ),
)


# ---------------------------------------------------------------------------------- visits
def _visits(f: Filters, s: Scope) -> sa.Select:
    v = t.visit
    query = sa.select(
        v.c.id,
        v.c.technician_id,
        v.c.visit_type,
        v.c.outcome,
        v.c.customer_no,
        v.c.started_at,
        v.c.ended_at,
        v.c.received_at,
        v.c.payload["customer"].label("customer"),
    )
    lo, hi = day_bounds(s.tz, f.date_from, f.date_to)
    if lo is not None:
        query = query.where(v.c.started_at >= lo)
    if hi is not None:
        query = query.where(v.c.started_at < hi)
    if f.technician:
        query = query.where(v.c.technician_id == f.technician)
    if f.visit_type:
        query = query.where(v.c.visit_type == f.visit_type)
    if f.outcome:
        query = query.where(v.c.outcome == f.outcome)
    if f.q:
        query = query.where(v.c.customer_no == f.q)
    return query


def _visit_row(r: Any, _s: Scope) -> dict[str, Any]:
    return {
        "id": r.id,
        "started_at": r.started_at,
        "technician_id": r.technician_id,
        "visit_type": r.visit_type,
        "outcome": r.outcome,
        "customer_no": r.customer_no,
        "customer_name": (r.customer or {}).get("name") or "",
        "address": _address(r.customer),
        "received_at": r.received_at,
    }


VISITS = ListSpec(
    name="visits",
    columns=(
        ("started_at", "Started"),
        ("technician_id", "Technician"),
        ("visit_type", "Type"),
        ("outcome", "Outcome"),
        ("customer_no", "Customer no."),
        ("customer_name", "Customer"),
        ("address", "Address"),
        ("received_at", "Received"),
        ("id", "Visit id"),
    ),
    statuses=(),
    build=_visits,
    key=lambda: (t.visit.c.started_at, t.visit.c.id),
    row=_visit_row,
)


# --------------------------------------------------------------------------------- hazards
def _hazards(f: Filters, s: Scope) -> sa.Select:
    h = t.hazard
    query = sa.select(h)
    if f.status == "open":
        query = query.where(h.c.status != "fixed")
    elif f.status:
        query = query.where(h.c.status == f.status)
    lo, hi = day_bounds(s.tz, f.date_from, f.date_to)
    if lo is not None:
        query = query.where(h.c.found_at >= lo)
    if hi is not None:
        query = query.where(h.c.found_at < hi)
    if f.technician:
        query = query.where(h.c.technician_id == f.technician)
    if f.q:
        query = query.where(h.c.customer_no == f.q)
    return query


def _hazard_row(r: Any, s: Scope) -> dict[str, Any]:
    return {
        "id": r.id,
        "found_at": r.found_at,
        "level": r.level,
        "status": r.status,
        "deadline": r.deadline,
        "overdue": r.status != "fixed" and r.deadline is not None and r.deadline < s.today,
        "customer_no": r.customer_no,
        "technician_id": r.technician_id,
        "description": r.description,
        "basis": r.basis or "",
        "visit_id": r.visit_id,
    }


HAZARDS = ListSpec(
    name="hazards",
    columns=(
        ("found_at", "Found"),
        ("level", "Level"),
        ("status", "Status"),
        ("deadline", "Deadline"),
        ("customer_no", "Customer no."),
        ("technician_id", "Technician"),
        ("description", "Description"),
        ("basis", "Basis"),
    ),
    statuses=("open", "pending", "rechecking", "fixed"),
    build=_hazards,
    key=lambda: (t.hazard.c.found_at, t.hazard.c.id),
    row=_hazard_row,
)


# ------------------------------------------------------------------------------ follow-ups
def _follow_ups(f: Filters, s: Scope) -> sa.Select:
    fu, v, c = t.follow_up, t.visit, ct.follow_up_call
    attempts = sa.select(sa.func.count()).where(c.c.visit_id == fu.c.visit_id).scalar_subquery()
    query = sa.select(
        fu,
        v.c.visit_type,
        v.c.outcome,
        v.c.started_at,
        v.c.payload["customer"].label("customer"),
        attempts.label("attempts"),
    ).join(v, v.c.id == fu.c.visit_id)
    status = f.status or "pending"
    if status == "done":
        query = query.where(fu.c.called_at.is_not(None))
    else:
        query = query.where(fu.c.called_at.is_(None))
    if status == "due_today":
        query = query.where(fu.c.due_date == s.today)
    elif status == "overdue":
        query = query.where(fu.c.due_date < s.today)
    if f.date_from:
        query = query.where(fu.c.due_date >= f.date_from)
    if f.date_to:
        query = query.where(fu.c.due_date <= f.date_to)
    if f.technician:
        query = query.where(fu.c.technician_id == f.technician)
    if f.visit_type:
        query = query.where(v.c.visit_type == f.visit_type)
    if f.outcome:
        query = query.where(v.c.outcome == f.outcome)
    if f.q:
        query = query.where(fu.c.customer_no == f.q)
    return query


def _follow_up_row(r: Any, s: Scope) -> dict[str, Any]:
    customer = r.customer or {}
    return {
        "visit_id": r.visit_id,
        "due_date": r.due_date,
        "overdue": r.called_at is None and r.due_date < s.today,
        "due_today": r.called_at is None and r.due_date == s.today,
        "customer_no": r.customer_no,
        "customer_name": customer.get("name") or "",
        "phone": customer.get("phone") or "",
        "technician_id": r.technician_id,
        "visit_type": r.visit_type,
        "outcome": r.outcome,
        "started_at": r.started_at,
        "attempts": r.attempts,
        "called_at": r.called_at,
        "called_by": r.called_by or "",
        "satisfaction": r.satisfaction or "",
        "result": r.result or "",
    }


FOLLOW_UPS = ListSpec(
    name="follow_ups",
    columns=(
        ("due_date", "Call by"),
        ("customer_no", "Customer no."),
        ("customer_name", "Customer"),
        ("phone", "Phone"),
        ("technician_id", "Technician"),
        ("visit_type", "Type"),
        ("outcome", "Outcome"),
        ("attempts", "Attempts"),
        ("called_at", "Called"),
        ("called_by", "Called by"),
        ("satisfaction", "Satisfaction"),
        ("result", "Comments"),
    ),
    statuses=("pending", "due_today", "overdue", "done"),
    build=_follow_ups,
    key=lambda: (t.follow_up.c.due_date, t.follow_up.c.visit_id),
    row=_follow_up_row,
    descending=False,
)


# ------------------------------------------------------------------------------ complaints
def _complaints(f: Filters, s: Scope) -> sa.Select:
    c = ct.case
    query = sa.select(c)
    if f.status == "open":
        query = query.where(c.c.stage != "closed")
    elif f.status == "overdue":
        query = query.where(c.c.stage != "closed", c.c.deadline < s.today)
    elif f.status:
        query = query.where(c.c.stage == f.status)
    lo, hi = day_bounds(s.tz, f.date_from, f.date_to)
    if lo is not None:
        query = query.where(c.c.created_at >= lo)
    if hi is not None:
        query = query.where(c.c.created_at < hi)
    if f.technician:
        query = query.where(c.c.assigned_to == f.technician)
    if f.q:
        query = query.where(sa.or_(c.c.case_no == f.q, c.c.customer_no == f.q))
    return query


def _complaint_row(r: Any, s: Scope) -> dict[str, Any]:
    return {
        "id": r.id,
        "case_no": r.case_no,
        "stage": r.stage,
        "overdue": r.stage != "closed" and r.deadline is not None and r.deadline < s.today,
        "created_at": r.created_at,
        "customer_no": r.customer_no,
        "complainant": r.complainant,
        "channel": r.channel,
        "content": r.content,
        "assigned_to": r.assigned_to or "",
        "deadline": r.deadline,
        "closed_at": r.closed_at,
    }


COMPLAINTS = ListSpec(
    name="complaints",
    columns=(
        ("case_no", "Case no."),
        ("stage", "Stage"),
        ("created_at", "Received"),
        ("customer_no", "Customer no."),
        ("complainant", "Complainant"),
        ("channel", "Channel"),
        ("content", "Complaint"),
        ("assigned_to", "Assigned to"),
        ("deadline", "Deadline"),
        ("closed_at", "Closed"),
    ),
    statuses=("open", "overdue", *COMPLAINT_STAGES),
    build=_complaints,
    key=lambda: (ct.case.c.created_at, ct.case.c.id),
    row=_complaint_row,
)


# ----------------------------------------------------------------------------- technicians
def _technicians(f: Filters, s: Scope) -> sa.Select:
    a, w, v, tk = t.account, t.work_order, t.visit, t.token
    open_orders = (
        sa.select(sa.func.count())
        .where(w.c.assigned_to == a.c.login, w.c.status == "open")  # cancelled: not open
        .scalar_subquery()
    )
    last_push = (
        sa.select(sa.func.max(v.c.received_at))
        .where(v.c.technician_id == a.c.login)
        .scalar_subquery()
    )
    devices = (
        sa.select(sa.func.count())
        .where(tk.c.account_id == a.c.id, tk.c.revoked_at.is_(None))
        .scalar_subquery()
    )
    query = sa.select(
        a.c.login,
        a.c.name,
        a.c.disabled,
        open_orders.label("open_orders"),
        last_push.label("last_push"),
        devices.label("devices"),
    ).where(a.c.role == "technician")
    if f.q:
        query = query.where(sa.or_(_like(a.c.login, f.q), _like(a.c.name, f.q)))
    return query


TECHNICIANS = ListSpec(
    name="technicians",
    columns=(
        ("login", "Technician"),
        ("name", "Name"),
        ("open_orders", "Open orders"),
        ("last_push", "Last sync"),
        ("devices", "Active devices"),
    ),
    statuses=(),
    build=_technicians,
    key=lambda: (t.account.c.login,),
    row=lambda r, _s: dict(r._mapping),
    descending=False,
)


# ----------------------------------------------------------------------------------- audit
def _audit(f: Filters, s: Scope) -> sa.Select:
    a = ct.audit_log
    query = sa.select(a)
    if f.technician:
        query = query.where(a.c.actor == f.technician)
    lo, hi = day_bounds(s.tz, f.date_from, f.date_to)
    if lo is not None:
        query = query.where(a.c.at >= lo)
    if hi is not None:
        query = query.where(a.c.at < hi)
    if f.q:
        query = query.where(a.c.target == f.q)
    return query


AUDIT = ListSpec(
    name="audit",
    columns=(
        ("at", "When"),
        ("actor", "Who"),
        ("action", "Action"),
        ("target", "Record"),
        ("detail", "Changes"),
    ),
    statuses=(),
    build=_audit,
    key=lambda: (ct.audit_log.c.at, ct.audit_log.c.id),
    row=lambda r, _s: dict(r._mapping),
)


def _narrow(conn: Any, spec: ListSpec, f: Filters) -> Filters:
    if spec.exact_probe is None or not f.q:
        return f
    found = conn.execute(spec.exact_probe(f.q).limit(1)).first()
    return replace(f, exact=found is not None)


def page(
    engine: Engine, spec: ListSpec, f: Filters, s: Scope, after: str | None, size: int
) -> Page:
    with reading(engine) as conn:
        f = _narrow(conn, spec, f)
        result = keyset(conn, spec.build(f, s), spec.key(), after, size, descending=spec.descending)
    result.rows = [spec.row(r, s) for r in result.rows]
    return result


def every_row(engine: Engine, spec: ListSpec, f: Filters, s: Scope) -> Iterator[dict[str, Any]]:
    """All rows of a list (at most :data:`MAX_EXPORT`), for an export."""
    with reading(engine) as conn:
        f = _narrow(conn, spec, f)
        for r in batches(
            conn, spec.build(f, s), spec.key(), MAX_EXPORT, descending=spec.descending
        ):
            yield spec.row(r, s)
