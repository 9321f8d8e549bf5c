"""The console's pages: thin handlers over lists, details, actions and staff/sessions."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from fieldkit.console import actions, details, filters, hazards, lists, roles, sessions, staff
from fieldkit.console.audit import record
from fieldkit.console.errors import UserError
from fieldkit.console.export import cell, csv_chunks, xlsx_bytes
from fieldkit.console.flags import explain
from fieldkit.console.labels import COLUMN_KIND, label
from fieldkit.console.paging import DEFAULT_SIZE, MAX_SIZE
from fieldkit.console.web import (
    COOKIE,
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    PREFIX,
    SECURITY_HEADERS,
    Ctx,
    ctx,
    form,
    new_login_token,
    router,
    secure_cookie,
)
from fieldkit.i18n import LANGUAGES
from fieldkit.sync.schema import VISIT_OUTCOMES, VISIT_TYPES
from fieldkit.sync.server.service import SATISFACTION

C = Annotated[Ctx, Depends(ctx)]
Form = Annotated[dict[str, str], Depends(form)]

BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")

COMMON = {
    "VISIT_TYPES": VISIT_TYPES,
    "VISIT_OUTCOMES": VISIT_OUTCOMES,
    "SATISFACTION": SATISFACTION,
    "CHANNELS": actions.CHANNELS,
}


def _size(c: Ctx) -> int:
    raw = c.request.query_params.get("size") or str(DEFAULT_SIZE)
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_SIZE:
        raise UserError("{field}: a number from 1 to {limit}", field="size", limit=MAX_SIZE)
    return int(raw)


def _export(c: Ctx, spec: lists.ListSpec, f: filters.Filters, fmt: str) -> Response:
    headings = [c._(heading) for _key, heading in spec.columns]

    def rows() -> Any:
        for row in lists.every_row(c.engine, spec, f, c.scope()):
            out = []
            for key, _heading in spec.columns:
                value = row.get(key)
                if key in COLUMN_KIND and value:
                    value = c._(label(COLUMN_KIND[key], value))
                out.append(cell(value, c.fmt_dt))
            yield out

    with c.engine.begin() as conn:
        record(
            conn, c.staff.username, "export", spec.name, {"format": fmt, **dict(f.query_items())}
        )
    name = f"{spec.name}.{fmt}"
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        return StreamingResponse(
            csv_chunks(headings, rows()), media_type="text/csv; charset=utf-8", headers=headers
        )
    body = xlsx_bytes(spec.name, headings, rows())
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=headers,
    )


def _list(
    c: Ctx,
    spec: lists.ListSpec,
    permission: str,
    template: str,
    default_status: str | None = None,
    **extra: Any,
) -> Response:
    c.require(permission)
    params = dict(c.request.query_params)
    if default_status is not None and "status" not in params:
        params["status"] = default_status
    f = filters.parse(params, spec.statuses, spec.kinds)
    fmt = params.get("format")
    if fmt in ("csv", "xlsx"):
        return _export(c, spec, f, fmt)
    if fmt:
        raise UserError("{field}: unknown value {value}", field="format", value=fmt[:20])
    size = _size(c)
    page = lists.page(c.engine, spec, f, c.scope(), params.get("after"), size)
    query = f.query_items()
    if size != DEFAULT_SIZE:  # the next page keeps the reader's page size
        query.append(("size", str(size)))
    if default_status is not None and not f.status:
        query.append(("status", ""))
    return c.render(
        template,
        spec=spec,
        page=page,
        f=f,
        query=query,
        list_path=c.request.url.path,
        **COMMON,
        **extra,
    )


# ----------------------------------------------------------------------- sign in and out
@router.get("/login")
def login_page(c: C, next: str = "") -> Response:
    token = new_login_token()
    response = c.render("login.html", login_token=token, next=next, error=None)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=secure_cookie(c),
        path=PREFIX,
    )
    return response


def _safe_next(target: str) -> str:
    target = unquote(target or "")
    if target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX + "/"


@router.post("/login")
async def login(request: Request) -> Response:
    data = await request.form()
    fields = {k: v for k, v in data.items() if isinstance(v, str)}
    c = await run_in_threadpool(ctx, request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not cookie or fields.get("login_token") != cookie:
        raise UserError(
            "The form has expired or did not come from this console; reload the page and try again",
            status=403,
        )
    username = (fields.get("username") or "").strip()[:200]
    password = fields.get("password") or ""
    address = request.client.host if request.client else "?"

    def fail(message: str, status: int) -> Response:
        token = new_login_token()
        response = c.render(
            "login.html",
            status=status,
            login_token=token,
            next=fields.get("next", ""),
            error=c._(message),
        )
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=secure_cookie(c),
            path=PREFIX,
        )
        return response

    if await run_in_threadpool(staff.throttled, c.engine, username, address):
        return fail("Too many failed sign-ins; wait 15 minutes and try again", 429)
    who = await run_in_threadpool(staff.authenticate, c.engine, username, password, address)
    if who is None:
        return fail("Wrong username or password", 401)
    value, _session = await run_in_threadpool(sessions.start, c.engine, who)
    response = RedirectResponse(
        _safe_next(fields.get("next", "")), status_code=303, headers=SECURITY_HEADERS
    )
    response.set_cookie(
        COOKIE,
        value,
        max_age=int(sessions.LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure_cookie(c),
        path=PREFIX,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
def logout(c: C, fields: Form) -> Response:
    sessions.end(c.engine, c.request.cookies.get(COOKIE))
    with c.engine.begin() as conn:
        record(conn, c.staff.username, "logout", None, {})
    response = c.redirect("/login")
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


@router.get("/lang/{code}")
def set_lang(c: C, code: str, next: str = "") -> Response:
    if code not in LANGUAGES:
        raise UserError("{field}: unknown value {value}", field="lang", value=code[:10])
    response = RedirectResponse(_safe_next(next), status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path=PREFIX)
    return response


@router.get("/")
def home(c: C) -> Response:
    return c.redirect("/" + roles.HOME[c.staff.role].replace("_", "-"))


# ------------------------------------------------------------------------------ dispatch
@router.get("/work-orders/new")
def work_order_new(c: C) -> Response:
    c.require("work_orders.edit")
    return c.render(
        "work_order_new.html", technicians=details.technician_logins(c.engine), **COMMON
    )


@router.post("/work-orders")
def work_order_create(c: C, fields: Form) -> Response:
    c.require("work_orders.edit")
    order_id = actions.create_work_order(c.engine, c.staff, fields)
    return c.redirect(f"/work-orders/{order_id}")


@router.get("/work-orders/{ref}")
def work_order(c: C, ref: str) -> Response:
    c.require("work_orders.view")
    return c.render(
        "work_order.html",
        d=details.work_order(c.engine, ref),
        technicians=details.technician_logins(c.engine),
        **COMMON,
    )


@router.post("/work-orders/{ref}/assign")
def work_order_assign(c: C, ref: str, fields: Form) -> Response:
    c.require("work_orders.edit")
    actions.assign_work_order(c.engine, c.staff, ref, fields.get("assigned_to", ""))
    return c.redirect(f"/work-orders/{ref}")


@router.post("/work-orders/{ref}/cancel")
def work_order_cancel(c: C, ref: str, fields: Form) -> Response:
    c.require("work_orders.edit")
    actions.cancel_work_order(c.engine, c.staff, ref)
    return c.redirect(f"/work-orders/{ref}")


# ---------------------------------------------------------------------------- technicians
@router.post("/technicians")
def technician_enrol(c: C, fields: Form) -> Response:
    c.require("technicians.edit")
    actions.enrol_technician(c.engine, c.staff, fields.get("login", ""), fields.get("name"))
    return c.redirect(f"/technicians/{fields['login'].strip()}")


@router.get("/technicians/{login}")
def technician(c: C, login: str) -> Response:
    c.require("technicians.view")
    return c.render("technician.html", d=details.technician(c.engine, login), **COMMON)


@router.post("/technicians/{login}/tokens")
def technician_token(c: C, login: str, fields: Form) -> Response:
    c.require("technicians.edit")
    token_id, token = actions.issue_device_token(c.engine, c.staff, login, fields.get("label"))
    return c.render("token_issued.html", login=login, token_id=token_id, token=token)


@router.post("/technicians/{login}/tokens/{token_id}/revoke")
def technician_revoke(c: C, login: str, token_id: str, fields: Form) -> Response:
    c.require("technicians.edit")
    actions.revoke_device_token(c.engine, c.staff, login, token_id)
    return c.redirect(f"/technicians/{login}")


# ---------------------------------------------------------------------------------- visits
@router.get("/visits/{visit_id}")
def visit(c: C, visit_id: uuid.UUID) -> Response:
    c.require("visit.review")
    d = details.visit(c.engine, visit_id)
    image = ((d["p"].get("signature") or {}).get("image_png_base64") or "").strip()
    src = f"data:image/png;base64,{image}" if image and BASE64.fullmatch(image) else None
    return c.render(
        "visit.html",
        d=d,
        signature_src=src,
        flag_reason=lambda kind, detail: explain(kind, detail, c._, c.config.tz),
        **COMMON,
    )


@router.get("/visits/{visit_id}/handover.pdf")
def visit_handover_pdf(c: C, visit_id: uuid.UUID) -> Response:
    c.require("visit.review")
    name, pdf = details.handover_pdf(c.engine, visit_id, c.config.tz)
    with c.engine.begin() as conn:
        record(conn, c.staff.username, "handover.pdf", str(visit_id), {})
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(pdf, media_type="application/pdf", headers=headers)


@router.get("/hazards/{hazard_id}")
def hazard(c: C, hazard_id: uuid.UUID, customer_no: str = "") -> Response:
    c.require("hazards.view")
    d = hazards.detail(c.engine, hazard_id, customer_no.strip()[:200] or None)
    return c.render("hazard.html", d=d, **COMMON)


@router.post("/hazards/{hazard_id}/status")
def hazard_advance(c: C, hazard_id: uuid.UUID, fields: Form) -> Response:
    c.require("hazards.edit")
    customer_no, _id = hazards.advance(c.engine, c.staff, hazard_id, fields)
    return c.redirect(f"/hazards/{hazard_id}", customer_no=customer_no)


# ------------------------------------------------------------------------ customer service
@router.post("/follow-ups/{visit_id}/calls")
def follow_up_call(c: C, visit_id: uuid.UUID, fields: Form) -> Response:
    c.require("follow_ups.edit")
    case_id = actions.record_call(c.engine, c.staff, visit_id, fields)
    if case_id is not None:
        return c.redirect(f"/complaints/{case_id}")
    return c.redirect("/follow-ups", status=fields.get("back_status") or None)


@router.get("/complaints/new")
def complaint_new(c: C, visit_id: str = "", customer_no: str = "") -> Response:
    c.require("complaints.edit")
    return c.render("complaint_new.html", visit_id=visit_id, customer_no=customer_no, **COMMON)


@router.post("/complaints")
def complaint_create(c: C, fields: Form) -> Response:
    c.require("complaints.edit")
    case_id = actions.open_complaint(c.engine, c.staff, fields)
    return c.redirect(f"/complaints/{case_id}")


@router.get("/complaints/{case_id}")
def complaint(c: C, case_id: uuid.UUID) -> Response:
    c.require("complaints.view")
    d = details.complaint(c.engine, case_id)
    return c.render(
        "complaint.html",
        d=d,
        next_stage=actions.NEXT_STAGE.get(d["row"].stage),
        today=c.scope().today,
        **COMMON,
    )


@router.post("/complaints/{case_id}/advance")
def complaint_advance(c: C, case_id: uuid.UUID, fields: Form) -> Response:
    c.require("complaints.edit")
    actions.advance_complaint(c.engine, c.staff, case_id, fields)
    return c.redirect(f"/complaints/{case_id}")


# ------------------------------------------------------------------------------- the lists
# Each list page: (address, list, permission, status shown when none is chosen). The
# template is the list's name; the page, its filters, pages and exports are all _list's.
LIST_PAGES: tuple[tuple[str, lists.ListSpec, str, str | None], ...] = (
    ("/work-orders", lists.WORK_ORDERS, "work_orders.view", None),
    ("/technicians", lists.TECHNICIANS, "technicians.view", None),
    ("/visits", lists.VISITS, "visits.view", None),
    ("/safety", lists.SAFETY, "safety.view", None),
    ("/hazards", lists.HAZARDS, "hazards.view", "open"),
    ("/follow-ups", lists.FOLLOW_UPS, "follow_ups.view", None),
    ("/complaints", lists.COMPLAINTS, "complaints.view", "open"),
    ("/audit", lists.AUDIT, "audit.view", None),
)


def _list_page(spec: lists.ListSpec, permission: str, default_status: str | None) -> Any:
    def page(c: C) -> Response:
        return _list(c, spec, permission, f"{spec.name}.html", default_status)

    return page


for _path, _spec, _permission, _default in LIST_PAGES:
    router.add_api_route(
        _path, _list_page(_spec, _permission, _default), methods=["GET"], name=_spec.name
    )


@router.get("/{rest:path}")
def not_found(c: C, rest: str) -> Response:
    """Any other console address: a page saying so (registered last)."""
    raise UserError("Not found: {ref}", status=404, ref=f"/console/{rest}"[:100])
