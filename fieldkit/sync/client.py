"""The laptop's sync client: push the outbox, pull work orders.

Call :func:`sync_once` from a worker thread (the TUI) or the ``fieldkit sync`` command::

    report = sync_once(settings, database, progress=on_progress, cancel=stop_event)

Rules (the ODK Central / KoboToolbox way, see ``docs/sync.md``):

* a visit leaves the outbox only after the server confirmed it (``stored`` or
  ``duplicate``); a ``conflict`` (different content under the same visit id) is reported
  and kept locally, never overwritten;
* connection errors and 5xx are retried with exponential backoff and jitter, the delay
  capped but not the number of attempts (unless ``max_attempts`` is given);
* a non-retryable answer (400/401/403/413/422, or a record the server rejects) stops the
  push and names the record and the reason;
* work orders are pulled by cursor, page by page; tombstones cancel orders.

This module never imports FastAPI or Textual.
"""

from __future__ import annotations

import json
import random
import re
import ssl
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from pydantic import ValidationError

from fieldkit.config import Settings
from fieldkit.i18n import _
from fieldkit.records import repo as records
from fieldkit.records.db import Database
from fieldkit.sync.schema import (
    BatchResult,
    VisitPayload,
    WorkOrderPage,
)

API = "/api/v1"
DEFAULT_BATCH_SIZE = 200
DEFAULT_BATCH_BYTES = 4 * 1024 * 1024  # stay under the server's request limit (8 MB)
DEFAULT_PAGE_SIZE = 500
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class SyncError(Exception):
    """Sync cannot start (no server URL or token configured, bad URL)."""


class _Stop(Exception):
    """Internal: the sync was cancelled by the user."""


class _GaveUp(Exception):
    """Internal: ``max_attempts`` retryable failures in a row."""


class _TlsRefused(Exception):
    """Internal: the server's certificate is not trusted (retrying cannot help)."""


def _tls_problem(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class _Refused(Exception):
    """Internal: a non-retryable HTTP answer."""

    def __init__(self, response: httpx.Response):
        super().__init__(response.status_code)
        self.response = response


@dataclass
class SyncProgress:
    """What the sync is doing now; passed to the ``progress`` callback."""

    phase: Literal["push", "pull", "retry", "done"]
    pushed: int = 0  # confirmed by the server in this run (stored + duplicates)
    to_push: int = 0  # outbox rows at the start of this run
    pulled: int = 0  # work-order changes applied
    waiting: int = 0  # outbox rows still waiting
    attempt: int = 0  # failed attempts in a row (phase "retry")
    retry_in: float = 0.0  # seconds until the next attempt (phase "retry")
    message: str = ""


@dataclass
class SyncReport:
    pushed: int = 0  # visits the server stored in this run
    duplicates: int = 0  # visits the server already had with the same content
    conflicts: list[tuple[uuid.UUID, str]] = field(default_factory=list)  # kept locally
    failed: tuple[uuid.UUID | None, str] | None = None  # what stopped the sync, and why
    pulled: int = 0  # work-order changes applied (new, updated or cancelled)
    cancelled: int = 0  # work orders cancelled by tombstones
    waiting: int = 0  # outbox rows still waiting after this run
    interrupted: bool = False  # the user cancelled the sync

    @property
    def ok(self) -> bool:
        return self.failed is None and not self.conflicts and not self.interrupted


@dataclass
class Backoff:
    """Exponential backoff with full jitter: the delay is capped, attempts are not
    (``max_attempts=None``)."""

    base: float = 0.5
    cap: float = 30.0
    max_attempts: int | None = None
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(self.base / 2, min(self.cap, self.base * 2 ** (attempt - 1)))


ProgressCallback = Callable[[SyncProgress], None]


def outbox_count(database: Database) -> int:
    """How many closed visits are waiting to reach the back office."""
    return records.outbox_count(database)


def _verify(settings: Settings) -> bool | ssl.SSLContext:
    if settings.insecure:
        return False
    if settings.ca_bundle is not None:
        return ssl.create_default_context(cafile=str(settings.ca_bundle))
    return True


def make_http_client(settings: Settings, *, timeout: float = 30.0) -> httpx.Client:
    if not settings.server_url:
        raise SyncError(_("No server URL is set (server_url in the settings)"))
    if not settings.token:
        raise SyncError(_("No device token is set (token in the settings)"))
    url = settings.server_url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise SyncError(
            _("The server URL must start with http:// or https://: {url}").format(url=url)
        )
    return httpx.Client(
        base_url=url,
        headers={"Authorization": f"Bearer {settings.token}", "User-Agent": "fieldkit-sync/1"},
        timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
        verify=_verify(settings),
    )


def _what_to_do(status: int) -> str | None:
    """What a technician can do about a refusal, in their language (the server's own
    message, in English, follows it)."""
    if status == 401:
        return _(
            "The back office does not accept this laptop's token (mistyped or revoked): "
            "ask the office for a new one and enter it in the settings."
        )
    if status == 403:
        return _("The back office refused: this account may not send or read that record.")
    if status == 413:
        return _("The record is too large for the back office to accept.")
    return None


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error", {})
        message = str(error.get("message") or response.reason_phrase)
    except (ValueError, AttributeError):
        message = response.text[:300] or response.reason_phrase
    detail = f"HTTP {response.status_code}: {message}"
    hint = _what_to_do(response.status_code)
    return f"{hint} ({detail})" if hint else detail


class _Session:
    """One sync run: an HTTP client with the retry policy, progress and cancel."""

    def __init__(
        self,
        http: httpx.Client,
        backoff: Backoff,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
        state: SyncProgress,
    ):
        self.http, self.backoff, self.progress = http, backoff, progress
        self.cancel = cancel or threading.Event()
        self.state = state

    def report(self, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(self.state, name, value)
        if self.progress is not None:
            self.progress(SyncProgress(**vars(self.state)))

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        attempt = 0
        phase = self.state.phase
        while True:
            if self.cancel.is_set():
                raise _Stop
            try:
                response = self.http.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                tls = _tls_problem(exc)
                if tls is not None:
                    raise _TlsRefused(str(tls)) from exc
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if response.status_code not in RETRYABLE_STATUS:
                    if response.is_success:
                        if attempt:
                            self.report(phase=phase, attempt=0, retry_in=0.0, message="")
                        return response
                    raise _Refused(response)
                problem = _error_message(response)
            attempt += 1
            if self.backoff.max_attempts is not None and attempt >= self.backoff.max_attempts:
                raise _GaveUp(problem)
            delay = self.backoff.delay(attempt)
            self.report(phase="retry", attempt=attempt, retry_in=delay, message=problem)
            if self.cancel.wait(delay):
                raise _Stop
            self.state.phase = phase


def _connection_error(exc: Exception) -> str:
    if isinstance(exc, _TlsRefused):
        return _(
            "The server's certificate is not trusted ({error}); set ca_bundle to your "
            "office's CA certificate"
        ).format(error=exc)
    return _("The server could not be reached: {error}").format(error=exc)


def _batches(items: Sequence[Any], size: int, max_bytes: int) -> list[list[tuple[Any, bytes]]]:
    out: list[list[tuple[Any, bytes]]] = []
    current: list[tuple[Any, bytes]] = []
    used = 0
    for item in items:
        body = json.dumps(item.payload, ensure_ascii=False, separators=(",", ":")).encode()
        if current and (len(current) >= size or used + len(body) > max_bytes):
            out.append(current)
            current, used = [], 0
        current.append((item, body))
        used += len(body) + 1
    if current:
        out.append(current)
    return out


_INDEX = re.compile(r"^visits\.(\d+)")


def _named_visit(response: httpx.Response, batch: Sequence[tuple[Any, bytes]]) -> uuid.UUID | None:
    """The visit a 4xx answer is about (422 field paths carry the batch index)."""
    try:
        detail = response.json()["error"].get("detail")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if isinstance(detail, list):
        for problem in detail:
            match = (
                _INDEX.match(str(problem.get("field", ""))) if isinstance(problem, dict) else None
            )
            if match and int(match.group(1)) < len(batch):
                return batch[int(match.group(1))][0].visit_id
    if isinstance(detail, dict) and detail.get("visit_id"):
        try:
            return uuid.UUID(str(detail["visit_id"]))
        except ValueError:
            return None
    return None


def _push(
    session: _Session, database: Database, report: SyncReport, options: dict[str, Any]
) -> None:
    pending = records.pending_outbox(database)
    session.report(phase="push", to_push=len(pending), waiting=len(pending))
    # Check every record locally first: a broken one stops the push with its id.
    valid = []
    local_failure: tuple[uuid.UUID | None, str] | None = None
    for item in pending:
        try:
            VisitPayload.model_validate(item.payload)
        except ValidationError as exc:
            error = _("Visit {visit} cannot be sent, its record is invalid: {error}").format(
                visit=item.visit_id, error=exc.errors()[0].get("msg", str(exc))
            )
            records.mark_failed_attempt(database, item.id, error)
            local_failure = (item.visit_id, error)
            break
        valid.append(item)
    queue = _batches(valid, options["batch_size"], options["batch_bytes"])
    while queue:
        batch = queue.pop(0)
        body = b'{"visits":[' + b",".join(b for _item, b in batch) + b"]}"
        try:
            response = session.request(
                "POST",
                f"{API}/visits/batch",
                content=body,
                headers={"Content-Type": "application/json"},
            )
        except _Refused as refused:
            response = refused.response
            if response.status_code == 413 and len(batch) > 1:
                half = len(batch) // 2
                queue[:0] = [batch[:half], batch[half:]]
                continue
            visit_id = _named_visit(response, batch)
            if visit_id is None and len(batch) == 1:
                visit_id = batch[0][0].visit_id
            error = _error_message(response)
            for item, _b in batch:
                if visit_id is None or item.visit_id == visit_id:
                    records.mark_failed_attempt(database, item.id, error)
            report.failed = (visit_id, error)
            return
        except (_GaveUp, _TlsRefused) as gave_up:
            error = _connection_error(gave_up)
            for item, _b in batch:
                records.mark_failed_attempt(database, item.id, error)
            report.failed = (None, error)
            return
        _apply_results(session, database, report, batch, response)
        if report.failed is not None:
            return
    report.failed = report.failed or local_failure


def _apply_results(
    session: _Session,
    database: Database,
    report: SyncReport,
    batch: Sequence[tuple[Any, bytes]],
    response: httpx.Response,
) -> None:
    try:
        results = BatchResult.model_validate(response.json()).results
    except (ValueError, ValidationError) as exc:
        raise SyncError(
            _("The server sent an answer fieldkit does not understand: {error}").format(error=exc)
        ) from exc
    by_id = {r.visit_id: r for r in results}
    for item, _b in batch:
        result = by_id.get(item.visit_id)
        if result is None:
            continue  # not confirmed: stays in the outbox
        if result.status in ("stored", "duplicate"):
            ack = result.model_dump(mode="json")
            ack["hash_matches"] = result.content_hash == item.content_hash
            records.mark_sent(database, item.id, ack)
            if result.status == "stored":
                report.pushed += 1
            else:
                report.duplicates += 1
        elif result.status == "conflict":
            detail = (result.error or {}).get("message") or _(
                "the server holds different content for this visit"
            )
            records.mark_conflict(database, item.id, detail)
            report.conflicts.append((item.visit_id, detail))
        else:
            error = (result.error or {}).get("message") or result.status
            records.mark_failed_attempt(database, item.id, error)
            if report.failed is None:
                report.failed = (item.visit_id, error)
    session.report(
        phase="push",
        pushed=report.pushed + report.duplicates,
        waiting=records.outbox_count(database),
    )


def _pull(session: _Session, database: Database, report: SyncReport, page_size: int) -> None:
    since = records.VisitRepository(database).work_order_cursor()
    session.report(phase="pull")
    while True:
        response = session.request(
            "GET", f"{API}/work-orders", params={"since": since, "limit": page_size}
        )
        try:
            page = WorkOrderPage.model_validate(response.json())
        except (ValueError, ValidationError) as exc:
            raise SyncError(
                _("The server sent work orders fieldkit does not understand: {error}").format(
                    error=exc
                )
            ) from exc
        if page.items:
            applied = records.upsert_work_orders(database, page.items)
            report.pulled += applied.created + applied.updated + applied.cancelled
            report.cancelled += applied.cancelled
        session.report(phase="pull", pulled=report.pulled)
        if not page.has_more or page.next_cursor <= since:
            return
        since = page.next_cursor


def sync_once(
    settings: Settings,
    database: Database,
    progress: ProgressCallback | None = None,
    *,
    cancel: threading.Event | None = None,
    max_attempts: int | None = None,
    backoff: Backoff | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    page_size: int = DEFAULT_PAGE_SIZE,
    push: bool = True,
    pull: bool = True,
    timeout: float = 30.0,
) -> SyncReport:
    """Push the outbox, then pull work orders; returns what happened.

    Blocking: run it in a worker thread. ``progress`` is called (from that thread) with a
    :class:`SyncProgress` after each batch, page and failed attempt; set ``cancel`` to stop
    between requests or during a backoff wait. Raises :class:`SyncError` only when sync
    cannot start (no server URL or token, bad URL); every network or server problem —
    including an answer that is not fieldkit's — ends up in ``SyncReport.failed``.
    """
    backoff = backoff or Backoff()
    if max_attempts is not None:
        backoff.max_attempts = max_attempts
    report = SyncReport()
    state = SyncProgress(phase="push", waiting=records.outbox_count(database))
    with make_http_client(settings, timeout=timeout) as http:
        session = _Session(http, backoff, progress, cancel, state)
        options = {"batch_size": batch_size, "batch_bytes": batch_bytes}
        try:
            if push:
                _push(session, database, report, options)
            stop_pull = report.failed is not None and report.failed[0] is None
            if pull and not stop_pull:
                try:
                    _pull(session, database, report, page_size)
                except _Refused as refused:
                    report.failed = report.failed or (None, _error_message(refused.response))
                except (_GaveUp, _TlsRefused) as gave_up:
                    report.failed = report.failed or (None, _connection_error(gave_up))
        except _Stop:
            report.interrupted = True
        except SyncError as exc:  # a 2xx that is not fieldkit's answer (e.g. a captive portal)
            report.failed = report.failed or (None, str(exc))
    report.waiting = records.outbox_count(database)
    session.report(phase="done", waiting=report.waiting, pulled=report.pulled)
    return report
