"""Fixtures for the TUI tests: a real visit database, a short-hold ignition override, the
back office (from tests/sync). Helpers (functions) are in helpers.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fieldkit import i18n
from fieldkit.config import Settings
from fieldkit.paths import shipped_data_dir
from tests.sync import conftest as sync_fixtures
from tests.tui.helpers import open_repo

HOLD_MINUTES = 0.02  # 1.2 s: this utility's (test) setting for the pre-ignition hold


def short_hold_data_dir(root: Path, minutes: float = HOLD_MINUTES) -> Path:
    """A FIELDKIT_DATA folder overriding the ignition procedure with a short hold time.

    The override is a utility table (same id, its own hold and source) below the safety
    floor, so it carries a signed-off ``override`` block; the rest of the procedure is the
    shipped file unchanged.
    """
    text = (shipped_data_dir() / "procedures" / "ignition.yaml").read_text(encoding="utf-8")
    new, count = re.subn(
        r"(\n    hold:\n      minutes: )[0-9.]+",
        rf"\g<1>{minutes}",
        text,
        count=1,
    )
    assert count == 1, "the shipped ignition procedure has no hold to override"
    # A hold below the 15-minute floor needs a signed-off override block (fieldkit.safety.floors).
    new += (
        "override:\n"
        "  approved_by: 测试组 (fieldkit test suite)\n"
        "  standard: fieldkit test setting, not for field use\n"
        "  approved_on: 2026-11-30\n"
    )
    folder = root / "utility-data"
    (folder / "procedures").mkdir(parents=True)
    (folder / "procedures" / "ignition.yaml").write_text(new, encoding="utf-8")
    return folder


@pytest.fixture
def utility_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = short_hold_data_dir(tmp_path)
    monkeypatch.setenv("FIELDKIT_DATA", str(folder))
    return folder


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{(tmp_path / 'visits.db').as_posix()}"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(technician_id="T001", db_url=db_url, data_dir=tmp_path / "data")


@pytest.fixture(autouse=True)
def chinese_default() -> Iterator[None]:
    i18n.set_language("zh")
    yield
    i18n.set_language("zh")


@pytest.fixture
def repo(settings: Settings) -> Iterator[Any]:
    """The records API on the test's visit database (closed after the test)."""
    repository = open_repo(settings)
    yield repository
    repository.database.close()


# The real back-office server of the sync tests (uvicorn on loopback; SQLite and PostgreSQL).
# Bound to names here so pytest finds them for the TUI tests, without an import per test file.
server_db = sync_fixtures.server_db
backoffice = sync_fixtures.backoffice
