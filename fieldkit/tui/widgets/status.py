"""The one-line bar at the top of every screen: where you are, who you are, what waits."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from fieldkit.i18n import _


class StatusBar(Static):
    """Screen title, technician and the number of records waiting to be synced."""

    DEFAULT_CSS = """
    StatusBar {
        dock: top;
        height: 1;
        width: 1fr;
        background: $primary;
        color: $text;
        padding: 0 1;
    }
    """

    waiting: reactive[int | None] = reactive(None)
    heading: reactive[str] = reactive("")

    def __init__(self, heading: str, *, id: str | None = None) -> None:
        super().__init__(id=id or "status-bar")
        self.set_reactive(StatusBar.heading, heading)

    def render(self) -> Text:
        settings = getattr(self.app, "loaded_settings", None)
        tech = getattr(settings, "technician_id", None) or _("not set")
        parts = [self.heading, _("Technician: {id}").format(id=tech)]
        banner = getattr(self.app, "banner", "")
        if banner:
            parts.insert(0, banner)
        if self.waiting is not None:
            parts.append(_("Waiting to sync: {n}").format(n=self.waiting))
        return Text("  |  ".join(parts))  # plain: an id may hold [brackets]
