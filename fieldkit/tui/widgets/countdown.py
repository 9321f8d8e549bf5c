"""A visible countdown (hold times of tightness tests). The engine decides when it is over."""

from __future__ import annotations

from collections.abc import Callable

from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Static

from fieldkit.i18n import _


def format_seconds(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes:02d}:{secs:02d}"


class Countdown(Static):
    """Polls ``remaining()`` (seconds left, from the engine) twice a second and shows it."""

    DEFAULT_CSS = """
    Countdown {
        display: none;
        height: 1;
        width: 1fr;
        padding: 0 1;
        text-style: bold;
        background: $warning 30%;
        margin: 1 0 0 0;
    }
    Countdown.-running {
        display: block;
    }
    Countdown.-done {
        display: block;
        background: $success 30%;
    }
    """

    remaining_seconds: reactive[float | None] = reactive(None)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._source: Callable[[], float | None] | None = None
        self._timer: Timer | None = None

    def follow(self, remaining: Callable[[], float | None]) -> None:
        """Start showing the time left according to ``remaining``."""
        self._source = remaining
        if self._timer is None:
            self._timer = self.set_interval(0.5, self._tick)
        self._tick()

    def stop(self) -> None:
        self._source = None
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.remaining_seconds = None
        self.remove_class("-running", "-done")

    def _tick(self) -> None:
        if self._source is None:
            return
        self.remaining_seconds = self._source()

    def watch_remaining_seconds(self, value: float | None) -> None:
        if value is None:
            self.remove_class("-running", "-done")
            self.update("")
        elif value > 0:
            self.set_class(True, "-running")
            self.set_class(False, "-done")
            self.update(_("Hold time left: {time}").format(time=format_seconds(value)))
        else:
            self.set_class(False, "-running")
            self.set_class(True, "-done")
            self.update(_("Hold time is over - enter the reading now"))
