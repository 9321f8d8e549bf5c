"""Device screen driven with the pilot against emulators on real ptys."""

from __future__ import annotations

from typing import Any

from textual.app import App

from fieldkit.devices.cjt188 import ValveState
from fieldkit.devices.emulator import (
    MeterState,
    example_user_card,
    start_card_emulator,
    start_meter_emulator,
)
from fieldkit.tui.screens.device import DeviceScreen


class Host(App[None]):
    """A bare app that shows the device screen and keeps what it posts."""

    def __init__(self, screen: DeviceScreen) -> None:
        super().__init__()
        self.device_screen = screen
        self.taken: list[Any] = []

    def on_mount(self) -> None:
        self.push_screen(self.device_screen)

    def on_device_screen_reading_taken(self, message: DeviceScreen.ReadingTaken) -> None:
        self.taken.append(message.reading)


def text_of(app: App[Any]) -> str:
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text for strip in strips)


async def settle(pilot: Any) -> None:
    for _ in range(4):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def test_read_meter_shows_state_diagnosis_and_frames() -> None:
    state = MeterState(valve=ValveState.CLOSED, low_battery=True, current=321.5)
    with start_meter_emulator("cjt188-2004", state, pace=False) as handle:
        app = Host(DeviceScreen(port=handle.port_path, device="meihua-ic"))
        async with app.run_test(size=(140, 50)) as pilot:
            await settle(pilot)
            await pilot.press("f5")
            await settle(pilot)
            text = text_of(app)
    assert "321.50" in text
    assert "低电关阀" in text  # Chinese by default
    assert "meihua-ic.06" in text
    assert ">> FE FE FE 68" in text
    assert len(app.taken) == 1
    taken = app.taken[0]
    assert taken.kind == "meter" and taken.data["valve"] == "closed"
    assert taken.data["diagnosis"]["findings"][0]["rule_id"] == "low-battery-valve-closed"


async def test_read_card_button_and_mismatch() -> None:
    with start_card_emulator(example_user_card(12345678), pace=False) as handle:
        app = Host(DeviceScreen(port=handle.port_path, device="qianfeng-ic"))
        async with app.run_test(size=(140, 50)) as pilot:
            await settle(pilot)
            app.screen.query_one("#device-meter-number").value = "99990000"
            await pilot.click("#device-read-card")
            await settle(pilot)
            text = text_of(app)
    assert "12345678" in text
    assert "qianfeng-ic.02" in text  # 卡表不对应 links the Qianfeng 不认卡 entry
    assert "20: DD 0C 22 38 4E" in text
    assert app.taken and app.taken[0].kind == "card"


async def test_unplugged_reader_is_a_message_not_a_traceback() -> None:
    app = Host(DeviceScreen(port="/dev/ttyUSB-fieldkit-missing"))
    async with app.run_test(size=(140, 50)) as pilot:
        await settle(pilot)
        await pilot.press("f6")
        await settle(pilot)
        text = text_of(app)
        assert isinstance(app.screen, DeviceScreen)
    assert "找不到端口" in text
    assert app.taken == []


async def test_ui_stays_responsive_while_reading() -> None:
    # a silent meter: the probe waits for replies at three baud rates in a worker thread
    with start_meter_emulator("cjt188-2004", MeterState(silent=True), pace=False) as handle:
        app = Host(DeviceScreen(port=handle.port_path))
        async with app.run_test(size=(140, 50)) as pilot:
            await settle(pilot)
            await pilot.press("f5")
            await pilot.pause()
            # while the worker waits, typing still reaches the screen
            app.screen.query_one("#device-meter-number").focus()
            await pilot.press("4", "2")
            assert app.screen.query_one("#device-meter-number").value == "42"
            await settle(pilot)
            text = text_of(app)
    assert "No meter answered" in text or "无表应答" in text


async def test_every_binding_has_an_id() -> None:
    for binding in DeviceScreen.BINDINGS:
        assert getattr(binding, "id", None), binding


async def test_second_read_skips_the_probe() -> None:
    state = MeterState(current=10.0)
    with start_meter_emulator("cjt188-2018", state, baudrate=9600, pace=False) as handle:
        app = Host(DeviceScreen(port=handle.port_path))
        async with app.run_test(size=(140, 50)) as pilot:
            await settle(pilot)
            await pilot.press("f5")
            await settle(pilot)
            first = len(handle.emulator.received)
            state.current = 11.0
            await pilot.press("f5")
            await settle(pilot)
            text = text_of(app)
            second = len(handle.emulator.received) - first
    assert "11.00" in text
    assert [r.data["current_volume"] for r in app.taken] == [10.0, 11.0]
    assert second < first  # only the 901F request went out the second time
