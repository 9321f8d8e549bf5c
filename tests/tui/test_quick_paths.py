"""What keeps Esc, Ctrl+L, F6 and the start quick (bench/bench_tui.py times them), checked
for behaviour: nothing here measures time."""

from __future__ import annotations

import asyncio
import importlib
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets._footer import FooterKey

from fieldkit.config import Settings
from tests.tui.helpers import (
    make_app,
    open_repo,
    open_visit,
    seed_order,
    settle,
    type_into,
    wait_until,
)


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


async def test_the_device_screen_is_built_ahead_with_its_styles_and_f6_parses_none(
    settings: Settings,
) -> None:
    """The screen built ahead comes with its stylesheet (read with the home screen's
    warm-up, before it is built), so F6 does not parse the app's stylesheet again, even
    pressed before the home screen's own warm-up timer."""
    from fieldkit.tui.screens import device

    device_css = str(Path(device.__file__).resolve().with_name("device.tcss"))
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(2000):  # until the home worker had the screen built (no settling)
            await asyncio.sleep(0.002)
            if app._device_screen is not None:
                break
        assert app._device_screen is not None
        assert app.stylesheet.has_source(device_css, "")
        parsed: list[bool] = []
        reparse = app.stylesheet.reparse

        def counted_reparse() -> None:
            parsed.append(True)
            reparse()

        app.stylesheet.reparse = counted_reparse  # type: ignore[method-assign]
        await pilot.press("f6")
        await settle(pilot)
        assert app.screen is app._device_screen
        assert parsed == []


async def test_f6_before_the_screen_was_built_ahead_keeps_the_screen_it_shows(
    settings: Settings, package_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F6 while the home worker is still importing the device package (the screen not
    built ahead yet): the screen shown is the one kept, so the port typed there is still
    there at the next F6 (the build-ahead, arriving later, does not replace it)."""
    from fieldkit.tui.screens import home

    name = f"fk_test_devices_{uuid.uuid4().hex[:8]}"
    _write_package(package_root, name, modules=80, work=200_000)
    monkeypatch.setattr(home, "DEVICE_MODULES", (name, *home.DEVICE_MODULES))
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(1000):  # until the worker has begun importing the device package
            await asyncio.sleep(0.005)
            if name in sys.modules:
                break
        assert name in sys.modules and app._device_screen is None
        await pilot.press("f6")
        first = app.screen
        assert type(first).__name__ == "DeviceScreen"
        await type_into(pilot, "#device-port", "/dev/ttyFIELDKIT7")
        await settle(pilot)  # the home worker finishes meanwhile
        assert f"{name}.m79" in sys.modules
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("f6")
        await settle(pilot)
        assert app.screen is first
        assert first.query_one("#device-port").value == "/dev/ttyFIELDKIT7"


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


def _write_package(root: Path, name: str, modules: int, work: int) -> None:
    """A real package ``name`` whose import executes ``modules`` submodules, each doing
    ``work`` steps of arithmetic (a stand-in for a large library such as SQLAlchemy)."""
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text(
        "".join(f"from {name} import m{n}\n" for n in range(modules)), encoding="utf-8"
    )
    for n in range(modules):
        (package / f"m{n}.py").write_text(
            f"total = sum(i * i for i in range({work}))\n", encoding="utf-8"
        )


@pytest.fixture
def package_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "packages"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    yield root
    for name in [m for m in sys.modules if m.startswith("fk_test_")]:
        del sys.modules[name]


async def test_f6_while_a_large_import_is_in_flight_shows_the_device_screen_at_once(
    settings: Settings, package_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F6 pressed while the home worker is in the middle of one large import: the worker
    pauses within that import (before its next module), so the device screen is shown and
    the app is idle before the import is done; the loading then finishes, and a reading
    taken later on the kept screen is still attached to the visit."""
    from fieldkit.devices.emulator import MeterState, start_meter_emulator
    from fieldkit.tui.screens import home

    name = f"fk_test_large_{uuid.uuid4().hex[:8]}"
    _write_package(package_root, name, modules=60, work=100_000)
    monkeypatch.setattr(home, "DATABASE_MODULES", (name, *home.DATABASE_MODULES))
    seed_order(settings)
    with start_meter_emulator(state=MeterState(current=812.25), pace=False) as meter:
        app = make_app(settings.model_copy(update={"serial_port": meter.port_path}))
        app.KEY_QUIET = 5.0  # the pause outlasts the checks below by far
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            for _ in range(400):  # until the worker has begun the large import
                await asyncio.sleep(0.005)
                if name in sys.modules:
                    break
            assert name in sys.modules and f"{name}.m{59}" not in sys.modules
            await pilot.press("f6")
            assert type(app.screen).__name__ == "DeviceScreen"
            assert app.screen is app._device_screen  # the one built ahead
            # the press returned (the app idle) with the import paused in the middle
            assert f"{name}.m{59}" not in sys.modules
            await settle(pilot)  # the pause ends, the loading goes on to the end
            assert f"{name}.m{59}" in sys.modules
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen.loaded
            visit = await open_visit(pilot)
            await pilot.press("f6")
            await settle(pilot)
            await pilot.press("f5")  # read the meter
            await wait_until(
                pilot,
                lambda: any("读数已附加" in n.message for n in app._notifications),
                what="the reading attached",
            )
    repo = open_repo(settings)
    try:
        assert repo.get_visit(visit.visit_id).meter_reading == 812.25
    finally:
        repo.database.close()


async def test_a_paused_import_gives_way_to_the_ui_thread_importing_the_same_module(
    settings: Settings, package_root: Path
) -> None:
    """The worker pauses inside an import, holding that module's import lock; when the UI
    thread imports the same module it must not wait for the pause to end (here: 20 s per
    module): the worker sees the UI thread importing and goes on."""
    from fieldkit.tui.preload import preload

    name = f"fk_test_shared_{uuid.uuid4().hex[:8]}"
    _write_package(package_root, name, modules=3, work=10)
    app = make_app(settings)
    app.KEY_YIELD = app.KEY_QUIET = 120.0  # a key's wait that would last two minutes
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        paused = threading.Event()

        def pause() -> None:
            if name in sys.modules:  # inside the package's import (not before it)
                paused.set()
                app.yield_to_keys(longest=20.0)

        app._last_key = time.monotonic()  # a key was just pressed
        worker = threading.Thread(target=preload, args=([name], pause), daemon=True)
        worker.start()
        assert await asyncio.to_thread(paused.wait, 10)
        assert f"{name}.m2" not in sys.modules  # paused in the middle of the package
        started = time.monotonic()
        module = importlib.import_module(name)  # on the UI thread: waits for the worker
        waited = time.monotonic() - started
        assert module.m2.total == sum(i * i for i in range(10))
        assert waited < 10, f"the UI thread waited {waited:.0f} s for the paused import"
        await asyncio.to_thread(worker.join, 10)
        assert not worker.is_alive()


def test_preload_pauses_before_each_module_and_each_table_class(tmp_path: Path) -> None:
    """In a fresh interpreter: preloading the visit database's models calls the pause
    before each module imported on the way and before each table class is built
    (fieldkit.records.models raises a checkpoint), only in the preloading thread; other
    threads import without pausing."""
    code = """
import sys, threading
from fieldkit.tui.preload import preload

TABLES = ("Customer", "WorkOrder", "Visit", "StepResult", "Hazard", "OutboxItem", "SyncState")
pauses, threads = [], set()

def pause():
    threads.add(threading.get_ident())
    models = sys.modules.get("fieldkit.records.models")
    pauses.append(sum(hasattr(models, t) for t in TABLES) if models else -1)

other = threading.Thread(target=__import__, args=("csv",))
preload(["fieldkit.records.models"], pause)
other.start(); other.join()
assert threads == {threading.get_ident()}, threads
assert len(pauses) > 100, len(pauses)  # SQLAlchemy's and SQLModel's modules, one by one
assert set(range(len(TABLES))) <= set(pauses), sorted(set(pauses))  # between table classes
print("ok", len(pauses))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok")


async def test_quitting_while_the_device_screen_is_built_ahead_is_quiet(
    settings: Settings,
) -> None:
    """Quitting right when the list is shown (the device screen being built ahead, its
    widgets not composed yet) ends the app without an error."""
    app = make_app(settings)
    async with app.run_test(size=(80, 24)):
        for _ in range(2000):
            await asyncio.sleep(0.002)
            if app._device_screen is not None:
                break
        assert app._device_screen is not None
        app.exit()  # as Ctrl+Q does, at once
    assert app.return_code == 0


async def test_the_work_order_list_is_fitted_again_only_for_a_new_width(
    settings: Settings,
) -> None:
    """The start-up Resize (same width) no longer rebuilds the list just shown (it delayed
    the list's first paint); a narrower terminal still fits the columns again."""
    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        home = app.screen
        fills: list[int] = []
        fill = home._fill_tables

        def counted_fill() -> None:
            fills.append(home.size.width)
            fill()

        home._fill_tables = counted_fill
        await pilot.resize_terminal(80, 30)  # taller only: the columns fit as they are
        await settle(pilot)
        assert fills == []
        await pilot.resize_terminal(60, 20)
        await settle(pilot)
        assert fills and fills[-1] == 60
        assert home.query_one("#orders").row_count == 1
