"""The back office's lists: visits, open hazards, follow-up calls, meter swaps, complaints.

Every list is keyset-paginated (:mod:`fieldkit.sync.server.pages`), filterable and bounded
(at most :data:`~fieldkit.sync.server.pages.MAX_LIMIT` rows a page). A technician sees
only their own rows; an admin sees all and may filter by technician.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fieldkit.i18n import N_
from fieldkit.sync.server import tables as t
from fieldkit.sync.server.auth import Principal
from fieldkit.sync.server.errors import ServiceError, require_admin
from fieldkit.sync.server.pages import DEFAULT_LIMIT, page

Page = dict[str, Any]
OPEN_HAZARD_STATUSES = ("pending", "rechecking")


def _own(principal: Principal, technician_id: str | None, what: str) -> str | None:
    """The technician filter a caller may use: a technician only their own."""
    if principal.is_admin:
        return technician_id
    if technician_id is not None and technician_id != principal.login:
        raise ServiceError(
            "forbidden",
            N_("a technician can read only their own {what}"),
            403,
            params={"what": what},
        )
    return principal.login


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def list_visits(
    engine: Engine,
    principal: Principal,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    technician_id: str | None = None,
    outcome: str | None = None,
    customer_no: str | None = None,
    after: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page:
    """Visits by date range (UTC days of ``started_at``), technician, outcome, customer."""
    v = t.visit
    query = sa.select(
        v.c.id,
        v.c.technician_id,
        v.c.work_order_id,
        v.c.visit_type,
        v.c.outcome,
        v.c.customer_no,
        v.c.visit_date,
        v.c.started_at,
        v.c.content_hash,
    )
    technician_id = _own(principal, technician_id, "visits")
    if technician_id is not None:
        query = query.where(v.c.technician_id == technician_id)
    if date_from is not None:
        query = query.where(v.c.started_at >= _day_start(date_from))
    if date_to is not None and date_to < date.max:
        query = query.where(v.c.started_at < _day_start(date_to + timedelta(days=1)))
    if outcome is not None:
        query = query.where(v.c.outcome == outcome)
    if customer_no is not None:
        query = query.where(v.c.customer_no == customer_no)

    def row(r: Any) -> dict[str, Any]:
        return {
            "visit_id": str(r.id),
            "technician_id": r.technician_id,
            "work_order_id": str(r.work_order_id) if r.work_order_id else None,
            "visit_type": r.visit_type,
            "outcome": r.outcome,
            "customer_no": r.customer_no,
            "visit_date": r.visit_date.isoformat(),
            "started_at": r.started_at.astimezone(UTC).isoformat(),
            "content_hash": r.content_hash,
        }

    return page(engine, query, [v.c.started_at, v.c.id], after=after, limit=limit, row=row)


def list_hazards(
    engine: Engine,
    principal: Principal,
    *,
    status: str = "open",
    level: str | None = None,
    customer_no: str | None = None,
    technician_id: str | None = None,
    after: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page:
    """Hazards: still open (待整改 pending and 复查中 rechecking) by default, or one status, or
    all; oldest found first."""
    h = t.hazard
    query = sa.select(h)
    if status == "open":
        query = query.where(h.c.status.in_(OPEN_HAZARD_STATUSES))
    elif status != "all":
        query = query.where(h.c.status == status)
    if level is not None:
        query = query.where(h.c.level == level)
    if customer_no is not None:
        query = query.where(h.c.customer_no == customer_no)
    technician_id = _own(principal, technician_id, "hazards")
    if technician_id is not None:
        query = query.where(h.c.technician_id == technician_id)

    def row(r: Any) -> dict[str, Any]:
        return {
            "hazard_id": str(r.id),
            "visit_id": str(r.visit_id),
            "last_visit_id": str(r.last_visit_id),
            "technician_id": r.technician_id,
            "customer_no": r.customer_no,
            "description": r.description,
            "level": r.level,
            "status": r.status,
            "found_at": r.found_at.astimezone(UTC).isoformat(),
            "deadline": r.deadline.isoformat() if r.deadline else None,
            "basis": r.basis,
            "refusal_code": r.refusal_code,
            "fixed_at": r.fixed_at.astimezone(UTC).isoformat() if r.fixed_at else None,
        }

    order = [h.c.status, h.c.found_at, h.c.customer_no, h.c.id]
    return page(engine, query, order, after=after, limit=limit, row=row)


def list_meter_swaps(
    engine: Engine,
    principal: Principal,
    *,
    customer_no: str | None = None,
    meter_no: str | None = None,
    after: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page:
    """Meter swaps (换表), by customer or by a meter number (old or new)."""
    m = t.meter_swap
    query = sa.select(m, t.visit.c.technician_id).join(t.visit, t.visit.c.id == m.c.visit_id)
    if not principal.is_admin:
        query = query.where(t.visit.c.technician_id == principal.login)
    if customer_no is not None:
        query = query.where(m.c.customer_no == customer_no)
    if meter_no is not None:
        query = query.where(sa.or_(m.c.old_meter_no == meter_no, m.c.new_meter_no == meter_no))

    def row(r: Any) -> dict[str, Any]:
        return {
            "swap_id": str(r.id),
            "visit_id": str(r.visit_id),
            "technician_id": r.technician_id,
            "customer_no": r.customer_no,
            "old_meter_no": r.old_meter_no,
            "new_meter_no": r.new_meter_no,
            "seal_nos": list(r.seal_nos),
            "old_meter_reading": r.old_meter_reading,
            "gas_used": r.gas_used,
            "gas_remaining": r.gas_remaining,
            "swapped_at": r.swapped_at.astimezone(UTC).isoformat(),
            "reason": r.reason,
        }

    order = [m.c.swapped_at, m.c.visit_id, m.c.id]
    return page(engine, query, order, after=after, limit=limit, row=row)


def list_follow_ups(
    engine: Engine,
    principal: Principal,
    *,
    due_by: date | None = None,
    pending: bool = True,
    technician_id: str | None = None,
    after: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page:
    """Follow-up calls (回访, within 3 days of the visit): those not yet made by default."""
    f = t.follow_up
    query = sa.select(f)
    if pending:
        query = query.where(f.c.called_at.is_(None))
    if due_by is not None:
        query = query.where(f.c.due_date <= due_by)
    technician_id = _own(principal, technician_id, "follow-up calls")
    if technician_id is not None:
        query = query.where(f.c.technician_id == technician_id)

    def row(r: Any) -> dict[str, Any]:
        return {
            "visit_id": str(r.visit_id),
            "technician_id": r.technician_id,
            "customer_no": r.customer_no,
            "due_date": r.due_date.isoformat(),
            "called_at": r.called_at.astimezone(UTC).isoformat() if r.called_at else None,
            "called_by": r.called_by,
            "result": r.result,
            "satisfaction": r.satisfaction,
        }

    return page(engine, query, [f.c.due_date, f.c.visit_id], after=after, limit=limit, row=row)


def list_complaints(
    engine: Engine,
    principal: Principal,
    *,
    open_only: bool = True,
    after: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page:
    require_admin(principal)
    c = t.complaint
    query = sa.select(c)
    if open_only:
        query = query.where(c.c.status == "open")

    def row(r: Any) -> dict[str, Any]:
        return {
            "complaint_id": str(r.id),
            "visit_id": str(r.visit_id),
            "logged_at": r.logged_at.astimezone(UTC).isoformat(),
            "logged_by": r.logged_by,
            "description": r.description,
            "status": r.status,
            "closed_at": r.closed_at.astimezone(UTC).isoformat() if r.closed_at else None,
            "result": r.result,
        }

    return page(engine, query, [c.c.logged_at, c.c.id], after=after, limit=limit, row=row)
