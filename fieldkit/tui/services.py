"""What the TUI's screens use from the domain packages, loaded lazily and shared.

Nothing here decides anything about gas work: it only opens the visit database and loads
the catalogs once, on first use, so the first screen paints before SQLAlchemy and the YAML
tables are imported. Loading may run in a worker thread (the home screen loads the database and
the procedures that way); the lock makes "first use" happen once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fieldkit.config import Settings


def utc_now() -> datetime:
    return datetime.now(UTC)


class Services:
    """Lazily opened domain objects for one TUI session.

    ``clock`` is the one clock of the TUI's timers and hold countdowns (the engine measures
    holds with it); tests replace it with a clock they move forward, instead of sleeping.
    """

    clock: Callable[[], datetime] = staticmethod(utc_now)

    def __init__(self, settings: Settings | Callable[[], Settings]):
        self._settings_source = settings
        self._lock = threading.RLock()
        self._database: Any = None
        self._opened = 0  # databases opened so far (a new one: every screen reads again)
        self._catalog: Any = None
        self._cards: Any = None
        self._conduct: Any = None
        self._procedures: dict[str, Any] | None = None
        self.procedure_problems: list[Any] = []
        self._units: Any = None

    @property
    def units(self) -> Any:
        """The pressure unit last chosen per instrument (:class:`UnitMemory`), made on first
        use (its module imports the procedure models, which the first paint must not wait for)."""
        with self._lock:
            if self._units is None:
                from fieldkit.tui.screens.step_forms import UnitMemory

                self._units = UnitMemory()
            return self._units

    @property
    def settings(self) -> Settings:
        source = self._settings_source
        return source() if callable(source) else source

    # Each loader imports its package only when first called.

    def database(self) -> Any:
        """The open visit database (:class:`fieldkit.records.db.Database`)."""
        with self._lock:
            if self._database is None:
                from fieldkit.records.db import open_database

                self._database = open_database(self.settings.resolved_db_url())
                self._opened += 1
            return self._database

    def write_stamp(self) -> tuple[int, int]:
        """Changes whenever something was written to the visit database (by any screen or
        worker of this process) or another database was opened: a screen shown again
        re-reads the database only when its stamp changed (Esc and Ctrl+L stay quick)."""
        if self._database is None:  # nothing opened: nothing written (and no import here)
            return (self._opened, 0)
        from fieldkit.records.db import write_count

        return (self._opened, write_count())

    def catalog(self) -> Any:
        """The fault catalog (:func:`fieldkit.diagnostics.catalog.default_catalog`)."""
        with self._lock:
            if self._catalog is None:
                from fieldkit.diagnostics.catalog import default_catalog

                self._catalog = default_catalog()
            return self._catalog

    def tool_cards(self) -> Any:
        """The tool-card reference (:func:`fieldkit.cards.catalog.load_tool_cards`)."""
        with self._lock:
            if self._cards is None:
                # The fault catalog loads the tool cards with it (to check its links).
                self._cards = getattr(self.catalog(), "cards", None)
            if self._cards is None:
                from fieldkit.cards.catalog import load_tool_cards

                self._cards = load_tool_cards()
            return self._cards

    def conduct(self) -> Any:
        """Service conduct (:func:`fieldkit.conduct.load_conduct`)."""
        with self._lock:
            if self._conduct is None:
                from fieldkit.conduct import load_conduct

                self._conduct = load_conduct()
            return self._conduct

    def procedures(self) -> dict[str, Any]:
        """Procedures by id (:func:`fieldkit.procedures.library.load_procedures`).

        Problems in the files (a broken utility override) are kept in
        :attr:`procedure_problems` and shown by the visit screen.
        """
        with self._lock:
            if self._procedures is None:
                from fieldkit.procedures.library import load_procedures

                self._procedures, self.procedure_problems = load_procedures()
            return self._procedures

    def repository(self) -> Any:
        """A :class:`fieldkit.records.repo.VisitRepository` over the open database."""
        from fieldkit.records.repo import VisitRepository

        return VisitRepository(self.database())

    def close(self) -> None:
        with self._lock:
            if self._database is not None:
                self._database.close()
                self._database = None
