"""Sync with the back office: push closed visits, pull work orders. Runs in a worker thread."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

from fieldkit.i18n import _
from fieldkit.tui.keys import translate_bindings
from fieldkit.tui.widgets.progress import AsciiProgress


def _progress_numbers(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[int, int | None, str]:
    """(done, total, what) from whatever the sync client reports."""
    if args and not kwargs and len(args) == 1:
        event = args[0]
        done = getattr(event, "done", None)
        total = getattr(event, "total", None)
        what = str(getattr(event, "message", None) or getattr(event, "stage", "") or "")
        if isinstance(done, int):
            return done, total if isinstance(total, int) else None, what
        return 0, None, str(event)
    numbers = [a for a in args if isinstance(a, int) and not isinstance(a, bool)]
    words = [str(a) for a in args if isinstance(a, str)]
    done = kwargs.get("done", numbers[0] if numbers else 0)
    total = kwargs.get("total", numbers[1] if len(numbers) > 1 else None)
    what = str(kwargs.get("message") or kwargs.get("stage") or " ".join(words))
    return int(done), (int(total) if total is not None else None), what


class SyncScreen(ModalScreen[None]):
    """Shows the records waiting, then the progress of one sync, then its result."""

    CSS_PATH = "sync.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
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

    def compose(self) -> ComposeResult:
        with Vertical(id="sync-dialog"):
            yield Label(_("Sync with the back office"), classes="heading")
            yield Static(_("Counting records waiting..."), id="sync-waiting")
            yield AsciiProgress(id="sync-progress")
            yield Static("", id="sync-status")
            yield Static(_("F5: sync now.  Esc: close."), classes="hint")
        yield Footer()

    def on_mount(self) -> None:
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

            def progress(*args: Any, **kwargs: Any) -> None:
                self.post_message(self.Progress(*_progress_numbers(args, kwargs)))

            report = sync_once(services.settings, services.database(), progress=progress)
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
            status.set_classes("saved")
            summary = getattr(message.report, "summary", None)
            text = summary() if callable(summary) else str(message.report)
            status.update(_("Sync finished. {summary}").format(summary=text))
        if message.waiting is not None:
            self.query_one("#sync-waiting", Static).update(
                _("Records waiting to be sent: {n}").format(n=message.waiting)
            )

    def action_close(self) -> None:
        # A running sync keeps going in its worker; its records are safe either way.
        self.dismiss(None)
