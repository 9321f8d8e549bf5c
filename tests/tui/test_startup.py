"""Start-up stays light: what is imported before the first paint (cf. bench/bench_tui.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ["sqlalchemy", "sqlmodel", "alembic", "pydantic", "fieldkit.diagnostics.catalog", "yaml"]

PROBE = """
import json, os, sys
from fieldkit.tui.app import FieldkitApp
from fieldkit.tui.screens.home import HomeScreen

_mount = HomeScreen.on_mount
def on_mount(self):
    def painted():
        heavy = [m for m in %r if m in sys.modules]
        screen = self.app.screen
        report = json.dumps({"heavy": heavy, "screen": type(screen).__name__})
        os.write(1, (report + "\\n").encode())  # a running app captures sys.stdout
        os._exit(0)
    self.call_after_refresh(painted)
    _mount(self)
HomeScreen.on_mount = on_mount
_run = FieldkitApp.run
FieldkitApp.run = lambda self, **kw: _run(self, headless=True)
from fieldkit.cli import main
raise SystemExit(main([]))
"""


def test_first_paint_happens_before_the_heavy_imports(tmp_path: Path) -> None:
    env = {"FIELDKIT_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["screen"] == "HomeScreen"
    assert report["heavy"] == []


def test_importing_the_tui_command_does_not_import_textual(tmp_path: Path) -> None:
    code = "import sys, fieldkit.cli.app; print('textual' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={"FIELDKIT_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "False", done.stderr


def test_tui_options_work_without_the_command_name() -> None:
    from click.testing import CliRunner

    from fieldkit.cli import cli

    result = CliRunner().invoke(cli, ["--demo", "--help"])
    assert result.exit_code == 0
    assert "tui" in result.output and "--demo" in result.output and "--db" in result.output
