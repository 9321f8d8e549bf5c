"""The console's web shell: configuration, templates, sessions and CSRF, role checks,
error pages. The pages themselves are in :mod:`fieldkit.console.pages`."""

from __future__ import annotations

import html
import json
import logging
import os
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from fieldkit.console import lists, roles, sessions
from fieldkit.console.errors import UserError
from fieldkit.console.labels import COLUMN_KIND, LABELS, label
from fieldkit.console.paging import PagingError
from fieldkit.i18n import LANGUAGES, catalog, locale_dir, parse_po
from fieldkit.sync.server.texterror import TextError

log = logging.getLogger("fieldkit.console")

PREFIX = "/console"
COOKIE = "fk_console"
LANG_COOKIE = "fk_console_lang"
LOGIN_CSRF_COOKIE = "fk_console_login"
ENV_TZ = "FIELDKIT_CONSOLE_TZ"
ENV_LANG = "FIELDKIT_CONSOLE_LANG"
ENV_SECURE = "FIELDKIT_CONSOLE_SECURE_COOKIES"
STATIC = Path(__file__).resolve().parent / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Config:
    tz: ZoneInfo
    language: str
    secure_cookies: str  # auto (when the request came over https) | always | never


def config_from_env() -> Config:
    name = os.environ.get(ENV_TZ) or "Asia/Shanghai"
    try:
        tz = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SystemExit(f"{ENV_TZ}: unknown time zone {name!r}") from exc
    language = os.environ.get(ENV_LANG) or "zh"
    if language not in LANGUAGES:
        raise SystemExit(f"{ENV_LANG}: use one of {', '.join(sorted(LANGUAGES))}")
    secure = os.environ.get(ENV_SECURE) or "auto"
    if secure not in ("auto", "always", "never"):
        raise SystemExit(f"{ENV_SECURE}: use auto, always or never")
    return Config(tz, language, secure)


@lru_cache(maxsize=1)
def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("fieldkit.console", "templates"),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(label=label, LABELS=LABELS, COLUMN_KIND=COLUMN_KIND)
    env.filters["compact"] = lambda v: (
        v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
    )
    env.tests["datetime"] = lambda v: isinstance(v, datetime)
    env.tests["date"] = lambda v: isinstance(v, date) and not isinstance(v, datetime)
    return env


@lru_cache(maxsize=4)
def _console_catalog(language: str) -> dict[str, str]:
    """The merged catalog with the console's own ``console.po`` on top: a word other areas
    translate differently (Unit: 单位 for a measurement, 单元 here) reads right in the
    console."""
    if language == "en":
        return {}
    code = LANGUAGES.get(language, language)
    own = locale_dir() / code / "LC_MESSAGES" / "console.po"
    return {**catalog(language), **(parse_po(own) if own.is_file() else {})}


def translator(language: str) -> Callable[[str], str]:
    table = _console_catalog(language)
    return lambda message: table.get(message, message)


def user_error_text(t: Callable[[str], str], exc: UserError) -> str:
    """The error in the reader's language; a service error given as a parameter (a
    :class:`TextError`) is translated too, not shown in the server's English."""
    return t(exc.msgid).format(
        **{
            k: t(v.msgid).format(**v.params) if isinstance(v, TextError) else v
            for k, v in exc.args_.items()
        }
    )


class NeedLogin(Exception):
    pass


class Forbidden(Exception):
    pass


@dataclass
class Ctx:
    """One request as the pages see it."""

    request: Request
    engine: Engine
    config: Config
    session: sessions.Session | None
    language: str

    def __post_init__(self) -> None:
        self._ = translator(self.language)

    @property
    def staff(self) -> Any:
        if self.session is None:
            raise NeedLogin
        return self.session.staff

    def can(self, permission: str) -> bool:
        return self.session is not None and roles.allowed(self.session.staff.role, permission)

    def require(self, permission: str) -> None:
        if self.session is None:
            raise NeedLogin
        if not self.can(permission):
            raise Forbidden

    def scope(self) -> lists.Scope:
        return lists.Scope(self.config.tz, datetime.now(self.config.tz).date(), self._)

    def fmt_dt(self, value: datetime | str | None) -> str:
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return value
        if value.tzinfo is None:  # SQLite hands back naive UTC
            value = value.replace(tzinfo=UTC)
        return value.astimezone(self.config.tz).strftime("%Y-%m-%d %H:%M")

    def fmt_date(self, value: date | str | None) -> str:
        return "" if value is None else str(value)[:10]

    def url(self, path: str, **query: Any) -> str:
        items = [(k, v) for k, v in query.items() if v not in (None, "")]
        return PREFIX + path + (("?" + urlencode(items)) if items else "")

    def render(self, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = (
            templates()
            .get_template(name)
            .render(
                _=self._,
                c=self,
                user=self.session.staff if self.session else None,
                csrf=self.session.csrf_token if self.session else "",
                lang=self.language,
                **values,
            )
        )
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def redirect(self, path: str, **query: Any) -> RedirectResponse:
        return RedirectResponse(self.url(path, **query), status_code=303, headers=SECURITY_HEADERS)


def _language(request: Request, config: Config) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    return chosen if chosen in LANGUAGES else config.language


def _context(request: Request, *, with_session: bool = True) -> Ctx:
    engine = request.app.state.engine
    config = request.app.state.console_config
    session = sessions.find(engine, request.cookies.get(COOKIE)) if with_session else None
    return Ctx(request, engine, config, session, _language(request, config))


def ctx(request: Request) -> Ctx:
    """Dependency: the request's context; the session is looked up but not required."""
    return _context(request)


async def form(request: Request) -> dict[str, str]:
    """Dependency for state-changing requests: the form fields, after the CSRF check."""
    data = await request.form()
    fields = {k: v for k, v in data.items() if isinstance(v, str)}
    session = await run_in_threadpool(
        sessions.find, request.app.state.engine, request.cookies.get(COOKIE)
    )
    if session is None:
        raise NeedLogin
    if not session.csrf_ok(fields.get("csrf_token")):
        raise UserError(
            "The form has expired or did not come from this console; reload the page and try again",
            status=403,
        )
    return fields


def secure_cookie(c: Ctx) -> bool:
    if c.config.secure_cookies == "always":
        return True
    if c.config.secure_cookies == "never":
        return False
    return c.request.url.scheme == "https"


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def _error_page(request: Request, status: int, message: str) -> Response:
    try:
        try:
            c = _context(request)
        except Exception:  # the database is down: still answer with a page
            log.exception("console error page without a session")
            c = _context(request, with_session=False)
        return c.render("error.html", status=status, message=message, status_code=status)
    except Exception:
        log.exception("console error page failed")
        body = f"<!doctype html><title>{status}</title><p>{html.escape(message)}</p>"
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


class ConsoleRoute(APIRoute):
    """Routes whose failures are pages (in the reader's language), never JSON or a traceback."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except NeedLogin:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(
                    f"{PREFIX}/login?next={quote(target, safe='')}",
                    status_code=303,
                    headers=SECURITY_HEADERS,
                )
            except Forbidden:
                t = translator(_language(request, request.app.state.console_config))
                return _error_page(request, 403, t("Your role may not open this page or do this"))
            except UserError as exc:
                t = translator(_language(request, request.app.state.console_config))
                message = user_error_text(t, exc)
                return _error_page(request, exc.status, message)
            except PagingError:
                t = translator(_language(request, request.app.state.console_config))
                return _error_page(
                    request, 400, t("That page link is not valid; start from the first page")
                )
            except RequestValidationError:
                t = translator(_language(request, request.app.state.console_config))
                return _error_page(request, 404, t("Not found: {ref}").format(ref=request.url.path))
            except StarletteHTTPException as exc:
                return _error_page(request, exc.status_code, str(exc.detail))
            except Exception:
                log.exception("console page failed: %s", request.url.path)
                t = translator(_language(request, request.app.state.console_config))
                return _error_page(
                    request,
                    500,
                    t(
                        "Something went wrong on the server; nothing was changed. Try again or tell the administrator."
                    ),
                )

        return handler


router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


def install(app: FastAPI, engine: Engine) -> None:
    from fieldkit.console import pages  # noqa: F401  (registers the routes on ``router``)

    app.state.console_config = config_from_env()
    # The static files first: the pages' router ends with a catch-all 404 page.
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")
    app.include_router(router)
