"""Reading what the technician sees, and seeding the database through the records API."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from textual.pilot import Pilot
from textual.worker import WorkerCancelled

from fieldkit.config import Settings
from fieldkit.tui.app import FieldkitApp


def screen_text(app: Any) -> str:
    """Every character on the screen now, row by row (what a user would read)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text for strip in strips)


async def settle(pilot: Pilot[Any]) -> None:
    """Wait for workers and the messages they post."""
    for _ in range(3):
        for worker in list(pilot.app.workers):
            # A cancelled worker was replaced by a newer exclusive one, which this loop
            # waits for; a worker that failed still raises WorkerFailed.
            with contextlib.suppress(WorkerCancelled):
                await worker.wait()
        await pilot.pause()


def make_app(settings: Settings) -> FieldkitApp:
    return FieldkitApp(settings, cursor_blink=False)


def repo_for(settings: Settings) -> Any:
    from fieldkit.records.db import open_database
    from fieldkit.records.repo import VisitRepository

    return VisitRepository(open_database(settings.resolved_db_url()))


def seed_order(settings: Settings, order_no: str = "WO-0001") -> tuple[Any, Any]:
    """One customer and one open ignition work order assigned to the technician."""
    repo = repo_for(settings)
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
