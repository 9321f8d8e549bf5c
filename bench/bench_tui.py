"""TUI cold start: `fieldkit` to its first painted screen vs a bare Textual app with a Label.

Both run as fresh subprocesses (a new interpreter each time, so nothing is cached in
memory), headless, and exit right after their first screen has been painted. Each is run
REPEATS times, interleaved, and the medians are compared. Target: fieldkit <= 1.3x the bare
app. fieldkit goes through its real entry point (click, settings, the App, the home
screen); the visit database and catalogs load after the first paint, as in real use.

    python bench/run.py tui
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

REPEATS = 9
TARGET = 1.3

# Each child prints the wall-clock time of its first paint, then leaves at once (os._exit),
# so work that starts after the first paint (fieldkit opening its database in a worker
# thread) is not counted, and neither is interpreter shutdown.
# (os.write, not print: a running Textual app captures sys.stdout.)
PAINTED = "import os, time; os.write(1, f'{time.time()}\\n'.encode()); os._exit(0)"

BARE = f"""
from textual.app import App
from textual.widgets import Label

class Bare(App):
    def compose(self):
        yield Label("fieldkit")

    def on_mount(self):
        self.call_after_refresh(self.painted)

    def painted(self):
        {PAINTED}

Bare().run(headless=True)
"""

FIELDKIT = f"""
from fieldkit.tui.app import FieldkitApp
from fieldkit.tui.screens.home import HomeScreen

# Report once the home screen has painted; run headless like the bare app.
_mount = HomeScreen.on_mount
def painted():
    {PAINTED}
def on_mount(self):
    self.call_after_refresh(painted)
    _mount(self)
HomeScreen.on_mount = on_mount
_run = FieldkitApp.run
FieldkitApp.run = lambda self, **kw: _run(self, headless=True)

from fieldkit.cli import main
raise SystemExit(main([]))
"""


def run_once(code: str, env: dict[str, str]) -> float:
    """Seconds from starting the interpreter to the child's first paint."""
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return float(done.stdout.strip().splitlines()[-1]) - started


def main() -> int:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "FIELDKIT_HOME": home, "FIELDKIT_TECHNICIAN": "BENCH"}
        run_once(BARE, env)  # warm the OS file cache for both before measuring
        run_once(FIELDKIT, env)
        bare: list[float] = []
        ours: list[float] = []
        for _ in range(REPEATS):
            bare.append(run_once(BARE, env))
            ours.append(run_once(FIELDKIT, env))
    bare_median = statistics.median(bare)
    ours_median = statistics.median(ours)
    ratio = ours_median / bare_median
    print(f"bare Textual app (Label): median {bare_median * 1000:.0f} ms over {REPEATS} runs")
    print(f"fieldkit to home screen:  median {ours_median * 1000:.0f} ms over {REPEATS} runs")
    print(f"ratio {ratio:.2f}x (target <= {TARGET}x)")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
