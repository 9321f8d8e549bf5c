"""Fixtures: emulators on real pseudo-terminals (the real pyserial code path)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from fieldkit import i18n
from fieldkit.devices.emulator import EmulatorHandle, MeterState, start_meter_emulator
from fieldkit.devices.profiles import MeterProfile, load_profiles

if sys.platform == "win32":  # pragma: no cover
    collect_ignore_glob = ["test_meter_*.py", "test_card_*.py", "test_cli_*.py"]


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """Tests match the English messages; the zh_CN ones are checked in test_i18n."""
    i18n.set_language("en")
    yield
    i18n.set_language(i18n.DEFAULT_LANGUAGE)


@pytest.fixture(scope="session")
def profiles() -> dict[str, MeterProfile]:
    loaded = load_profiles(strict=True)
    return {p.id: p for p in loaded.profiles}


@pytest.fixture
def meter_state() -> MeterState:
    return MeterState()


@pytest.fixture
def meter_2004(
    profiles: dict[str, MeterProfile], meter_state: MeterState
) -> Iterator[EmulatorHandle]:
    with start_meter_emulator(profiles["cjt188-2004"], meter_state, pace=False) as handle:
        yield handle
