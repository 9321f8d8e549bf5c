"""The laptop's sync client: push the outbox, pull work orders.

Call :func:`sync_once` from a worker thread (the TUI) or the ``fieldkit sync`` command::

    report = sync_once(settings, database, progress=on_progress, cancel=stop_event)

Rules (the ODK Central / KoboToolbox way, see ``docs/sync.md``):

* the outbox is read in pages (memory does not grow with it) and sent in batches whose
  size follows the server's response time (halved when a batch takes longer than
  ``target_seconds``, doubled up to ``batch_size`` when it is quick);
* a visit leaves the outbox only after the server confirmed it (``stored`` or
  ``duplicate``); a ``conflict`` (different content under the same visit id) is reported
  and kept locally, never overwritten;
* a visit the server refuses (4xx other than 401, or ``rejected`` in a batch answer) — or
  one that is already invalid on the laptop — is set aside (``rejected``) with the
  server's message and reported; the rest of the outbox goes on;
* connection errors are retried with exponential backoff and jitter (tenacity), the delay
  capped, attempts not (unless ``max_attempts`` is given); a 5xx is retried
  ``server_error_attempts`` times, then the batch is split to find the visit it is about,
  which stays in the outbox (``failed``) and is named; the others go on;
* 401 (token) stops the sync;
* work orders are pulled by cursor, page by page; tombstones cancel orders. When the
  server's epoch differs from the one the laptop last saw (its database was replaced or
  restored), every work order is pulled again and the open ones the server no longer has
  are cancelled, and the report says so.

This module never imports FastAPI or Textual.
"""

from __future__ import annotations

import json
import random
import re
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import tenacity
from pydantic import ValidationError

from fieldkit.config import Settings, check_server_url
from fieldkit.i18n import _
from fieldkit.records import outbox as records
from fieldkit.records import work_orders
from fieldkit.records.db import Database
from fieldkit.records.models import OutboxItem, OutboxState
from fieldkit.sync.schema import (
    BatchResult,
    VisitPayload,
    WorkOrderPage,
)

API = "/api/v1"
DEFAULT_BATCH_SIZE = 200
DEFAULT_BATCH_BYTES = 4 * 1024 * 1024  # stay under the server's request limit (8 MB)
DEFAULT_PAGE_SIZE = 1000  # work orders per pull request (the server's maximum)
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
SERVER_ERROR_ATTEMPTS = 5  # tries of one request answered 5xx before it is narrowed down
TARGET_SECONDS = 5.0  # a batch slower than this halves the next batch
MAX_SERVER_FAILURES = 3  # single visits failing with 5xx in a row before the push stops


class SyncError(Exception):
    """Sync cannot start (no server URL or token configured, bad URL)."""


class _Stop(Exception):
    """Internal: the sync was cancelled by the user."""


class _GaveUp(Exception):
    """Internal: ``max_attempts`` retryable failures in a row."""


class _ServerFailing(Exception):
    """Internal: a request answered 5xx ``server_error_attempts`` times in a row."""


class _Retry(Exception):
    """Internal: one failed attempt that may be retried."""

    def __init__(self, problem: str, server_error: bool):
        super().__init__(problem)
        self.problem, self.server_error = problem, server_error


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
    rejected: list[tuple[uuid.UUID, str]] = field(default_factory=list)  # set aside
    server_errors: list[tuple[uuid.UUID, str]] = field(default_factory=list)  # stay, retried
    failed: tuple[uuid.UUID | None, str] | None = None  # what stopped the sync, and why
    pulled: int = 0  # work-order changes applied (new, updated or cancelled)
    cancelled: int = 0  # work orders cancelled by tombstones
    epoch_changed: bool = False  # the server's database was replaced or restored
    dropped: int = 0  # open work orders the server no longer has (after an epoch change)
    waiting: int = 0  # outbox rows still waiting after this run
    interrupted: bool = False  # the user cancelled the sync

    @property
    def ok(self) -> bool:
        return (
            self.failed is None
            and not self.conflicts
            and not self.rejected
            and not self.server_errors
            and not self.interrupted
        )


@dataclass
class Backoff:
    """Exponential backoff with full jitter: the delay is capped, attempts are not
    (``max_attempts=None``); a 5xx answer is tried ``server_error_attempts`` times."""

    base: float = 0.5
    cap: float = 30.0
    max_attempts: int | None = None
    server_error_attempts: int = SERVER_ERROR_ATTEMPTS
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(self.base / 2, min(self.cap, self.base * 2 ** (attempt - 1)))

    def wait(self, state: tenacity.RetryCallState) -> float:
        """tenacity's ``wait``."""
        return self.delay(state.attempt_number)

    def stop(self, state: tenacity.RetryCallState) -> bool:
        """tenacity's ``stop``: after ``max_attempts`` failures, or too many 5xx in a row."""
        if self.max_attempts is not None and state.attempt_number >= self.max_attempts:
            return True
        failure = state.outcome.exception() if state.outcome is not None else None
        return (
            isinstance(failure, _Retry)
            and failure.server_error
            and state.attempt_number >= self.server_error_attempts
        )


ProgressCallback = Callable[[SyncProgress], None]


def outbox_count(database: Database) -> int:
    """How many closed visits are waiting to reach the back office."""
    return records.outbox_count(database)


def set_aside(database: Database) -> list[OutboxItem]:
    """Visits the back office refused, with its message (``last_error``): they wait for a
    person and are not sent again."""
    return records.outbox_items(database, OutboxState.REJECTED)


def _verify(settings: Settings) -> bool | ssl.SSLContext:
    if settings.insecure:
        return False
    if settings.ca_bundle is not None:
        try:
            return ssl.create_default_context(cafile=str(settings.ca_bundle))
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise SyncError(
                _("The CA bundle {path} holds no usable certificate: {error}").format(
                    path=settings.ca_bundle, error=exc
                )
            ) from None
    return True


def make_http_client(settings: Settings, *, timeout: float = 30.0) -> httpx.Client:
    if not settings.server_url:
        raise SyncError(_("No server URL is set (server_url in the settings)"))
    if not settings.token:
        raise SyncError(_("No device token is set (token in the settings)"))
    url = settings.server_url.strip().rstrip("/")
    try:
        check_server_url(url)
    except ValueError as exc:
        raise SyncError(
            _("The server URL {url} cannot be used: {problem}").format(url=url, problem=exc)
        ) from None
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

    def _attempt(self, method: str, url: str, kwargs: dict[str, Any]) -> httpx.Response:
        if self.cancel.is_set():
            raise _Stop
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            tls = _tls_problem(exc)
            if tls is not None:
                raise _TlsRefused(str(tls)) from exc
            problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise _Retry(problem, server_error=False) from exc
        if response.status_code in RETRYABLE_STATUS:
            raise _Retry(_error_message(response), server_error=response.status_code >= 500)
        if not response.is_success:
            raise _Refused(response)
        return response

    def _sleep(self, seconds: float) -> None:
        if self.cancel.wait(seconds):
            raise _Stop

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request with the retry policy; raises _Refused, _GaveUp, _ServerFailing,
        _TlsRefused or _Stop."""
        phase = self.state.phase

        def before_sleep(state: tenacity.RetryCallState) -> None:
            failure = state.outcome.exception() if state.outcome is not None else None
            problem = failure.problem if isinstance(failure, _Retry) else str(failure)
            delay = state.upcoming_sleep
            self.report(
                phase="retry", attempt=state.attempt_number, retry_in=delay, message=problem
            )
            self.state.phase = phase

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retry),
            wait=self.backoff.wait,
            stop=self.backoff.stop,
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            response = retrying(self._attempt, method, url, kwargs)
        except _Retry as exc:
            if exc.server_error:
                raise _ServerFailing(exc.problem) from exc
            raise _GaveUp(exc.problem) from exc
        if retrying.statistics.get("attempt_number", 1) > 1:
            self.report(phase=phase, attempt=0, retry_in=0.0, message="")
        return response


def _connection_error(exc: Exception) -> str:
    if isinstance(exc, _ServerFailing):
        return _("The back office failed: {error}").format(error=exc)
    if isinstance(exc, _TlsRefused):
        return _(
            "The server's certificate is not trusted ({error}); set ca_bundle to your "
            "office's CA certificate"
        ).format(error=exc)
    return _("The server could not be reached: {error}").format(error=exc)


Batch = list[tuple[OutboxItem, bytes]]


class _Push:
    """One push: streams the outbox, sizes batches, narrows failures down to a visit."""

    def __init__(
        self,
        session: _Session,
        database: Database,
        report: SyncReport,
        batch_size: int,
        batch_bytes: int,
        target_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.session, self.database, self.report = session, database, report
        self.max_size, self.batch_bytes, self.target = batch_size, batch_bytes, target_seconds
        self.clock = clock
        self.size = batch_size
        self.server_failures = 0  # single visits failing with 5xx in a row
        self.queue: list[Batch] = []  # parts of a batch still to send (after a split)

    # -- reading the outbox
    def _valid(self, items: Iterator[OutboxItem]) -> Iterator[tuple[OutboxItem, bytes]]:
        """Each waiting visit with its JSON; one that is not even valid here is set aside."""
        for item in items:
            try:
                VisitPayload.model_validate(item.payload)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first.get("loc", ()))
                problem = f"{where}: {first.get('msg', '')}" if where else str(first.get("msg"))
                error = _("Visit {visit} cannot be sent, its record is invalid: {error}").format(
                    visit=item.visit_id, error=problem
                )
                self._set_aside(item, error)
                continue
            body = json.dumps(item.payload, ensure_ascii=False, separators=(",", ":"))
            yield item, body.encode()

    def _next_batch(self, source: Iterator[tuple[OutboxItem, bytes]], held: Batch) -> Batch:
        batch: Batch = []
        used = 0
        while len(batch) < self.size:
            if held:
                item, body = held.pop(0)
            else:
                nxt = next(source, None)
                if nxt is None:
                    break
                item, body = nxt
            if batch and used + len(body) > self.batch_bytes:
                held.insert(0, (item, body))
                break
            batch.append((item, body))
            used += len(body) + 1
        return batch

    def run(self) -> None:
        source = self._valid(records.iter_pending(self.database, page_size=self.max_size))
        held: Batch = []
        while True:
            batch = self.queue.pop(0) if self.queue else self._next_batch(source, held)
            if not batch:
                return
            if not self._send(batch):
                return

    # -- outcomes
    def _set_aside(self, item: OutboxItem, error: str) -> None:
        records.mark_rejected(self.database, item.id, error)
        self.report.rejected.append((item.visit_id, error))

    def _send(self, batch: Batch) -> bool:
        """Send a batch (splitting it when needed); False when the push must stop."""
        body = b'{"visits":[' + b",".join(b for _item, b in batch) + b"]}"
        started = self.clock()
        try:
            response = self.session.request(
                "POST",
                f"{API}/visits/batch",
                content=body,
                headers={"Content-Type": "application/json"},
            )
        except _Refused as refused:
            return self._refused(batch, refused.response)
        except _ServerFailing as failing:
            return self._server_failing(batch, str(failing))
        except (_GaveUp, _TlsRefused) as gave_up:
            error = _connection_error(gave_up)
            records.record_results(
                self.database,
                flagged={i.id: (OutboxState.FAILED, error) for i, _b in batch},
            )
            self.report.failed = (None, error)
            return False
        self._adapt(len(batch), self.clock() - started)
        self.server_failures = 0
        _apply_results(self.session, self.database, self.report, batch, response)
        return True

    def _adapt(self, sent: int, seconds: float) -> None:
        if seconds > self.target and sent > 1:
            self.size = max(1, sent // 2)
        elif seconds < self.target / 4 and sent >= self.size:
            self.size = min(self.max_size, self.size * 2)

    def _split(self, batch: Batch) -> bool:
        half = len(batch) // 2
        self.queue[:0] = [batch[:half], batch[half:]]
        return True

    def _refused(self, batch: Batch, response: httpx.Response) -> bool:
        error = _error_message(response)
        if response.status_code == 401:
            self.report.failed = (None, error)
            return False
        visit_id = _named_visit(response, batch)
        if visit_id is None and len(batch) > 1:
            return self._split(batch)  # which visit is it about? (e.g. 413)
        if visit_id is None:
            visit_id = batch[0][0].visit_id
        elif response.status_code == 403 and visit_id not in {i.visit_id for i, _b in batch}:
            self.report.failed = (None, error)
            return False
        rest: Batch = []
        for item, b in batch:
            if item.visit_id == visit_id:
                self._set_aside(item, error)
            else:
                rest.append((item, b))
        if rest:
            self.queue.insert(0, rest)
        return True

    def _server_failing(self, batch: Batch, problem: str) -> bool:
        if len(batch) > 1:
            return self._split(batch)
        item = batch[0][0]
        error = _("The back office failed on visit {visit}: {error}").format(
            visit=item.visit_id, error=problem
        )
        records.mark_failed_attempt(self.database, item.id, error)
        self.report.server_errors.append((item.visit_id, error))
        self.server_failures += 1
        if self.server_failures >= MAX_SERVER_FAILURES:
            self.report.failed = (
                None,
                _("The back office keeps failing; the sync stopped: {error}").format(error=problem),
            )
            return False
        return True


_INDEX = re.compile(r"^visits\.(\d+)")


def _named_visit(response: httpx.Response, batch: Batch) -> uuid.UUID | None:
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


def _apply_results(
    session: _Session,
    database: Database,
    report: SyncReport,
    batch: Batch,
    response: httpx.Response,
) -> None:
    try:
        results = BatchResult.model_validate(response.json()).results
    except (ValueError, ValidationError) as exc:
        raise SyncError(
            _("The server sent an answer fieldkit does not understand: {error}").format(error=exc)
        ) from exc
    by_id = {r.visit_id: r for r in results}
    sent: dict[uuid.UUID, dict[str, Any]] = {}
    flagged: dict[uuid.UUID, tuple[OutboxState, str]] = {}
    for item, _b in batch:
        result = by_id.get(item.visit_id)
        if result is None:
            continue  # not confirmed: stays in the outbox
        if result.status in ("stored", "duplicate"):
            ack = result.model_dump(mode="json")
            ack["hash_matches"] = result.content_hash == item.content_hash
            sent[item.id] = ack
            if result.status == "stored":
                report.pushed += 1
            else:
                report.duplicates += 1
        elif result.status == "conflict":
            detail = (result.error or {}).get("message") or _(
                "the server holds different content for this visit"
            )
            flagged[item.id] = (OutboxState.CONFLICT, detail)
            report.conflicts.append((item.visit_id, detail))
        else:
            error = (result.error or {}).get("message") or result.status
            flagged[item.id] = (OutboxState.REJECTED, error)
            report.rejected.append((item.visit_id, error))
    records.record_results(database, sent=sent, flagged=flagged)
    session.report(
        phase="push",
        pushed=report.pushed + report.duplicates,
        waiting=max(0, session.state.waiting - len(sent) - len(flagged)),
    )


def _pull(session: _Session, database: Database, report: SyncReport, page_size: int) -> None:
    known_epoch = work_orders.server_epoch(database)
    since = work_orders.work_order_cursor(database)
    resync = checked = False
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
        epoch = page.epoch
        first, checked = not checked, True
        if first and epoch is not None and epoch != known_epoch and since > 0:
            # Another database (recreated or restored): our cursor means nothing there.
            work_orders.begin_resync(database)
            resync, since, checked = True, 0, True
            report.epoch_changed = True
            continue
        if page.items:
            applied = work_orders.upsert_work_orders(database, page.items)
            report.pulled += applied.created + applied.updated + applied.cancelled
            report.cancelled += applied.cancelled
        session.report(phase="pull", pulled=report.pulled)
        if not page.has_more or page.next_cursor <= since:
            if epoch is not None and resync:
                report.dropped = work_orders.finish_resync(database, epoch)
                report.cancelled += report.dropped
            elif epoch is not None and epoch != known_epoch:
                work_orders.set_state(database, work_orders.EPOCH_KEY, epoch)
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
    target_seconds: float = TARGET_SECONDS,
    push: bool = True,
    pull: bool = True,
    timeout: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
) -> SyncReport:
    """Push the outbox, then pull work orders; returns what happened.

    Blocking: run it in a worker thread. ``progress`` is called (from that thread) with a
    :class:`SyncProgress` after each batch, page and failed attempt; set ``cancel`` to stop
    between requests or during a backoff wait. ``clock`` times each push batch (the next
    batch is halved when one took over ``target_seconds``, doubled back up to
    ``batch_size`` when one took under a quarter of it). Raises :class:`SyncError` only
    when sync cannot start (no server URL or token, bad URL, nothing to do); every network or server
    problem — including an answer that is not fieldkit's — ends up in the report.
    """
    if not push and not pull:
        raise SyncError(_("Nothing to do: neither pushing nor pulling was asked for"))
    backoff = backoff or Backoff()
    if max_attempts is not None:
        backoff.max_attempts = max_attempts
    report = SyncReport()
    waiting = records.outbox_count(database)
    state = SyncProgress(phase="push", waiting=waiting)
    with make_http_client(settings, timeout=timeout) as http:
        session = _Session(http, backoff, progress, cancel, state)
        try:
            if push:
                session.report(phase="push", to_push=waiting, waiting=waiting)
                _Push(
                    session, database, report, batch_size, batch_bytes, target_seconds, clock
                ).run()
            if pull and report.failed is None:
                try:
                    _pull(session, database, report, page_size)
                except _Refused as refused:
                    report.failed = (None, _error_message(refused.response))
                except (_GaveUp, _TlsRefused, _ServerFailing) as gave_up:
                    report.failed = (None, _connection_error(gave_up))
        except _Stop:
            report.interrupted = True
        except SyncError as exc:  # a 2xx that is not fieldkit's answer (e.g. a captive portal)
            report.failed = report.failed or (None, str(exc))
    report.waiting = records.outbox_count(database)
    session.report(phase="done", waiting=report.waiting, pulled=report.pulled)
    return report
