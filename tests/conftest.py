"""Shared fixtures. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--port",
        action="store",
        default=None,
        help="a real serial port (COM3, /dev/ttyUSB0) for the hardware tests",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _longest_first(items)
    # Hardware tests need a device on a real port; everything else runs everywhere.
    if config.getoption("--port"):
        return
    skip = pytest.mark.skip(reason="hardware test: give a real port with --port")
    for item in items:
        if "hardware" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own FIELDKIT_HOME, so no test touches the user's real data."""
    home = tmp_path_factory.mktemp("fieldkit-home")
    monkeypatch.setenv("FIELDKIT_HOME", str(home))
    for name in list(os.environ):
        if name.startswith("FIELDKIT_") and name not in {"FIELDKIT_HOME", "FIELDKIT_TEST_PG_URL"}:
            monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of the PostgreSQL server for tests. Missing → the test FAILS (never skips)."""
    url = os.environ.get("FIELDKIT_TEST_PG_URL")
    if not url:
        pytest.fail(
            "FIELDKIT_TEST_PG_URL is not set: run the suite through `bash scripts/test`, "
            "which starts PostgreSQL, or point the variable at a server"
        )
    return url


_STARTED = time.time()  # screenshots older than this run are not announced


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Where the console's browser tests left their screenshots (here, not in
    tests/console/conftest.py: the pytest-xdist controller loads only this conftest)."""
    from tests.console.browser import SHOTS

    if SHOTS.is_dir() and any(p.stat().st_mtime >= _STARTED for p in SHOTS.glob("*.png")):
        terminalreporter.write_line(f"console screenshots: {SHOTS}")


# The longest files first, so that pytest-xdist (whole files per worker, in collection
# order) does not end the run with one worker busy on a long file and the others idle.
# Measured on this 2-core machine; a file missing here just keeps its place.
LONGEST_FIRST = (
    "tests/tui/test_visit_screens_fit.py",
    "tests/records/test_crash.py",
    "tests/sync/test_schemathesis.py",
    "tests/safety/test_stateful.py",
    "tests/sync/test_cli.py",
    "tests/sync/test_faults.py",
    "tests/tui/test_procedure_forms.py",
    "tests/console/test_browser.py",
    "tests/tui/test_procedure_safety.py",
    "tests/tui/test_procedure.py",
    "tests/sync/test_dispatch.py",
    "tests/devices/test_meter_matrix.py",
)


def _longest_first(items: list[pytest.Item]) -> None:
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}

    def weight(item: pytest.Item) -> int:
        return rank.get(item.nodeid.split("::", 1)[0], len(rank))

    items.sort(key=weight)  # stable: the order inside each file and of the rest is kept
