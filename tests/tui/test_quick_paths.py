"""What keeps Esc, Ctrl+L, F6 and the start quick (bench/bench_tui.py times them), checked
for behaviour: nothing here measures time."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

from textual.widgets._footer import FooterKey

from fieldkit.config import Settings
from tests.tui.helpers import make_app, open_visit, seed_order, settle, type_into


async def test_esc_and_ctrl_l_keep_the_footer_and_read_only_after_a_write(
    settings: Settings,
) -> None:
    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        visit = await open_visit(pilot)
        reads: list[str] = []
        refresh_visit = visit.refresh_visit

        def counted_refresh() -> None:
            reads.append("visit")
            refresh_visit()

        visit.refresh_visit = counted_refresh
        keys = list(visit.query(FooterKey))
        assert keys
        await pilot.press("ctrl+l")
        await settle(pilot)
        hazards = app.screen
        hazard_keys = list(hazards.query(FooterKey))
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is visit
        # nothing was written: the visit is not read again, its footer keys not rebuilt
        assert reads == []
        assert list(visit.query(FooterKey)) == keys
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert list(hazards.query(FooterKey)) == hazard_keys
        # a hazard is written: Esc reads the visit again (its banner closes ignition)
        await type_into(pilot, "#hazard-description", "gas smell at the meter")
        await type_into(pilot, "#hazard-deadline", time.strftime("%Y-%m-%d"))
        hazards.query_one("#hazard-level").value = "major"
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert reads == ["visit"]
        assert visit.query_one("#visit-banner").display


async def test_the_device_screen_is_built_ahead_and_f6_shows_it(settings: Settings) -> None:
    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        kept = app._device_screen
        assert kept is not None and kept.is_mounted  # built while the list is read
        assert not kept.query("#device-address")  # only the first view
        await pilot.press("f6")
        await settle(pilot)
        assert app.screen is kept
        assert app.screen.focused is kept.query_one("#device-read-meter")
        await type_into(pilot, "#device-port", "/dev/ttyFIELDKIT9")
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("f6")  # the same screen again, with what was typed
        await settle(pilot)
        assert app.screen is kept
        assert kept.query_one("#device-port").value == "/dev/ttyFIELDKIT9"
        await pilot.press("escape")
        await settle(pilot)
        app.apply_settings(settings.model_copy(update={"language": "en"}))
        await settle(pilot)
        await pilot.press("f6")  # another language: a new screen, in English
        await settle(pilot)
        assert app.screen is not kept
        assert str(app.screen.query_one("#device-title").render()) == "Meter and card reading"


async def test_background_loading_waits_while_a_key_is_handled(settings: Settings) -> None:
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        done: list[float] = []

        def background() -> None:
            app.yield_to_keys()
            done.append(time.monotonic())

        started = time.monotonic()
        app.yield_to_keys()  # no key pressed lately: at once
        assert time.monotonic() - started < 0.5
        app._last_key = time.monotonic()  # a key was just pressed
        thread = threading.Thread(target=background)
        busy_until = time.monotonic() + 0.4
        thread.start()
        while time.monotonic() < busy_until:  # the UI thread is busy with it
            pass
        await asyncio.sleep(0)
        assert not done  # the background step has not gone on meanwhile
        await asyncio.to_thread(thread.join, 5)
        assert done and done[0] >= busy_until


def test_plain_fieldkit_does_not_import_click() -> None:
    code = (
        "import sys, fieldkit.cli, fieldkit.cli.launch; "
        "assert 'click' not in sys.modules, 'click imported'; "
        "from fieldkit.cli import cli; assert 'click' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


async def test_back_from_a_procedure_the_visit_shows_the_run_saved_there(
    settings: Settings,
) -> None:
    """Runs and answers are saved through the plain-SQL path (records.plain_save): the
    visit screen must still see them written and read again when shown."""
    from tests.tui.helpers import select_procedure

    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        visit = await open_visit(pilot)
        before = visit.query_one("#procedures").get_option("ignition").prompt
        assert "[" not in str(before)  # no run yet
        select_procedure(visit, "ignition")
        await pilot.press("f7")
        await settle(pilot)
        assert app.screen is not visit
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is visit
        after = str(visit.query_one("#procedures").get_option("ignition").prompt)
        assert after != str(before) and "[" in after, after
        assert "F7" in str(visit.query_one("#visit-runs").render())
