"""Debian's Chromium driven by Playwright (never a downloaded browser build)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """Module-scoped on purpose: Playwright's sync API keeps an asyncio loop running in the
    main thread while it is open, and every async (Textual pilot) test after it would fail
    with "Runner.run() cannot be called from a running event loop"."""
    from playwright.sync_api import sync_playwright

    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


SHOTS = Path(tempfile.gettempdir()) / "fieldkit-console-screenshots"


@pytest.fixture(scope="session")
def shots() -> Path:
    """Screenshots of the main pages, kept for a reviewer in one known folder (printed at
    the end of the run by ``pytest_terminal_summary`` in conftest.py, also when the tests
    ran in pytest-xdist workers). Each run overwrites the previous run's pictures."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
