"""The FastAPI app of the back-office server (OpenAPI under ``/api/v1``).

Stateless: everything lives in the database, so several workers or hosts can serve one
PostgreSQL. Every ``/api/v1`` request needs ``Authorization: Bearer <token>``, checked
before a byte of the body is read; ``/healthz`` (no data) answers without one, for load
balancers and readiness checks. Other unauthenticated requests may carry small bodies only.

Errors always have the body ``{"error": {"code": "...", "message": "..."}}``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from fieldkit.sync.schema import (
    NUL_MESSAGE,
    BatchResult,
    CustomerPayload,
    ErrorResponse,
    Id,
    IsoDate,
    LongText,
    PushResult,
    RequiredText,
    VisitOutcome,
    VisitPayload,
    VisitType,
    WorkOrderPage,
)
from fieldkit.sync.server import auth, push_body, safety_flags, service
from fieldkit.sync.server.db import ENV_DB, open_server_database, reading
from fieldkit.sync.server.pages import DEFAULT_LIMIT, MAX_LIMIT, MAX_TOKEN, PageTokenError

log = logging.getLogger("fieldkit.sync.server")

API = "/api/v1"
DEFAULT_MAX_BODY = 8 * 1024 * 1024  # bytes; bigger requests get 413
ANONYMOUS_MAX_BODY = 64 * 1024  # bytes a request without a token may carry (outside the API)
MAX_PULL = 1000
# Batches a worker process stores at once (the others wait, their bodies unparsed): one
# validating while another waits on PostgreSQL keeps a core busy; more only add threads
# fighting for the GIL, parsed batches in memory (the garbage collector walks them all)
# and backends contending for the same tables. ``fieldkit serve --push-slots``.
PUSH_SLOTS = 2
JSON = "application/json"
PRINCIPAL = "fieldkit.principal"  # where the gate leaves the caller in the ASGI scope

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, detail: Any = None):
        super().__init__(message)
        self.status, self.code, self.message, self.detail = status, code, message, detail


def _error(
    status: int, code: str, message: str, detail: Any = None, **headers: str
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if detail is not None:
        body["detail"] = detail
    return JSONResponse({"error": body}, status_code=status, headers=headers or None)


def _nul_in_url(scope: Scope) -> bool:
    """A NUL in the path or an encoded one (``%00``) in the query: no database takes it."""
    return "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"")


def _bearer(scope: Scope) -> str | ApiError:
    header = ""
    for name, value in scope.get("headers") or []:
        if name == b"authorization":
            header = value.decode("latin-1")
            break
    scheme, _, token = header.partition(" ")
    if not header:
        return ApiError(401, "unauthenticated", "missing Authorization: Bearer <token>")
    if scheme.lower() != "bearer" or not token.strip():
        return ApiError(401, "unauthenticated", "use Authorization: Bearer <token>")
    return token.strip()


def _authenticate(engine: Engine, token: str) -> auth.Principal | None:
    with reading(engine) as conn:
        return auth.authenticate(conn, token)


class Gate:
    """In front of the app: a URL holding a NUL is 422; an ``/api/v1`` request without a
    valid token is 401 before its body is read; a body over ``limit`` bytes (``anonymous``
    bytes for requests outside the API, which carry no token) is 413 while it is read."""

    def __init__(self, app: ASGIApp, engine: Engine, limit: int, anonymous: int):
        self.app, self.engine, self.limit, self.anonymous = app, engine, limit, anonymous

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = _error(
            413,
            "payload_too_large",
            f"the request body is larger than {limit} bytes; send fewer visits per request",
        )
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _nul_in_url(scope):
            response = _error(422, "invalid", f"invalid request: the URL {NUL_MESSAGE}")
            await response(scope, receive, send)
            return
        limit = self.anonymous
        path = scope.get("path", "")
        if path == API or path.startswith(API + "/"):
            token = _bearer(scope)
            who = None
            if isinstance(token, str):
                who = await run_in_threadpool(_authenticate, self.engine, token)
                if who is None:
                    token = ApiError(401, "bad_token", "the token is unknown or has been revoked")
            if isinstance(token, ApiError):
                response = _error(
                    token.status, token.code, token.message, **{"WWW-Authenticate": "Bearer"}
                )
                await response(scope, receive, send)
                return
            scope[PRINCIPAL] = who
            limit = self.limit
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._too_large(scope, receive, send, limit)
            return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # client went away
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > limit:
                await self._too_large(scope, receive, send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


# ----------------------------------------------------------------------------- models
MAX_INT64 = 2**63 - 1  # the largest cursor either database can compare with
After = Annotated[str | None, Query(max_length=MAX_TOKEN, pattern=r"^[A-Za-z0-9_-]*$")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Ref = Annotated[str, Path(min_length=1, max_length=200)]


class Page(BaseModel):
    """One page of a list; ``next`` (if not null) goes in ``after`` for the next page."""

    items: list[dict[str, Any]]
    next: str | None


class StoreResponse(BaseModel):
    status: str
    visit_id: uuid.UUID
    content_hash: str


class NewWorkOrderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_no: Id
    visit_type: VisitType
    customer: CustomerPayload
    assigned_to: Id
    scheduled_for: IsoDate | None = None
    notes: LongText | None = None


class AssignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    technician_id: Id


class FollowUpCallRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: RequiredText
    satisfaction: Literal["satisfied", "basically_satisfied", "unsatisfied"]


class ComplaintRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: RequiredText


class CloseComplaintRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: RequiredText


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 409, 413, 422)
}


def _loc(loc: Any) -> str:
    return ".".join(str(p) for p in loc if p != "body") or "body"


def current_principal(request: Request) -> auth.Principal:
    """The caller the gate authenticated (it refuses every ``/api/v1`` request without)."""
    who = request.scope.get(PRINCIPAL)
    if who is None:  # pragma: no cover - the gate always sets it under /api/v1
        raise ApiError(401, "unauthenticated", "missing Authorization: Bearer <token>")
    return who


Who = Annotated[auth.Principal, Depends(current_principal)]


def create_app(
    db_url: str | None = None, *, max_body: int = DEFAULT_MAX_BODY, push_slots: int = PUSH_SLOTS
) -> FastAPI:
    """The app serving the database at ``db_url`` (migrated by ``fieldkit serve`` first)."""
    engine: Engine = open_server_database(db_url, migrate=False)
    app = FastAPI(
        title="fieldkit back office",
        version="1",
        description="Visit records from technicians' laptops; work orders to them.",
        responses=ERRORS,
    )
    app.state.engine = engine
    app.include_router(safety_flags.router)  # GET /api/v1/safety-flags (issue 8)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        extra = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        return _error(exc.status, exc.code, exc.message, exc.detail, **extra)

    @app.exception_handler(service.ServiceError)
    async def _service_error(_request: Request, exc: service.ServiceError) -> JSONResponse:
        # An account named in the body that does not exist is an unknown resource to an
        # API client (404, like an unknown id); forms (the console) show it as 422.
        status = 404 if exc.code == "unknown_technician" else exc.status
        return _error(status, exc.code, exc.message, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            ctx = errors[0].get("ctx") or {}
            return _error(
                400, "malformed_json", f"the body is not valid JSON: {ctx.get('error', '')}"
            )
        problems = [
            {"field": _loc(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type")}
            for e in errors[:50]
        ]
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
        return _error(422, "invalid", f"invalid request: {summary}", problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed(request))
        return _error(exc.status_code, "http_error", str(exc.detail), **headers)

    def _allowed(request: Request) -> list[str]:
        """Every method some route takes at this path (Starlette names only the first)."""
        methods: set[str] = set()
        for route in app.router.routes:
            match, _child = route.matches(request.scope)
            if match != Match.NONE:
                methods |= set(getattr(route, "methods", None) or ())
        return sorted(methods)

    @app.exception_handler(PageTokenError)
    async def _bad_token(_request: Request, exc: PageTokenError) -> JSONResponse:
        # A token this server never handed out names no page: 404, like any unknown id.
        problem = {"field": "after", "message": str(exc), "type": "page_token"}
        return _error(404, "unknown_page", f"no such page: after: {exc}", [problem])

    @app.exception_handler(Exception)
    async def _crash(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _error(500, "internal", "internal server error; nothing was stored")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(f"{API}/me")
    def me(who: Who) -> dict[str, str]:
        return {"login": who.login, "role": who.role, "token_id": who.token_id}

    pushing = asyncio.Semaphore(push_slots)

    def _push(body: bytes, content_type: str | None, who: auth.Principal) -> list[PushResult]:
        batch = push_body.parse_batch(body, content_type)
        return service.store_visits(engine, who, batch.visits)

    @app.post(
        f"{API}/visits/batch", response_model=BatchResult, openapi_extra=push_body.REQUEST_BODY
    )
    async def push_batch(request: Request, who: Who) -> Response:
        """Push many visits (a ``VisitBatch``): each is ``stored``, ``duplicate`` (same
        content already there), ``conflict`` (different content under the same id: kept,
        not overwritten) or ``rejected`` (with the reason)."""
        body = await request.body()  # validated off the event loop, from the bytes
        content_type = request.headers.get("content-type")
        async with pushing:  # a few at a time; the others wait their turn (see PUSH_SLOTS)
            results = await run_in_threadpool(_push, body, content_type, who)
        # Built and checked here; serialised straight to JSON (no second validation).
        return Response(BatchResult(results=results).model_dump_json(), media_type=JSON)

    @app.put(
        f"{API}/visits/{{visit_id}}",
        response_model=StoreResponse,
        responses={201: {"model": StoreResponse}},
    )
    async def push_one(visit_id: uuid.UUID, visit: VisitPayload, who: Who) -> JSONResponse:
        """Push one visit: 201 stored, 200 duplicate, 409 conflict."""
        if visit.visit_id != visit_id:
            raise ApiError(
                409, "id_mismatch", f"the URL names visit {visit_id}, the body {visit.visit_id}"
            )
        (result,) = await run_in_threadpool(service.store_visits, engine, who, [visit])
        return _single(result)

    def _single(result: PushResult) -> JSONResponse:
        if result.status == "conflict":
            return _error(
                409,
                "conflict",
                (result.error or {}).get("message", "conflict"),
                {"server_hash": result.server_hash, "content_hash": result.content_hash},
            )
        if result.status == "rejected":
            error = result.error or {}
            return _error(409, error.get("code", "rejected"), error.get("message", ""))
        return JSONResponse(
            {
                "status": result.status,
                "visit_id": str(result.visit_id),
                "content_hash": result.content_hash,
            },
            status_code=201 if result.status == "stored" else 200,
        )

    @app.get(f"{API}/visits", response_model=Page)
    def visits(
        who: Who,
        date_from: IsoDate | None = None,
        date_to: IsoDate | None = None,
        technician_id: Id | None = None,
        outcome: VisitOutcome | None = None,
        customer_no: Id | None = None,
        after: After = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> dict[str, Any]:
        """Visits by date range, technician, outcome and customer (keyset pages: pass the
        answer's ``next`` as ``after`` for the next page)."""
        return service.list_visits(
            engine,
            who,
            date_from=date_from,
            date_to=date_to,
            technician_id=technician_id,
            outcome=outcome,
            customer_no=customer_no,
            after=after,
            limit=limit,
        )

    @app.get(f"{API}/visits/{{visit_id}}")
    def visit(visit_id: uuid.UUID, who: Who) -> dict[str, Any]:
        return service.get_visit(engine, who, visit_id)

    @app.get(f"{API}/work-orders", response_model=WorkOrderPage)
    def work_orders(
        who: Who,
        since: Annotated[int, Query(ge=0, le=MAX_INT64)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PULL)] = 500,
    ) -> Response:
        """Work-order changes after the cursor ``since``, oldest first; cancelled or
        reassigned orders come as tombstones (``deleted: true``). ``epoch`` names the
        server database: when it changes, the laptop re-pulls from 0."""
        items, next_cursor, has_more, epoch = service.pull_work_orders(engine, who, since, limit)
        page = WorkOrderPage(items=items, next_cursor=next_cursor, has_more=has_more, epoch=epoch)
        # Built and checked once here; serialised straight to JSON (no second validation).
        return Response(page.model_dump_json(), media_type="application/json")

    @app.post(f"{API}/work-orders", status_code=201)
    def create_work_order(body: NewWorkOrderRequest, who: Who) -> dict[str, str]:
        (order_id,) = service.create_work_orders(
            engine,
            who,
            [service.NewWorkOrder(**body.model_dump(exclude={"customer"}), customer=body.customer)],
        )
        return {"work_order_id": str(order_id)}

    @app.post(f"{API}/work-orders/{{ref}}/assign")
    def assign(ref: Ref, body: AssignRequest, who: Who) -> dict[str, int]:
        return {"cursor": service.assign_work_order(engine, who, ref, body.technician_id)}

    @app.post(f"{API}/work-orders/{{ref}}/cancel")
    def cancel(ref: Ref, who: Who) -> dict[str, int]:
        return {"cursor": service.cancel_work_order(engine, who, ref)}

    @app.get(f"{API}/hazards", response_model=Page)
    def hazards(
        who: Who,
        status: Literal["open", "all", "pending", "rechecking", "fixed"] = "open",
        level: Literal["major", "general"] | None = None,
        customer_no: Id | None = None,
        technician_id: Id | None = None,
        after: After = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> dict[str, Any]:
        """Hazards: open ones (待整改 pending and 复查中 rechecking) by default."""
        return service.list_hazards(
            engine,
            who,
            status=status,
            level=level,
            customer_no=customer_no,
            technician_id=technician_id,
            after=after,
            limit=limit,
        )

    @app.get(f"{API}/meter-swaps", response_model=Page)
    def meter_swaps(
        who: Who,
        customer_no: Id | None = None,
        meter_no: Id | None = None,
        after: After = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> dict[str, Any]:
        """Meter swaps (换表) by customer number or meter number (old or new)."""
        return service.list_meter_swaps(
            engine, who, customer_no=customer_no, meter_no=meter_no, after=after, limit=limit
        )

    @app.get(f"{API}/follow-ups", response_model=Page)
    def follow_ups(
        who: Who,
        due_by: IsoDate | None = None,
        pending: bool = True,
        technician_id: Id | None = None,
        after: After = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> dict[str, Any]:
        """Follow-up calls due (within 3 days of the visit)."""
        return service.list_follow_ups(
            engine,
            who,
            due_by=due_by,
            pending=pending,
            technician_id=technician_id,
            after=after,
            limit=limit,
        )

    @app.post(f"{API}/follow-ups/{{visit_id}}/call")
    def follow_up_call(visit_id: uuid.UUID, body: FollowUpCallRequest, who: Who) -> dict:
        service.record_follow_up_call(engine, who, visit_id, body.result, body.satisfaction)
        return {"status": "recorded"}

    @app.post(f"{API}/visits/{{visit_id}}/complaints", status_code=201)
    def complaint(visit_id: uuid.UUID, body: ComplaintRequest, who: Who) -> dict[str, str]:
        return {"complaint_id": str(service.log_complaint(engine, who, visit_id, body.description))}

    @app.get(f"{API}/complaints", response_model=Page)
    def complaints(
        who: Who, open_only: bool = True, after: After = None, limit: Limit = DEFAULT_LIMIT
    ) -> dict[str, Any]:
        return service.list_complaints(engine, who, open_only=open_only, after=after, limit=limit)

    @app.post(f"{API}/complaints/{{complaint_id}}/close")
    def close_complaint(
        complaint_id: uuid.UUID, body: CloseComplaintRequest, who: Who
    ) -> dict[str, str]:
        service.close_complaint(engine, who, complaint_id, body.result)
        return {"status": "closed"}

    from fieldkit.console import mount_console  # the staff web console under /console

    mount_console(app, engine)
    push_body.document(app)
    return Gate(app, engine, max_body, ANONYMOUS_MAX_BODY)  # type: ignore[return-value]


GC_THRESHOLD = (50_000, 20, 100)  # the garbage collector's generations (CPython: 700, 10, 10)


def tune_gc() -> None:
    """Less garbage-collector work in a server process. A pushed batch makes ~10^5 short-lived
    objects (its parsed visits), which with the default thresholds set off hundreds of
    collections per batch, each walking every object alive, the app's own too: ~40 % of a
    push's CPU (bench/bench_sync.py). The app's objects, made once, are frozen out of the
    walks (``gc.freeze``) and young objects are collected every 50 000 allocations, not
    700 (cyclic garbage is still collected, less often)."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


def app_from_env() -> Any:
    """uvicorn factory for worker processes: the database URL comes from the environment."""
    max_body = int(os.environ.get("FIELDKIT_SERVER_MAX_BODY", DEFAULT_MAX_BODY))
    slots = int(os.environ.get("FIELDKIT_SERVER_PUSH_SLOTS", PUSH_SLOTS))  # checked by serve
    app = create_app(os.environ.get(ENV_DB), max_body=max_body, push_slots=slots)
    tune_gc()
    return app
