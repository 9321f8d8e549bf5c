"""Fixtures for the fault catalog tests: small tables under fixtures/data, copied per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldkit.diagnostics.catalog import Catalog, load_catalog_from

FIXTURES = Path(__file__).parent / "fixtures" / "data"


@pytest.fixture
def fixture_root() -> Path:
    return FIXTURES


@pytest.fixture
def fixture_catalog() -> Catalog:
    catalog = load_catalog_from([FIXTURES])
    assert catalog.problems == [], catalog.problems
    return catalog


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the fixture data folder (fault_codes/, tool_cards/)."""
    target = tmp_path / "data"
    shutil.copytree(FIXTURES, target)
    return target


@pytest.fixture(autouse=True)
def chinese_by_default() -> Iterator[None]:
    """``--lang`` sets the process language; put it back to the default after each test."""
    from fieldkit import i18n

    yield
    i18n.set_language(i18n.DEFAULT_LANGUAGE)
