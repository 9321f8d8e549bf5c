"""F6 from a visit: read the emulated meter over a real pty; the reading joins the visit."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from fieldkit.config import Settings
from fieldkit.records.models import DeviceReading
from tests.tui.helpers import make_app, repo_for, screen_text, seed_order, settle


async def test_meter_read_during_a_visit_is_attached_to_it(settings: Settings) -> None:
    from fieldkit.devices.emulator import start_meter_emulator

    seed_order(settings)
    with start_meter_emulator() as meter:
        app = make_app(settings.model_copy(update={"serial_port": meter.port_path}))
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            await settle(pilot)
            app.screen.query_one("#orders").focus()
            await pilot.press("enter")
            await settle(pilot)
            visit_id = app.screen.visit_id
            await pilot.press("f6")
            await settle(pilot)
            assert type(app.screen).__name__ == "DeviceScreen"
            await pilot.press("f5")  # the device screen's "read meter"
            for _ in range(200):
                await asyncio.sleep(0.05)
                await settle(pilot)
                if any("读数已附加" in n.message for n in app._notifications):
                    break
            assert any("读数已附加" in n.message for n in app._notifications), screen_text(app)
    repo = repo_for(settings)
    with repo.database.session() as session:
        rows = session.exec(select(DeviceReading).where(DeviceReading.visit_id == visit_id)).all()
    assert len(rows) == 1
    assert rows[0].raw_hex  # what the meter really said is kept
    assert rows[0].port == meter.port_path
