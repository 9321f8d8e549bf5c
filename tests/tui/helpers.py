"""The one set of helpers for the TUI tests: drive the app, read what the user sees, seed
the database through the records API.

Every TUI test uses these (the fixtures are in ``conftest.py``, found by pytest, never
imported). Names kept for older tests: ``text_of`` = :func:`screen_text`,
``repo_for`` = :func:`open_repo`, ``_open_first_visit_procedure`` = :func:`open_procedure`
with ``from_order=False``.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.worker import WorkerCancelled

from fieldkit.config import Settings
from fieldkit.tui import app as app_module
from fieldkit.tui.app import FieldkitApp

SIZES = ((60, 20), (80, 24))
"""The small terminals every screen must work in (a field laptop's console, tmux split)."""
LANGUAGES = ("zh", "en")


class RecordingApp(FieldkitApp):
    """The real app, keeping every notification it shows (for assertions)."""

    CSS_PATH = str(Path(app_module.__file__).with_name("app.tcss"))  # beside the real app

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notified: list[str] = []

    def notify(self, message: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self.notified.append(str(message))
        super().notify(message, *args, **kwargs)


def make_app(settings: Settings | None = None, **kwargs: Any) -> RecordingApp:
    """The app with a frozen cursor (so the screen text is stable)."""
    kwargs.setdefault("cursor_blink", False)
    return RecordingApp(settings, **kwargs)


# -- reading the screen -------------------------------------------------------------------


def screen_text(app: Any) -> str:
    """Every character on the screen now, row by row (what a user would read).

    Textual has no public text export; this is the one place a private attribute is used.
    """
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text for strip in strips)


text_of = screen_text


def footer_line(app: Any) -> str:
    return screen_text(app).splitlines()[-1]


def is_visible(app: Any, widget: Any) -> bool:
    """True when some cell of ``widget`` is drawn on the screen now (not scrolled away,
    not clipped, not covered)."""
    region = widget.region
    if region.width <= 0 or region.height <= 0:
        return False
    width, height = app.size
    top, bottom = max(region.y, 0), min(region.bottom, height) - 1
    left, right = max(region.x, 0), min(region.right, width) - 1
    if top > bottom or left > right:
        return False  # wholly outside the terminal
    # Sample a few cells (corners, middle): enough to see the widget is drawn somewhere.
    rows = {top, (top + bottom) // 2, bottom}
    columns = {left, (left + right) // 2, right}
    for y in rows:
        for x in columns:
            try:
                found, _ = app.screen.get_widget_at(x, y)
            except Exception:
                continue
            if found is widget or widget in found.ancestors:
                return True
    return False


def assert_focus_visible(app: Any) -> None:
    focused = app.focused
    assert focused is not None, f"nothing has the focus on {type(app.screen).__name__}"
    assert is_visible(app, focused), (
        f"{focused!r} has the focus but is not on the screen {app.size}:\n{screen_text(app)}"
    )


# -- waiting -------------------------------------------------------------------------------


async def settle(pilot: Pilot[Any]) -> None:
    """Wait for the app's workers and the messages they post (several rounds: a message
    handler may start another worker)."""
    for _ in range(4):
        for worker in list(pilot.app.workers):
            # A cancelled worker was replaced by a newer exclusive one, which this loop
            # waits for; a worker that failed still raises WorkerFailed.
            with contextlib.suppress(WorkerCancelled):
                await worker.wait()
        await pilot.pause()


async def wait_until(
    pilot: Pilot[Any], condition: Callable[[], Any], *, timeout: float = 10.0, what: str = ""
) -> None:
    """Settle until ``condition()`` is true (for work outside the app: a device, a server);
    fails after ``timeout`` seconds naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        await settle(pilot)
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out waiting for {what or condition}:\n{screen_text(pilot.app)}"
            )
        await pilot.pause(0.05)


# -- driving the app ---------------------------------------------------------------------------


async def type_into(pilot: Pilot[Any], selector: str, text: str) -> None:
    pilot.app.screen.query_one(selector).focus()
    await pilot.press(*list(text))


async def open_visit(pilot: Pilot[Any], *, from_order: bool = True) -> Any:
    """Home → Enter on the first work order (or, ``from_order=False``, on what home
    selects first: an unfinished visit before a work order) → the visit screen."""
    app = pilot.app
    if from_order:
        app.screen.query_one("#orders").focus()
    await pilot.press("enter")
    await settle(pilot)
    assert type(app.screen).__name__ == "VisitScreen", screen_text(app)
    return app.screen


async def open_settings(pilot: Pilot[Any]) -> Any:
    """Home (settled) → F9 → the settings screen."""
    from fieldkit.tui.screens.settings import SettingsScreen

    await settle(pilot)
    await pilot.press("f9")
    await settle(pilot)
    assert isinstance(pilot.app.screen, SettingsScreen), screen_text(pilot.app)
    return pilot.app.screen


def select_procedure(visit_screen: Any, procedure_id: str) -> None:
    """Highlight ``procedure_id`` in the visit screen's list (its options carry the id)."""
    options = visit_screen.query_one("#procedures")
    options.highlighted = options.get_option_index(procedure_id)


async def open_procedure(pilot: Pilot[Any], procedure_id: str, *, from_order: bool = True) -> Any:
    """Home → the visit → run ``procedure_id`` (F7) → the procedure screen."""
    from fieldkit.tui.screens.procedure import ProcedureScreen

    visit = await open_visit(pilot, from_order=from_order)
    select_procedure(visit, procedure_id)
    await pilot.press("f7")
    await settle(pilot)
    assert isinstance(pilot.app.screen, ProcedureScreen), screen_text(pilot.app)
    return pilot.app.screen


async def _open_first_visit_procedure(pilot: Pilot[Any], procedure_id: str) -> Any:
    return await open_procedure(pilot, procedure_id, from_order=False)


# -- the database ------------------------------------------------------------------------------


def open_repo(settings: Settings) -> Any:
    """A :class:`VisitRepository` on the settings' database (close ``.database`` after)."""
    from fieldkit.records.db import open_database
    from fieldkit.records.repo import VisitRepository

    return VisitRepository(open_database(settings.resolved_db_url()))


repo_for = open_repo


def seed_order(settings: Settings, order_no: str = "WO-0001") -> tuple[Any, Any]:
    """One customer and one open ignition work order assigned to the technician."""
    repo = open_repo(settings)
    customer = repo.upsert_customer(
        "0012345",
        name="张三",
        community="幸福小区",
        building="3",
        unit="2",
        floor="5",
        room="502",
    )
    order = repo.create_work_order(
        order_no=order_no,
        visit_type="ignition",
        customer_id=customer.id,
        assigned_to=settings.technician_id or "T001",
        work_order_id=uuid.uuid4(),
    )
    repo.database.close()
    return customer, order
