"""What console users change: work orders, technicians' devices, follow-up calls and
complaint cases. Each change is checked here (not in the page) and audited."""

from __future__ import annotations

import itertools
import secrets
import uuid
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from fieldkit.console import tables as ct
from fieldkit.console.audit import record
from fieldkit.console.errors import UserError
from fieldkit.console.lists import COMPLAINT_STAGES
from fieldkit.console.staff import Staff
from fieldkit.sync.schema import VISIT_TYPES, Address, CustomerPayload
from fieldkit.sync.server import auth, service
from fieldkit.sync.server import tables as t
from fieldkit.sync.server.auth import Principal

MAX_TEXT = 4000
CHANNELS = ("phone", "hotline", "counter", "online", "follow_up")
NEXT_STAGE = dict(itertools.pairwise(COMPLAINT_STAGES))
# The field each step of the closed loop must fill in.
STAGE_FIELD = {
    "dispatched": "assigned_to",
    "handled": "handling",
    "confirmed": "confirmation",
    "closed": "note",
}


# The service layer's error codes → the console's messages (msgids).
SERVICE_MESSAGES = {
    "unknown_technician": "No technician account {ref}",
    "duplicate_order_no": "Work order number {ref} is already used",
    "not_found": "Not found: {ref}",
}


def _now() -> datetime:
    return datetime.now(UTC)


def _office(staff: Staff) -> Principal:
    """The back-office principal the service layer expects, acting for a staff member."""
    return Principal(account_id=staff.id, login=staff.username, role="admin", token_id="console")


def _audit(engine: Engine, staff: Staff, action: str, target: str, detail: dict) -> None:
    with engine.begin() as conn:
        record(conn, staff.username, action, target, detail)


def _text(name: str, value: str | None, *, required: bool = False, limit: int = MAX_TEXT) -> str:
    value = (value or "").strip()
    if required and not value:
        raise UserError("{field} is required", field=name)
    if len(value) > limit or "\x00" in value:
        raise UserError("{field} is too long (at most {limit} characters)", field=name, limit=limit)
    return value


def _date(name: str, value: str | None, *, required: bool = False) -> date | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise UserError("{field} is required", field=name)
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise UserError(
            "{field}: not a date (YYYY-MM-DD): {value}", field=name, value=value[:20]
        ) from None
    if not date(2000, 1, 1) <= parsed <= date(2100, 12, 31):
        raise UserError("{field}: out of range: {value}", field=name, value=value)
    return parsed


def _service(ref: str | dict[str, str], call: Any, *args: Any) -> Any:
    """Call the service layer; its errors become messages in the reader's language."""
    try:
        return call(*args)
    except service.ServiceError as exc:
        raise UserError(
            SERVICE_MESSAGES.get(exc.code, "Cannot do that: {ref}"),
            status=422 if exc.code == "unknown_technician" else min(exc.status, 499),
            ref=ref
            if exc.code in ("unknown_technician", "not_found", "duplicate_order_no")
            else exc,  # a TextError: shown in the reader's language
        ) from exc
    except auth.AuthError as exc:
        raise UserError("Cannot do that: {ref}", ref=exc) from exc


# ----------------------------------------------------------------------------- work orders
def create_work_order(engine: Engine, staff: Staff, form: dict[str, str]) -> uuid.UUID:
    order_no = _text("order_no", form.get("order_no"), required=True, limit=200)
    visit_type = form.get("visit_type", "")
    if visit_type not in VISIT_TYPES:
        raise UserError("{field}: unknown value {value}", field="visit_type", value=visit_type[:50])
    technician = _text("assigned_to", form.get("assigned_to"), required=True, limit=200)
    try:
        customer = CustomerPayload(
            customer_no=_text("customer_no", form.get("customer_no"), required=True, limit=200),
            name=_text("customer_name", form.get("customer_name"), limit=200) or None,
            phone=_text("phone", form.get("phone"), limit=200) or None,
            address=Address(
                community=_text("community", form.get("community"), limit=200) or None,
                building=_text("building", form.get("building"), limit=200) or None,
                unit=_text("unit", form.get("unit"), limit=200) or None,
                room=_text("room", form.get("room"), limit=200) or None,
                detail=_text("address", form.get("address")) or None,
            ),
        )
    except ValidationError as exc:
        raise UserError("Invalid customer: {ref}", ref=str(exc.errors()[0].get("msg"))) from exc
    order = service.NewWorkOrder(
        order_no=order_no,
        visit_type=visit_type,
        customer=customer,
        assigned_to=technician,
        scheduled_for=_date("scheduled_for", form.get("scheduled_for")),
        notes=_text("notes", form.get("notes")) or None,
    )
    (order_id,) = _service(
        {"unknown_technician": technician, "duplicate_order_no": order_no},
        service.create_work_orders,
        engine,
        _office(staff),
        [order],
    )
    _audit(
        engine,
        staff,
        "work_order.create",
        order_no,
        {"assigned_to": technician, "visit_type": visit_type, "customer_no": customer.customer_no},
    )
    return order_id


def _order(engine: Engine, ref: str) -> Any:
    w = t.work_order
    try:
        condition = w.c.id == uuid.UUID(ref)
    except ValueError:
        condition = w.c.order_no == ref
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(w.c.order_no, w.c.assigned_to, w.c.status).where(condition)
        ).first()
    if row is None:
        raise UserError("Not found: {ref}", status=404, ref=ref[:100])
    return row


def assign_work_order(engine: Engine, staff: Staff, ref: str, technician: str) -> None:
    technician = _text("assigned_to", technician, required=True, limit=200)
    before = _order(engine, ref)
    if before.status != "open":
        raise UserError("Only an open work order can be assigned", status=409)
    _service(technician, service.assign_work_order, engine, _office(staff), ref, technician)
    _audit(
        engine,
        staff,
        "work_order.assign",
        before.order_no,
        {"assigned_to": technician, "previous": before.assigned_to},
    )


def cancel_work_order(engine: Engine, staff: Staff, ref: str) -> None:
    before = _order(engine, ref)
    if before.status != "open":
        raise UserError("Only an open work order can be cancelled", status=409)
    _service(ref, service.cancel_work_order, engine, _office(staff), ref)
    _audit(engine, staff, "work_order.cancel", before.order_no, {"status": "cancelled"})


# ------------------------------------------------------------------------------ technicians
def enrol_technician(engine: Engine, staff: Staff, login: str, name: str | None) -> None:
    login = _text("login", login, required=True, limit=200)
    if any(c.isspace() for c in login):
        raise UserError("{field}: no spaces allowed", field="login")
    _service(
        login,
        auth.create_account,
        engine,
        login,
        "technician",
        _text("name", name, limit=200) or None,
    )
    _audit(engine, staff, "technician.enrol", login, {"name": name})


def issue_device_token(
    engine: Engine, staff: Staff, login: str, label: str | None
) -> tuple[str, str]:
    """(token id, token): the token is shown once and never stored."""
    label = _text("label", label, limit=200) or None
    token_id, token = _service(login, auth.issue_token, engine, login, label)
    _audit(engine, staff, "device.token_issued", login, {"token_id": token_id, "label": label})
    return token_id, token


def revoke_device_token(engine: Engine, staff: Staff, login: str, token_id: str) -> None:
    with engine.begin() as conn:
        owner = conn.execute(
            sa.select(t.account.c.login)
            .join(t.token, t.token.c.account_id == t.account.c.id)
            .where(t.token.c.id == token_id)
        ).first()
    if owner is None or owner.login != login:
        raise UserError("Not found: {ref}", status=404, ref=token_id)
    _service(token_id, auth.revoke_token, engine, token_id)
    _audit(engine, staff, "device.token_revoked", login, {"token_id": token_id})


# ------------------------------------------------------------------------------- follow-ups
def record_call(
    engine: Engine, staff: Staff, visit_id: uuid.UUID, form: dict[str, str]
) -> uuid.UUID | None:
    """Record a follow-up call; a reached customer completes the follow-up. Returns the
    complaint case opened from the call, if one was raised."""
    reached = form.get("reached")
    if reached not in ("yes", "no"):
        raise UserError("{field} is required", field="reached")
    satisfaction = form.get("satisfaction") or None
    if reached == "yes" and satisfaction not in service.SATISFACTION:
        raise UserError("{field} is required", field="satisfaction")
    if reached == "no":
        satisfaction = None
    comments = _text("comments", form.get("comments"))
    complaint = form.get("complaint") == "yes"
    if complaint and not comments:
        raise UserError("{field} is required", field="comments")
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(t.follow_up.c.customer_no, t.follow_up.c.called_at).where(
                t.follow_up.c.visit_id == visit_id
            )
        ).first()
    if row is None:
        raise UserError("Not found: {ref}", status=404, ref=str(visit_id))
    if row.called_at is not None:
        raise UserError("This follow-up is already done", status=409)
    case_id = None
    if complaint:
        case_id = open_complaint(
            engine,
            staff,
            {
                "customer_no": row.customer_no,
                "complainant": row.customer_no,
                "channel": "follow_up",
                "content": comments,
                "visit_id": str(visit_id),
            },
        )
    with engine.begin() as conn:
        conn.execute(
            ct.follow_up_call.insert().values(
                id=uuid.uuid4(),
                visit_id=visit_id,
                called_at=_now(),
                called_by=staff.username,
                reached=reached == "yes",
                satisfaction=satisfaction,
                comments=comments or None,
                complaint_id=case_id,
            )
        )
        record(
            conn,
            staff.username,
            "follow_up.call",
            str(visit_id),
            {"reached": reached == "yes", "satisfaction": satisfaction, "complaint": complaint},
        )
    if reached == "yes":
        result = comments or "reached"
        _service(
            str(visit_id),
            service.record_follow_up_call,
            engine,
            _office(staff),
            visit_id,
            result,
            satisfaction,
        )
    return case_id


# ------------------------------------------------------------------------------ complaints
def open_complaint(engine: Engine, staff: Staff, form: dict[str, str]) -> uuid.UUID:
    """受理: who complains, through which channel, about what."""
    customer_no = _text("customer_no", form.get("customer_no"), required=True, limit=200)
    complainant = _text("complainant", form.get("complainant"), required=True, limit=200)
    channel = form.get("channel", "")
    if channel not in CHANNELS:
        raise UserError("{field}: unknown value {value}", field="channel", value=channel[:50])
    content = _text("content", form.get("content"), required=True)
    visit_id = None
    if (form.get("visit_id") or "").strip():
        try:
            visit_id = uuid.UUID(form["visit_id"].strip())
        except ValueError:
            raise UserError(
                "{field}: unknown value {value}", field="visit_id", value=form["visit_id"][:50]
            ) from None
    now = _now()
    case_id = uuid.uuid4()
    case_no = f"TS{now:%Y%m%d}-{secrets.token_hex(3).upper()}"
    with engine.begin() as conn:
        conn.execute(
            ct.case.insert().values(
                id=case_id,
                case_no=case_no,
                stage="accepted",
                customer_no=customer_no,
                visit_id=visit_id,
                complainant=complainant,
                channel=channel,
                content=content,
                created_at=now,
                created_by=staff.username,
                updated_at=now,
            )
        )
        conn.execute(
            ct.case_event.insert().values(
                id=uuid.uuid4(),
                case_id=case_id,
                at=now,
                actor=staff.username,
                stage="accepted",
                note=content,
            )
        )
        record(
            conn,
            staff.username,
            "complaint.accepted",
            case_no,
            {"channel": channel, "customer_no": customer_no},
        )
    return case_id


def advance_complaint(
    engine: Engine, staff: Staff, case_id: uuid.UUID, form: dict[str, str]
) -> str:
    """Move a case one step along 受理 → 派单 → 处理 → 回访 → 结案 (派单 may be repeated to
    reassign). Returns the new stage."""
    stage = form.get("stage", "")
    if stage not in STAGE_FIELD:
        raise UserError("{field}: unknown value {value}", field="stage", value=stage[:50])
    now = _now()
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(ct.case).where(ct.case.c.id == case_id).with_for_update()
        ).first()
        if row is None:
            raise UserError("Not found: {ref}", status=404, ref=str(case_id))
        if stage != NEXT_STAGE.get(row.stage) and not (stage == row.stage == "dispatched"):
            raise UserError(
                "The case is at stage {stage}; that step is not next", status=409, stage=row.stage
            )
        changes: dict[str, Any] = {"stage": stage, "updated_at": now}
        note = _text(STAGE_FIELD[stage], form.get(STAGE_FIELD[stage]), required=True)
        if stage == "dispatched":
            changes["assigned_to"] = _text("assigned_to", note, limit=200)
            changes["deadline"] = _date("deadline", form.get("deadline"), required=True)
            note = f"{changes['assigned_to']} → {changes['deadline'].isoformat()}"
        elif stage == "handled":
            changes["handling"] = note
        elif stage == "confirmed":
            changes["confirmation"] = note
        else:
            changes["closed_at"] = now
        conn.execute(ct.case.update().where(ct.case.c.id == case_id).values(**changes))
        conn.execute(
            ct.case_event.insert().values(
                id=uuid.uuid4(),
                case_id=case_id,
                at=now,
                actor=staff.username,
                stage=stage,
                note=note,
            )
        )
        detail = {k: str(v) for k, v in changes.items() if k != "updated_at"}
        record(conn, staff.username, f"complaint.{stage}", row.case_no, detail)
    return stage
