"""The procedure screen's answer forms: the unit chosen explicitly and remembered, the pass
rule beside the readings, the failed rule named, sources folded, Esc asking before typed
fields are dropped. Hold times pass on an injected clock (no sleeping)."""

from __future__ import annotations

from typing import Any

from textual.widgets import Select

from fieldkit.config import Settings
from fieldkit.tui.screens.dialogs import ConfirmScreen
from fieldkit.tui.screens.procedure import ProcedureScreen
from fieldkit.tui.screens.step_forms import CaptureForm
from fieldkit.tui.screens.visit import VisitScreen
from fieldkit.tui.widgets.gate import GatePanel
from tests.tui.helpers import screen_text, seed_order, settle
from tests.tui.test_procedure import (
    FakeClock,
    answer_passing,
    clocked_app,
    events_of,
    open_procedure,
)


async def choose_unit(pilot: Any, unit: str) -> None:
    """Open the unit list with Enter and pick ``unit`` with the arrow keys, as a person does."""
    select = pilot.app.screen.query_one("#unit", Select)
    select.focus()
    await pilot.press("enter")
    await pilot.pause()
    # The list shows the prompt first, then the step's units in the procedure's order;
    # it opens on the current value (the prompt when nothing is chosen yet).
    units = [u.value for u in pilot.app.screen.run.current.units]
    wanted = units.index(unit) + 1
    current = 0 if select.is_blank() else units.index(select.value) + 1
    for _ in range(wanted - current):
        await pilot.press("down")
    await pilot.press("enter")
    await settle(pilot)
    assert select.value == unit


async def type_text(pilot: Any, text: str) -> None:
    await pilot.press(*list(text))


async def test_unit_is_chosen_explicitly_remembered_and_the_failed_rule_named(
    settings: Settings,
) -> None:
    seed_order(settings)
    app, clock = clocked_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await open_procedure(pilot, "ignition")
        assert screen.run is not None and screen.run.current.id == "tightness-test"
        unit = screen.query_one("#unit", Select)
        assert unit.is_blank()  # no silent default: the technician chooses
        assert app.focused is unit
        # The pass rule stands beside the inputs at 80x24.
        assert "起始读数 >= 5 kPa" in screen_text(app)

        screen.query_one("#start").focus()
        await type_text(pilot, "6")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "请先选择读数的单位" in screen_text(app)
        assert app.focused is unit
        assert events_of(settings, "tightness-test") == []

        await choose_unit(pilot, "kPa")
        assert app.focused is screen.query_one("#start")  # on to the reading
        text = screen_text(app)
        assert "起始读数 (kPa)" in text and "起始读数 >= 5 kPa" in text
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert [e.kind for e in events_of(settings, "tightness-test")] == ["reading_started"]

        clock.advance(16)  # the 15-minute hold passes on the injected clock
        await type_text(pilot, "5.5")
        await pilot.press("enter")
        await settle(pilot)
        gate = screen.query_one("#gate", GatePanel)
        assert gate.shown
        assert "有压降" in screen_text(app)

        # The repair note box is on screen at 80x24, and the unit survives the repair.
        await pilot.press("ctrl+r")
        await settle(pilot)
        repair = screen.query_one("#repair-line")
        assert app.focused is repair
        assert repair.region.bottom <= 24 - 1 and repair.region.height >= 1
        await type_text(pilot, "tightened the union")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not gate.shown
        assert unit.value == "kPa" and not unit.disabled
    kinds = [e.kind for e in events_of(settings, "tightness-test")]
    assert kinds[-1] == "repair_recorded"


async def test_a_remembered_unit_comes_back_in_a_new_session(settings: Settings) -> None:
    seed_order(settings)
    app, _clock = clocked_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await open_procedure(pilot, "ignition")
        await choose_unit(pilot, "mmH2O")
        await type_text(pilot, "600")
        await pilot.press("enter")
        await settle(pilot)
        assert [e.kind for e in events_of(settings, "tightness-test")] == ["reading_started"]
    # A new TUI session (the laptop restarted): the unit is taken from the stored reading.
    app, _clock = clocked_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#visits").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, VisitScreen)
        await pilot.press("f7")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ProcedureScreen)
        assert screen.query_one("#unit", Select).value == "mmH2O"
        assert "终了读数 (mmH2O)" in screen_text(app)


async def test_sources_fold_behind_a_key(settings: Settings) -> None:
    seed_order(settings)
    app, _clock = clocked_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_procedure(pilot, "ignition")
        text = screen_text(app)
        assert "关闭表前阀" in text  # the step's own words are in view
        assert "CJJ 94" not in text and "Ctrl+F" in text
        await pilot.press("ctrl+f")
        await settle(pilot)
        assert "CJJ 94" in app.screen.query_one("#step-source").render().plain
        await pilot.press("ctrl+f")
        await settle(pilot)
        assert "CJJ 94" not in screen_text(app)


async def pass_tightness(pilot: Any, clock: FakeClock) -> None:
    await choose_unit(pilot, "kPa")
    await type_text(pilot, "6")
    await pilot.press("enter")
    await settle(pilot)
    clock.advance(16)
    await type_text(pilot, "6")
    await pilot.press("enter")
    await settle(pilot)


async def test_esc_on_the_handover_data_step_asks_before_dropping_typed_fields(
    settings: Settings,
) -> None:
    seed_order(settings)
    app, clock = clocked_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await open_procedure(pilot, "ignition", purged=True)
        await pass_tightness(pilot, clock)
        for _ in range(10):
            if screen.run.current.kind == "capture":
                break
            await answer_passing(pilot, screen)
        assert screen.run.current.kind == "capture"
        await type_text(pilot, "MH-1")
        await pilot.press("tab")
        app.focused.insert_text_at_cursor("QF21、QF22 QF23")  # pilot keys are ASCII
        await pilot.pause()
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")  # no: stay, nothing lost
        await settle(pilot)
        assert app.screen is screen
        assert screen.query_one(CaptureForm).field("meter_no").value == "MH-1"
        assert app.focused is screen.query_one(CaptureForm).field(
            "seal_nos"
        )  # where the cursor was
        await pilot.press("enter")  # Enter moves on to the next field
        await type_text(pilot, "0")
        await pilot.press("enter")
        await type_text(pilot, "20")
        await pilot.press("enter")  # from the last field Enter saves
        await settle(pilot)
        assert screen.run.current.kind == "sign_off"
    [captured] = [e for e in events_of(settings) if e.kind == "answered" and "seal_nos" in e.value]
    assert captured.value["seal_nos"] == ["QF21", "QF22", "QF23"]


async def test_typing_after_tab_off_the_last_field_is_not_lost(settings: Settings) -> None:
    """60x20: unit chosen, Tab leaves the reading for the step text; the digits typed next
    land in the reading (they vanished before), which stays on screen."""
    from tests.tui.helpers import assert_focus_visible

    seed_order(settings)
    app, _clock = clocked_app(settings)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        screen = await open_procedure(pilot, "ignition", purged=True)
        await choose_unit(pilot, "kPa")
        start = screen.query_one("#start")
        start.focus()
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused is not start
        await pilot.press("6", ".", "5")
        await pilot.pause()
        assert app.focused is start and start.value == "6.5"
        assert_focus_visible(app)
