"""Sync with the back office: push closed visits, pull work orders. Runs in a worker thread."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from fieldkit.i18n import _
from fieldkit.tui.keys import translate_bindings
from fieldkit.tui.widgets.footer import FieldFooter
from fieldkit.tui.widgets.progress import AsciiProgress


def progress_text(progress: Any) -> tuple[int, int | None, str]:
    """(done, total, what) from the sync client's :class:`SyncProgress`."""
    phase = str(getattr(progress, "phase", ""))
    pushed = int(getattr(progress, "pushed", 0))
    to_push = int(getattr(progress, "to_push", 0))
    if phase == "push":
        what = _("Sending visits: {done} of {total}").format(done=pushed, total=to_push)
    elif phase == "pull":
        what = _("Fetching work orders: {n} changes").format(n=getattr(progress, "pulled", 0))
    elif phase == "retry":
        what = _(
            "No answer from the server (attempt {n}); trying again in {s:.0f} s. {message}"
        ).format(
            n=getattr(progress, "attempt", 0),
            s=getattr(progress, "retry_in", 0.0),
            message=getattr(progress, "message", ""),
        )
    else:
        what = ""
    return pushed, (to_push or None), what


def report_text(report: Any) -> str:
    """A sync report in words: what was sent, what came back, what still waits and why."""
    parts = [
        _("Sent {n} visits ({d} the server already had).").format(
            n=report.pushed + report.duplicates, d=report.duplicates
        ),
        _("Work-order changes: {n}.").format(n=report.pulled),
        _("Still waiting: {n}.").format(n=report.waiting),
    ]
    for visit_id, detail in report.conflicts:
        parts.append(
            _("Conflict, kept on this laptop: visit {id}: {detail}").format(
                id=str(visit_id)[:8], detail=detail
            )
        )
    if report.failed is not None:
        visit_id, why = report.failed
        where = _("visit {id}: ").format(id=str(visit_id)[:8]) if visit_id else ""
        parts.append(_("Stopped: {where}{why}").format(where=where, why=why))
    if report.interrupted:
        parts.append(_("Cancelled; the rest waits for the next sync."))
    return " ".join(parts)


class SyncScreen(ModalScreen[None]):
    """Shows the records waiting, then the progress of one sync, then its result."""

    CSS_PATH = "sync.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "app.help", "Help", id="app.help"),
        Binding("f5", "start", "Sync now", id="sync.start"),
        Binding("escape", "close", "Close", id="sync.close"),
    ]

    class Progress(Message):
        def __init__(self, done: int, total: int | None, what: str) -> None:
            super().__init__()
            self.done = done
            self.total = total
            self.what = what

    class Finished(Message):
        def __init__(self, report: Any, error: str | None, waiting: int | None) -> None:
            super().__init__()
            self.report = report
            self.error = error
            self.waiting = waiting

    class Counted(Message):
        def __init__(self, waiting: int | None, error: str | None = None) -> None:
            super().__init__()
            self.waiting = waiting
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        translate_bindings(self)
        self.running = False
        self._cancel = threading.Event()

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="sync-dialog"):
            yield Label(_("Sync with the back office"), classes="heading")
            yield Static(_("Counting records waiting..."), id="sync-waiting", markup=False)
            yield AsciiProgress(id="sync-progress")
            yield Static("", id="sync-status", markup=False)
            yield Static(_("F5: sync now.  Esc: close."), classes="hint")
        yield FieldFooter()

    def on_mount(self) -> None:
        # The dialog takes the keys (and scrolls a long report on a small screen).
        self.query_one("#sync-dialog", VerticalScroll).focus()
        self._count()

    @work(thread=True, exclusive=True, group="sync-count")
    def _count(self) -> None:
        try:
            waiting = self.app.services.repository().outbox_count()  # type: ignore[attr-defined]
        except Exception as exc:
            self.post_message(self.Counted(None, str(exc)))
            return
        self.post_message(self.Counted(waiting))

    @on(Counted)
    def _counted(self, message: Counted) -> None:
        text = (
            _("Records waiting to be sent: {n}").format(n=message.waiting)
            if message.error is None
            else _("Cannot read the visit database: {error}").format(error=message.error)
        )
        self.query_one("#sync-waiting", Static).update(text)

    def action_start(self) -> None:
        if self.running:
            return
        settings = self.app.settings  # type: ignore[attr-defined]
        status = self.query_one("#sync-status", Static)
        if not settings.server_url:
            status.set_classes("error-text")
            status.update(_("No sync server is set. Set its address in Settings (F9)."))
            return
        self.running = True
        status.set_classes("")
        status.update(_("Syncing..."))
        self._sync()

    @work(thread=True, exclusive=True, group="sync")
    def _sync(self) -> None:
        report: Any = None
        error: str | None = None
        waiting: int | None = None
        try:
            from fieldkit.sync.client import sync_once

            services = self.app.services  # type: ignore[attr-defined]

            def progress(state: Any) -> None:
                self.post_message(self.Progress(*progress_text(state)))

            report = sync_once(
                services.settings, services.database(), progress=progress, cancel=self._cancel
            )
            waiting = services.repository().outbox_count()
        except Exception as exc:  # the outbox keeps every record; nothing is lost
            error = str(exc) or type(exc).__name__
        self.post_message(self.Finished(report, error, waiting))

    @on(Progress)
    def _progress(self, message: Progress) -> None:
        self.query_one("#sync-progress", AsciiProgress).update_progress(message.done, message.total)
        if message.what:
            self.query_one("#sync-status", Static).update(message.what)

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        self.running = False
        status = self.query_one("#sync-status", Static)
        if message.error is not None:
            status.set_classes("error-text")
            status.update(
                _(
                    "Sync failed: {error}. Every record is still kept and will be sent later."
                ).format(error=message.error)
            )
        else:
            report = message.report
            status.set_classes("saved" if report.ok else "error-text")
            status.update(_("Sync finished. {summary}").format(summary=report_text(report)))
        if message.waiting is not None:
            self.query_one("#sync-waiting", Static).update(
                _("Records waiting to be sent: {n}").format(n=message.waiting)
            )

    def action_close(self) -> None:
        # Stops a running sync between requests; whatever was not confirmed stays queued.
        self._cancel.set()
        self.dismiss(None)
