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


async def test_f6_meter_reading_fills_the_meter_reading(settings: Settings) -> None:
    from fieldkit.devices.emulator import MeterState, start_meter_emulator

    seed_order(settings)
    with start_meter_emulator(state=MeterState(current=4321.5), pace=False) as meter:
        app = make_app(settings.model_copy(update={"serial_port": meter.port_path}))
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            await settle(pilot)
            app.screen.query_one("#orders").focus()
            await pilot.press("enter")
            await settle(pilot)
            visit_id = app.screen.visit_id
            await pilot.press("f6")
            await settle(pilot)
            await pilot.press("f5")
            for _ in range(200):
                await asyncio.sleep(0.05)
                await settle(pilot)
                if any("读数已附加" in n.message for n in app._notifications):
                    break
            await pilot.press("escape")  # back to the visit: its 表底数 field shows it
            await settle(pilot)
            assert app.screen.query_one("#meter-reading").value == "4321.5"
    repo = repo_for(settings)
    assert repo.get_visit(visit_id).meter_reading == 4321.5


async def test_f6_card_read_keeps_the_card_readers_port(settings: Settings) -> None:
    from fieldkit.devices.emulator import example_user_card, start_card_emulator

    seed_order(settings)
    with (
        start_meter_emulator_for_demo() as meter,
        start_card_emulator(example_user_card(), pace=False) as card,
    ):
        app = make_app(settings.model_copy(update={"serial_port": meter.port_path}))
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            await settle(pilot)
            app.screen.query_one("#orders").focus()
            await pilot.press("enter")
            await settle(pilot)
            visit_id = app.screen.visit_id
            await pilot.press("f6")
            await settle(pilot)
            assert app.screen.query_one("#device-card-port").value == card.port_path
            await pilot.press("f6")  # the device screen's "read card"
            for _ in range(200):
                await asyncio.sleep(0.05)
                await settle(pilot)
                if any("读数已附加" in n.message for n in app._notifications):
                    break
    repo = repo_for(settings)
    with repo.database.session() as session:
        rows = session.exec(select(DeviceReading).where(DeviceReading.visit_id == visit_id)).all()
    assert [(r.kind, r.port) for r in rows] == [("card", card.port_path)]
    assert card.port_path != meter.port_path


def start_meter_emulator_for_demo():  # the demo runs a meter and a card reader side by side
    from fieldkit.devices.emulator import start_meter_emulator

    return start_meter_emulator(pace=False)
