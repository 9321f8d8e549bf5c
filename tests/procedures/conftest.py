"""Fixtures for the procedure engine tests: a fake clock and the shipped procedures."""

from __future__ import annotations

import pytest

from fieldkit.procedures.library import load_procedures
from fieldkit.procedures.models import Procedure
from tests.procedures.procedure_helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def shipped() -> dict[str, Procedure]:
    procedures, problems = load_procedures()
    assert problems == [], [str(p) for p in problems]
    return procedures
