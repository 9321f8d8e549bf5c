"""One record with everything around it, for the console's detail pages (reads only)."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fieldkit.console import tables as ct
from fieldkit.console.errors import UserError
from fieldkit.sync.server import tables as t
from fieldkit.sync.server.db import reading

MAX_RELATED = 50
CORRECTION_KINDS = ("corrected", "refusal_corrected")  # the engine's correction events


def _not_found(ref: object) -> UserError:
    return UserError("Not found: {ref}", status=404, ref=str(ref)[:100])


def visit(engine: Engine, visit_id: uuid.UUID) -> dict[str, Any]:
    """The visit as pushed (its payload) plus its follow-up, calls, complaints, work order and
    the customer's other visits (a correction is a later visit of the same customer)."""
    v = t.visit
    with reading(engine) as conn:
        row = conn.execute(sa.select(v).where(v.c.id == visit_id)).first()
        if row is None:
            raise _not_found(visit_id)
        follow_up = conn.execute(
            sa.select(t.follow_up).where(t.follow_up.c.visit_id == visit_id)
        ).first()
        calls = conn.execute(
            sa.select(ct.follow_up_call)
            .where(ct.follow_up_call.c.visit_id == visit_id)
            .order_by(ct.follow_up_call.c.called_at)
            .limit(MAX_RELATED)
        ).all()
        cases = conn.execute(
            sa.select(ct.case)
            .where(ct.case.c.visit_id == visit_id)
            .order_by(ct.case.c.created_at)
            .limit(MAX_RELATED)
        ).all()
        order = None
        if row.work_order_id is not None:
            order = conn.execute(
                sa.select(t.work_order.c.order_no, t.work_order.c.id).where(
                    t.work_order.c.id == row.work_order_id
                )
            ).first()
        flags = conn.execute(
            sa.select(t.visit_safety_flag)
            .where(t.visit_safety_flag.c.visit_id == visit_id)
            .order_by(t.visit_safety_flag.c.flagged_at, t.visit_safety_flag.c.id)
            .limit(MAX_RELATED)
        ).all()
        others = conn.execute(
            sa.select(v.c.id, v.c.started_at, v.c.visit_type, v.c.outcome, v.c.technician_id)
            .where(v.c.customer_no == row.customer_no, v.c.id != visit_id)
            .order_by(v.c.started_at.desc())
            .limit(MAX_RELATED)
        ).all()
    payload = row.payload
    steps = [s for run in payload.get("procedure_runs", []) for s in run.get("steps", [])]
    return {
        "row": row,
        "p": payload,
        "failures": [s for s in steps if s.get("passed") is False],
        "repairs": [s for s in steps if s.get("kind") == "repair_recorded"],
        "corrections": [s for s in steps if s.get("kind") in CORRECTION_KINDS],
        "follow_up": follow_up,
        "calls": calls,
        "cases": cases,
        "order": order,
        "others": others,
        "flags": flags,
    }


def work_order(engine: Engine, ref: str) -> dict[str, Any]:
    w = t.work_order
    condition = w.c.order_no == ref
    with contextlib.suppress(ValueError):
        condition = sa.or_(condition, w.c.id == uuid.UUID(ref))
    with reading(engine) as conn:
        row = conn.execute(sa.select(w).where(condition)).first()
        if row is None:
            raise _not_found(ref)
        visits = conn.execute(
            sa.select(t.visit.c.id, t.visit.c.started_at, t.visit.c.outcome, t.visit.c.received_at)
            .where(t.visit.c.work_order_id == row.id)
            .order_by(t.visit.c.started_at)
            .limit(MAX_RELATED)
        ).all()
        audit = conn.execute(
            sa.select(ct.audit_log)
            .where(ct.audit_log.c.target == row.order_no)
            .order_by(ct.audit_log.c.at)
            .limit(MAX_RELATED)
        ).all()
    return {"row": row, "visits": visits, "audit": audit}


def technician(engine: Engine, login: str) -> dict[str, Any]:
    a, w = t.account, t.work_order
    with reading(engine) as conn:
        row = conn.execute(sa.select(a).where(a.c.login == login, a.c.role == "technician")).first()
        if row is None:
            raise _not_found(login)
        tokens = conn.execute(
            sa.select(t.token.c.id, t.token.c.label, t.token.c.created_at, t.token.c.revoked_at)
            .where(t.token.c.account_id == row.id)
            .order_by(t.token.c.created_at)
            .limit(MAX_RELATED)
        ).all()
        queue = conn.execute(
            sa.select(w)
            .where(w.c.assigned_to == login, w.c.status == "open", w.c.deleted.is_(False))
            .order_by(w.c.scheduled_for, w.c.cursor)
            .limit(MAX_RELATED)
        ).all()
        done = set()
        if queue:
            done = {
                r.work_order_id
                for r in conn.execute(
                    sa.select(t.visit.c.work_order_id).where(
                        t.visit.c.work_order_id.in_([q.id for q in queue])
                    )
                )
            }
        last = conn.execute(
            sa.select(t.visit.c.received_at)
            .where(t.visit.c.technician_id == login)
            .order_by(t.visit.c.received_at.desc())
            .limit(1)
        ).first()
    return {
        "row": row,
        "tokens": tokens,
        "queue": queue,
        "synced": done,
        "last_push": last.received_at if last else None,
    }


def complaint(engine: Engine, case_id: uuid.UUID) -> dict[str, Any]:
    with reading(engine) as conn:
        row = conn.execute(sa.select(ct.case).where(ct.case.c.id == case_id)).first()
        if row is None:
            raise _not_found(case_id)
        trail = conn.execute(
            sa.select(ct.case_event)
            .where(ct.case_event.c.case_id == case_id)
            .order_by(ct.case_event.c.at)
            .limit(MAX_RELATED)
        ).all()
    return {"row": row, "trail": trail}


def technician_logins(engine: Engine, limit: int = 500) -> list[str]:
    """Logins for the assign drop-downs (bounded)."""
    with reading(engine) as conn:
        return [
            r.login
            for r in conn.execute(
                sa.select(t.account.c.login)
                .where(t.account.c.role == "technician", t.account.c.disabled.is_(False))
                .order_by(t.account.c.login)
                .limit(limit)
            )
        ]


def handover_pdf(engine: Engine, visit_id: uuid.UUID, tz: Any) -> tuple[str, bytes]:
    """(file name, PDF) of the visit's handover form (设施交接单), built from the pushed
    record the way the laptop prints it, in the server's language."""
    from fieldkit.records.handover import handover_from_payload
    from fieldkit.records.handover_pdf import PdfError, PdfFontMissing, render_handover_pdf
    from fieldkit.sync.schema import VisitPayload

    with reading(engine) as conn:
        row = conn.execute(
            sa.select(t.visit.c.payload, t.visit.c.customer_no).where(t.visit.c.id == visit_id)
        ).first()
    if row is None:
        raise _not_found(visit_id)
    try:
        form = handover_from_payload(VisitPayload.model_validate(row.payload))
        pdf = render_handover_pdf(form, tz)
    except (PdfError, PdfFontMissing) as exc:
        raise UserError(
            "The handover form cannot be made: {ref}", status=503, ref=str(exc)
        ) from exc
    return f"handover-{visit_id}.pdf", pdf
