"""Fixtures: a real SQLite file, the shipped procedures, a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldkit import i18n
from fieldkit.procedures.library import load_procedures_strict
from fieldkit.procedures.models import Procedure
from fieldkit.records.db import Database, open_database
from fieldkit.records.repo import VisitRepository
from fieldkit.session import VisitSession
from tests.session.helpers import FakeClock, new_visit


@pytest.fixture(scope="session")
def shipped() -> dict[str, Procedure]:
    return load_procedures_strict()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{(tmp_path / 'visits.db').as_posix()}")
    yield database
    database.close()


@pytest.fixture
def repo(db: Database, clock: FakeClock) -> VisitRepository:
    return VisitRepository(db, clock=clock)


@pytest.fixture
def session(repo: VisitRepository, shipped: dict[str, Procedure], clock: FakeClock) -> VisitSession:
    return VisitSession(repo, shipped, new_visit(repo), actor="王师傅", clock=clock)


@pytest.fixture(autouse=True)
def chinese_default() -> Iterator[None]:
    i18n.set_language("zh")
    yield
    i18n.set_language("zh")
