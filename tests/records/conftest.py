"""Fixtures for the visit-records tests: a real SQLite file per test (no mocks)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldkit.records.db import Database, open_database


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "visits" / "fieldkit.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{db_path.as_posix()}")
    yield database
    database.close()


@pytest.fixture(autouse=True)
def chinese_default() -> Iterator[None]:
    """Each test starts in the default language (a CLI test may have switched it)."""
    from fieldkit import i18n

    i18n.set_language("zh")
    yield
    i18n.set_language("zh")
