"""Device screen driven with the pilot against emulators on real ptys."""

from __future__ import annotations

from typing import Any

import pytest
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
            await pilot.press("ctrl+o")  # the card's meter number is among the options
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
            await pilot.press("ctrl+o")
            await pilot.press("f5")
            await pilot.pause()
            # while the worker waits, typing still reaches the screen
            app.screen.query_one("#device-meter-number").focus()
            await pilot.press("4", "2")
            assert app.screen.query_one("#device-meter-number").value == "42"
            await settle(pilot)
            text = text_of(app)
    assert "什么也没有收到" in text  # Chinese by default: nothing at all came back


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


# ---------------------------------------------------------------- the link's matrix, in F6


async def test_f6_reads_every_meter_mode() -> None:
    """The same meters as tests/devices/test_meter_matrix.py, read with F5 on this screen:
    the default probe, except a meter that ignores broadcast, read by its address."""
    from fieldkit.devices.emulator import MeterFaults  # noqa: F401  (modes use it)
    from tests.devices.meter_modes import MODES

    app = Host(DeviceScreen())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+o")  # the address is among the options
        for number, mode in enumerate(MODES):
            state = MeterState(current=100.0 + number)
            with start_meter_emulator(
                mode.emulator_profile, state, baudrate=mode.baud, pace=False, faults=mode.faults
            ) as handle:
                app.screen.query_one("#device-port").value = handle.port_path
                app.screen.query_one("#device-address").value = (
                    "" if mode.broadcast else state.address
                )
                await pilot.press("f5")
                await settle(pilot)
                text = text_of(app)
            assert len(app.taken) == number + 1, (mode.id, text)
            data = app.taken[-1].data
            assert data["profile"] in mode.accepted and data["baudrate"] == mode.baud, mode.id
            assert data["current_volume"] == 100.0 + number
            assert f"{100.0 + number:.2f}" in text


async def test_f6_choices_are_used() -> None:
    state = MeterState(current=7.0)
    with start_meter_emulator("cjt188-2018", state, baudrate=4800, pace=False) as handle:
        app = Host(DeviceScreen(port=handle.port_path))
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("ctrl+o")
            screen = app.screen
            screen.query_one("#device-profile").value = "cjt188-2018"
            screen.query_one("#device-baud").value = "4800"
            screen.query_one("#device-timeout").value = "0.5"
            screen.query_one("#device-address").value = state.address
            await pilot.press("f5")
            await settle(pilot)
    assert app.taken and app.taken[0].data["baudrate"] == 4800
    requests = handle.emulator.requests
    assert len(requests) == 1  # straight to 901F at 4800 in the 2018 order, no probing
    assert requests[0].address == state.address and requests[0].data[:2] == b"\x1f\x90"


async def test_bad_choices_are_said_before_reading() -> None:
    app = Host(DeviceScreen(port="/dev/null"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+o")
        app.screen.query_one("#device-address").value = "12345"
        await pilot.press("f5")
        await settle(pilot)
        assert "14 位" in text_of(app) or "14 digits" in text_of(app)
        app.screen.query_one("#device-address").value = ""
        app.screen.query_one("#device-timeout").value = "99"
        await pilot.press("f5")
        await settle(pilot)
        assert "超时须在" in text_of(app)
    assert app.taken == []


ENGLISH_LABELS = (
    "Meter and card",
    "Read meter",
    "Read card",
    "Port",
    "Diagnosis",
    "Raw frames",
    "Nothing read",
    "Meter profile",
    "Baud rate",
    "Timeout",
    "Choose",
)


async def test_every_label_is_chinese_in_the_chinese_ui() -> None:
    from fieldkit import i18n

    i18n.set_language("zh")
    app = Host(DeviceScreen())
    async with app.run_test(size=(140, 50)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+o")  # the options too
        await settle(pilot)
        text = text_of(app)
        # scroll the controls to the end: the lower labels too
        app.screen.query_one("#device-controls").scroll_end(animate=False)
        await pilot.pause()
        text += text_of(app)
    for english in ENGLISH_LABELS:
        assert english not in text, english
    for chinese in (
        "读表与读卡",
        "读表",
        "读卡",
        "表端口",
        "读卡器端口",
        "诊断",
        "原始报文",
        "波特率",
    ):
        assert chinese in text, chinese


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_errors_are_visible_on_small_screens(size: tuple[int, int]) -> None:
    app = Host(DeviceScreen(port="/dev/ttyUSB-fieldkit-missing"))
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        rows = text_of(app).splitlines()
    assert len(rows) == size[1]
    assert any("找不到端口" in row for row in rows[:6]), rows[:6]  # right under the title


async def test_the_demo_card_reader_port_is_preselected() -> None:
    with (
        start_meter_emulator("cjt188-2004", pace=False) as meter,
        start_card_emulator(example_user_card(), pace=False) as card,
    ):
        app = Host(DeviceScreen())
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            screen = app.screen
            assert screen.query_one("#device-port").value == meter.port_path
            assert screen.query_one("#device-card-port").value == card.port_path
            listed = [value for _label, value in screen.query_one("#device-port-list")._options]
            assert meter.port_path in listed and card.port_path in listed
            await pilot.press("f6")
            await settle(pilot)
    assert app.taken and app.taken[0].kind == "card" and app.taken[0].port == card.port_path


async def test_options_are_built_when_asked_for_and_typing_lands_in_view() -> None:
    """F6 opens with what a reading needs; Ctrl+O (or the button) builds the other choices,
    focuses the first and keeps the focused field on screen as Tab moves down (at 60x20,
    where the least fits)."""
    size = (60, 20)
    app = Host(DeviceScreen(port="/dev/null"))
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        assert not screen.query("#device-address") and not screen.options_shown
        assert screen.query_one("#device-more").display
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert screen.focused is screen.query_one("#device-profile")
        assert not screen.query("#device-more")  # the button made way for the options
        for _ in range(3):  # profile -> baud -> timeout -> address
            await pilot.press("tab")
        address = screen.query_one("#device-address")
        assert screen.focused is address
        await pilot.press(*"123")
        await settle(pilot)
        assert address.value == "123"
        region = address.region
        assert region.height and 0 <= region.y < size[1], region  # on screen
        await pilot.press("ctrl+o")  # again: back to the first choice, nothing rebuilt
        await settle(pilot)
        assert screen.focused is screen.query_one("#device-profile")
        assert len(screen.query("#device-address")) == 1
