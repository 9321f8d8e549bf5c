"""The console's lists: one :class:`ListSpec` each, declared rather than coded — what it
selects, which filter reads which column, its sort key and columns — shared by the page
(keyset-paginated) and its CSV/XLSX export."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fieldkit.console import tables as ct
from fieldkit.console.filters import Filters, day_bounds
from fieldkit.console.flags import FLAG_KINDS, explain
from fieldkit.console.paging import Page, batches, keyset
from fieldkit.sync.server import tables as t
from fieldkit.sync.server.db import reading

MAX_EXPORT = 100_000
COMPLAINT_STAGES = ("accepted", "dispatched", "handled", "confirmed", "closed")


def _same(text: str) -> str:
    return text


@dataclass(frozen=True)
class Scope:
    """What a query needs besides the filters: the console's time zone and today there (and
    the reader's language, for text a list composes)."""

    tz: Any
    today: date
    translate: Callable[[str], str] = _same


# A filter: the SQL conditions one request's filters add (none when its field is empty).
Where = Callable[[Filters, Scope], list[Any]]
# A status (or other choice) value: the condition it stands for.
Choice = Callable[[Scope], Any]


def on_days(column: Any) -> Where:
    """``date_from``/``date_to`` on a timestamp: whole days in the console's time zone."""

    def where(f: Filters, s: Scope) -> list[Any]:
        lo, hi = day_bounds(s.tz, f.date_from, f.date_to)
        return ([column >= lo] if lo is not None else []) + (
            [column < hi] if hi is not None else []
        )

    return where


def on_dates(column: Any) -> Where:
    """``date_from``/``date_to`` on a date column (inclusive)."""

    def where(f: Filters, _s: Scope) -> list[Any]:
        return ([column >= f.date_from] if f.date_from else []) + (
            [column <= f.date_to] if f.date_to else []
        )

    return where


def equal(field: str, *columns: Any) -> Where:
    """The filter ``field`` equals one of ``columns``."""

    def where(f: Filters, _s: Scope) -> list[Any]:
        value = getattr(f, field)
        if not value:
            return []
        return [sa.or_(*(c == value for c in columns))]

    return where


def choice(field: str, choices: Mapping[str, Choice], default: str | None = None) -> Where:
    """The filter ``field`` picks a named condition (``default`` when it is empty)."""

    def where(f: Filters, s: Scope) -> list[Any]:
        value = getattr(f, field) or default
        return [choices[value](s)] if value else []

    return where


def _is(column: Any, value: str) -> Choice:
    return lambda _s: column == value


@dataclass(frozen=True)
class ListSpec:
    name: str
    columns: tuple[tuple[str, str], ...]  # (row key, English column heading = msgid)
    select: Callable[[], sa.Select]
    filters: tuple[Where, ...]
    key: Callable[[], tuple[Any, ...]]
    row: Callable[[Any, Scope], dict[str, Any]] = lambda r, _s: dict(r._mapping)
    statuses: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    descending: bool = True
    # A query finding an exact (indexed) match for ``q``: when there is one, the list
    # shows exact matches only and skips the slower text search.
    exact_probe: Callable[[str], sa.Select] | None = None

    def build(self, f: Filters, s: Scope) -> sa.Select:
        query = self.select()
        for where in self.filters:
            conditions = where(f, s)
            if conditions:
                query = query.where(*conditions)
        return query


def _address(customer: dict[str, Any] | None) -> str:
    a = (customer or {}).get("address") or {}
    parts = [a.get("community"), a.get("building"), a.get("unit"), a.get("floor"), a.get("room")]
    text = "-".join(str(p) for p in parts if p)
    return " ".join(p for p in (text, a.get("detail") or "") if p)


def _customer(r: Any) -> dict[str, Any]:
    customer = r.customer or {}
    return {"customer_name": customer.get("name") or "", "address": _address(customer)}


def _like(column: Any, q: str) -> Any:
    return column.contains(q, autoescape=True)


# ----------------------------------------------------------------------------- work orders
W = t.work_order


def _work_orders() -> sa.Select:
    v = t.visit
    received = (
        sa.select(sa.func.max(v.c.received_at)).where(v.c.work_order_id == W.c.id).scalar_subquery()
    )
    return sa.select(W, received.label("visit_received_at"))


def _order_search(f: Filters, _s: Scope) -> list[Any]:
    if not f.q:
        return []
    if f.exact:
        return [sa.or_(W.c.order_no == f.q, W.c.customer_no == f.q)]
    c = W.c.customer
    fields = (c["name"], c["phone"], c["address"]["community"], c["address"]["detail"])
    return [sa.or_(*(_like(field.as_string(), f.q) for field in fields))]


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
    select=_work_orders,
    filters=(
        equal("technician", W.c.assigned_to),
        equal("visit_type", W.c.visit_type),
        equal("status", W.c.status),
        on_dates(W.c.scheduled_for),
        _order_search,
    ),
    key=lambda: (W.c.cursor,),
    row=lambda r, _s: {**r._mapping, **_customer(r), "notes": r.notes or ""},
    exact_probe=lambda q: sa.select(W.c.id).where(sa.or_(W.c.order_no == q, W.c.customer_no == q)),
)


# ---------------------------------------------------------------------------------- visits
V = t.visit
VISIT_COLUMNS = (
    V.c.technician_id,
    V.c.visit_type,
    V.c.outcome,
    V.c.customer_no,
    V.c.started_at,
    V.c.payload["customer"].label("customer"),
)

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
    select=lambda: sa.select(V.c.id, *VISIT_COLUMNS, V.c.ended_at, V.c.received_at),
    filters=(
        on_days(V.c.started_at),
        equal("technician", V.c.technician_id),
        equal("visit_type", V.c.visit_type),
        equal("outcome", V.c.outcome),
        equal("q", V.c.customer_no),
    ),
    key=lambda: (V.c.started_at, V.c.id),
    row=lambda r, _s: {**r._mapping, **_customer(r)},
)


# --------------------------------------------------------------------------------- hazards
H = t.hazard
HAZARD_STATUSES = ("pending", "rechecking", "fixed")
OPEN_HAZARD_STATUSES = ("pending", "rechecking")

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
    statuses=("open", *HAZARD_STATUSES),
    select=lambda: sa.select(H),
    filters=(
        choice(
            "status",
            # "open" as the statuses it stands for (not != fixed): an index on
            # (technician, status, found_at) can serve a technician's open hazards.
            {"open": lambda _s: H.c.status.in_(OPEN_HAZARD_STATUSES)}
            | {s: _is(H.c.status, s) for s in HAZARD_STATUSES},
        ),
        on_days(H.c.found_at),
        equal("technician", H.c.technician_id),
        equal("q", H.c.customer_no),
    ),
    key=lambda: (H.c.found_at, H.c.id),
    row=lambda r, s: {
        **r._mapping,
        "overdue": r.status != "fixed" and r.deadline is not None and r.deadline < s.today,
        "basis": r.basis or "",
    },
)


# ------------------------------------------------------------------------------ follow-ups
FU = t.follow_up
FOLLOW_UP_OPEN = FU.c.called_at.is_(None)


def _follow_ups() -> sa.Select:
    c = ct.follow_up_call
    attempts = sa.select(sa.func.count()).where(c.c.visit_id == FU.c.visit_id).scalar_subquery()
    return sa.select(
        FU,
        V.c.visit_type,
        V.c.outcome,
        V.c.started_at,
        V.c.payload["customer"].label("customer"),
        attempts.label("attempts"),
    ).join(V, V.c.id == FU.c.visit_id)


def _follow_up_row(r: Any, s: Scope) -> dict[str, Any]:
    customer = r.customer or {}
    return {
        **r._mapping,
        "overdue": r.called_at is None and r.due_date < s.today,
        "due_today": r.called_at is None and r.due_date == s.today,
        "customer_name": customer.get("name") or "",
        "phone": customer.get("phone") or "",
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
    select=_follow_ups,
    filters=(
        choice(
            "status",
            {
                "pending": lambda _s: FOLLOW_UP_OPEN,
                "due_today": lambda s: sa.and_(FOLLOW_UP_OPEN, FU.c.due_date == s.today),
                "overdue": lambda s: sa.and_(FOLLOW_UP_OPEN, FU.c.due_date < s.today),
                "done": lambda _s: FU.c.called_at.is_not(None),
            },
            default="pending",
        ),
        on_dates(FU.c.due_date),
        equal("technician", FU.c.technician_id),
        equal("visit_type", V.c.visit_type),
        equal("outcome", V.c.outcome),
        equal("q", FU.c.customer_no),
    ),
    key=lambda: (FU.c.due_date, FU.c.visit_id),
    row=_follow_up_row,
    descending=False,
)


# ------------------------------------------------------------------------------ complaints
CASE = ct.case
CASE_OPEN = CASE.c.stage != "closed"

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
    select=lambda: sa.select(CASE),
    filters=(
        choice(
            "status",
            {
                "open": lambda _s: CASE_OPEN,
                "overdue": lambda s: sa.and_(CASE_OPEN, CASE.c.deadline < s.today),
            }
            | {stage: _is(CASE.c.stage, stage) for stage in COMPLAINT_STAGES},
        ),
        on_days(CASE.c.created_at),
        equal("technician", CASE.c.assigned_to),
        equal("q", CASE.c.case_no, CASE.c.customer_no),
    ),
    key=lambda: (CASE.c.created_at, CASE.c.id),
    row=lambda r, s: {
        **r._mapping,
        "overdue": r.stage != "closed" and r.deadline is not None and r.deadline < s.today,
        "assigned_to": r.assigned_to or "",
    },
)


# ----------------------------------------------------------------------------- technicians
def _technicians() -> sa.Select:
    a, tk = t.account, t.token
    open_orders = (
        sa.select(sa.func.count())
        .where(W.c.assigned_to == a.c.login, W.c.status == "open")  # cancelled: not open
        .scalar_subquery()
    )
    last_push = (
        sa.select(sa.func.max(V.c.received_at))
        .where(V.c.technician_id == a.c.login)
        .scalar_subquery()
    )
    devices = (
        sa.select(sa.func.count())
        .where(tk.c.account_id == a.c.id, tk.c.revoked_at.is_(None))
        .scalar_subquery()
    )
    return sa.select(
        a.c.login,
        a.c.name,
        a.c.disabled,
        open_orders.label("open_orders"),
        last_push.label("last_push"),
        devices.label("devices"),
    ).where(a.c.role == "technician")


def _technician_search(f: Filters, _s: Scope) -> list[Any]:
    a = t.account
    return [sa.or_(_like(a.c.login, f.q), _like(a.c.name, f.q))] if f.q else []


TECHNICIANS = ListSpec(
    name="technicians",
    columns=(
        ("login", "Technician"),
        ("name", "Name"),
        ("open_orders", "Open orders"),
        ("last_push", "Last sync"),
        ("devices", "Active devices"),
    ),
    select=_technicians,
    filters=(_technician_search,),
    key=lambda: (t.account.c.login,),
    descending=False,
)


# ----------------------------------------------------------------------------------- audit
AUDIT_LOG = ct.audit_log

AUDIT = ListSpec(
    name="audit",
    columns=(
        ("at", "When"),
        ("actor", "Who"),
        ("action", "Action"),
        ("target", "Record"),
        ("detail", "Changes"),
    ),
    select=lambda: sa.select(AUDIT_LOG),
    filters=(
        equal("technician", AUDIT_LOG.c.actor),
        on_days(AUDIT_LOG.c.at),
        equal("q", AUDIT_LOG.c.target),
    ),
    key=lambda: (AUDIT_LOG.c.at, AUDIT_LOG.c.id),
)


# ---------------------------------------------------------------------------- safety audit
FLAG = t.visit_safety_flag

SAFETY = ListSpec(
    name="safety",
    columns=(
        ("flagged_at", "Flagged"),
        ("kind", "Flag"),
        ("reason", "Why flagged"),
        ("started_at", "Visit started"),
        ("technician_id", "Technician"),
        ("customer_no", "Customer no."),
        ("customer_name", "Customer"),
        ("visit_type", "Type"),
        ("outcome", "Outcome"),
        ("detail", "Server's record"),
    ),
    kinds=FLAG_KINDS,
    select=lambda: sa.select(FLAG, *VISIT_COLUMNS).join(V, V.c.id == FLAG.c.visit_id),
    filters=(
        # Like every list, dates filter the sort key (here: when the server flagged the
        # visit, i.e. received it), which its index serves at any scale.
        on_days(FLAG.c.flagged_at),
        equal("technician", V.c.technician_id),
        equal("kind", FLAG.c.kind),
        equal("q", V.c.customer_no),
    ),
    key=lambda: (FLAG.c.flagged_at, FLAG.c.id),
    row=lambda r, s: {
        **r._mapping,
        **_customer(r),
        "flagged": True,
        "reason": explain(r.kind, r.detail, s.translate, s.tz),
    },
)

ALL = (WORK_ORDERS, VISITS, HAZARDS, FOLLOW_UPS, COMPLAINTS, TECHNICIANS, AUDIT, SAFETY)


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
