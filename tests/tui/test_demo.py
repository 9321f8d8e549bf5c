"""``fieldkit --demo``: restartable on a kept database, temporary data cleaned up however
the demo ends (TERM, HUP, kill), and the screen says that demo data is thrown away."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fieldkit.config import Settings
from fieldkit.tui import demo
from tests.tui.helpers import make_app, open_repo, screen_text, settle


def test_demo_with_a_kept_database_restarts_after_an_order_was_closed(tmp_path: Path) -> None:
    settings = Settings(db_url=f"sqlite:///{(tmp_path / 'demo.db').as_posix()}")
    first = demo.start_demo(settings)
    first.stop()
    repo = open_repo(first.settings)
    order = next(o for o in repo.open_work_orders() if o.order_no == "DEMO-001")
    visit = repo.start_visit(
        customer_id=order.customer_id,
        technician_id="DEMO",
        visit_type=order.visit_type,
        work_order_id=order.id,
    )
    repo.close_visit(visit.id, "not_home", reason="nobody answered the door")
    open_now = {o.order_no for o in repo.open_work_orders()}
    repo.database.close()
    assert "DEMO-001" not in open_now

    again = demo.start_demo(settings)  # was: UNIQUE constraint failed: work_order.order_no
    again.stop()
    repo = open_repo(again.settings)
    assert {o.order_no for o in repo.open_work_orders()} == open_now
    repo.database.close()
    assert again.banner and str(tmp_path) in again.banner


def test_plain_demo_says_its_data_is_thrown_away_and_removes_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo.tempfile, "tempdir", str(tmp_path))
    session = demo.start_demo(Settings())
    folder = session.folder
    assert folder is not None and folder.parent == tmp_path and folder.is_dir()
    assert "丢弃" in session.banner
    assert demo.remove_stale_demo_folders(tmp_path) == []  # in use: kept
    session.stop()
    assert not folder.exists()


def test_folders_of_killed_demos_are_removed_at_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo.tempfile, "tempdir", str(tmp_path))
    # A demo that is still running in another process keeps its folder ...
    running = tmp_path / "fieldkit-demo-running"
    running.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from fieldkit.tui.demo import _hold;"
            f"lock = _hold(Path({str(running)!r})); print('held', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        # ... one whose process was killed (SIGKILL: no clean-up ran) is removed.
        killed = tmp_path / "fieldkit-demo-killed"
        killed.mkdir()
        victim = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import time; from pathlib import Path; from fieldkit.tui.demo import _hold;"
                f"lock = _hold(Path({str(killed)!r})); print('held', flush=True); time.sleep(120)",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert victim.stdout is not None and victim.stdout.readline().strip() == "held"
        victim.kill()
        victim.wait(timeout=30)
        (killed / "demo.db").write_bytes(b"left behind")
        session = demo.start_demo(Settings())
        try:
            assert not killed.exists()
            assert running.is_dir()
        finally:
            session.stop()
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert demo.remove_stale_demo_folders(tmp_path) == [running]


# Runs `fieldkit --demo` headless (the real entry point), reports its folder, then waits.
DEMO_PROBE = """
import os
from fieldkit.tui.app import FieldkitApp
from fieldkit.tui.screens.home import HomeScreen

_mount = HomeScreen.on_mount
def on_mount(self):
    _mount(self)
    folder = os.path.dirname(self.app.settings.resolved_db_url().removeprefix("sqlite:///"))
    os.write(1, (folder + "\\n").encode())
HomeScreen.on_mount = on_mount
_run = FieldkitApp.run
FieldkitApp.run = lambda self, **kw: _run(self, headless=True)
from fieldkit.cli import main
raise SystemExit(main(["--demo"]))
"""


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGHUP"])
def test_term_or_hup_ends_the_demo_and_removes_its_folder(tmp_path: Path, signal_name: str) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "FIELDKIT_HOME": str(tmp_path / "home")}
    child = subprocess.Popen(
        [sys.executable, "-c", DEMO_PROBE],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        folder = Path(child.stdout.readline().strip())
        assert folder.parent == tmp_path and folder.is_dir(), child.stderr.read()
        time.sleep(0.3)  # let the app reach its event loop with the handlers installed
        child.send_signal(getattr(signal, signal_name))
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert not folder.exists()
    assert list(tmp_path.glob("fieldkit-demo-*")) == []


async def test_every_screen_says_it_is_a_demo(tmp_path: Path) -> None:
    settings = Settings(db_url=f"sqlite:///{(tmp_path / 'demo.db').as_posix()}")
    session = demo.start_demo(settings)
    try:
        app = make_app(session.settings, banner=session.banner)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert "演示数据库" in screen_text(app).splitlines()[0]
            assert "DEMO-001" in screen_text(app)
            await pilot.press("f4")
            await settle(pilot)
            assert "演示数据库" in screen_text(app).splitlines()[0]
    finally:
        session.stop()
