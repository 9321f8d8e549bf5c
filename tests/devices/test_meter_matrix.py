"""Every meter behaviour × every way of reading it: auto-probe, ``meter scan``, ``--address``.

The meters run on real ptys (the emulator paces nothing, except where a mode's delay or
split is the point). The TUI's F6 read of the same modes is in tests/tui/test_device_screen.py.
"""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from fieldkit.cli import cli
from fieldkit.devices.emulator import MeterState, start_meter_emulator
from fieldkit.devices.linkcache import LinkCache
from fieldkit.devices.meter import NoReplyError, frames_of, read_meter
from fieldkit.devices.profiles import MeterProfile
from tests.devices.meter_modes import MODES, Mode


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--lang", "en"])
    return result.exit_code, result.output


def emulator(mode: Mode, profiles: dict[str, MeterProfile], state: MeterState | None = None):
    return start_meter_emulator(
        profiles[mode.emulator_profile],
        state or MeterState(current=321.5),
        baudrate=mode.baud,
        pace=False,
        faults=mode.faults,
    )


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.id)
def test_auto_probe(mode: Mode, profiles: dict[str, MeterProfile]) -> None:
    with emulator(mode, profiles) as h:
        if not mode.broadcast:
            with pytest.raises(NoReplyError, match="--address") as info:
                read_meter(h.port_path)
            assert frames_of(info.value)  # what was sent is kept for --raw
            return
        started = time.monotonic()
        reading = read_meter(h.port_path, cache=LinkCache())
        cold = time.monotonic() - started
        assert (reading.profile_id, reading.baudrate) == (mode.profile, mode.baud)
        assert reading.metering.current.value == pytest.approx(321.5)
        assert not reading.from_cache
        # the second read starts with what worked: the cached profile and baud
        again = read_meter(h.port_path, cache=LinkCache())
        assert again.from_cache and again.profile_id == mode.profile
        assert len(again.exchanges) <= len(reading.exchanges)
        assert cold < 8.0


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.id)
def test_scan_reports_the_confirmed_profile(mode: Mode, profiles: dict[str, MeterProfile]) -> None:
    with emulator(mode, profiles) as h:
        code, out = run("meter", "scan", "--port", h.port_path, "--json", "--no-cache", "--raw")
    if not mode.broadcast:
        assert code == 1 and "--address" in out and "Traceback" not in out
        assert ">> FE FE" in out  # --raw prints the frames also on failure
        return
    assert code == 0, out
    data = json.loads(out)
    assert (data["profile"], data["baudrate"]) == (mode.profile, mode.baud)
    assert data["address"] == "30000000123456"


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.id)
def test_address_reads_directly(mode: Mode, profiles: dict[str, MeterProfile]) -> None:
    state = MeterState(current=55.25)
    with emulator(mode, profiles, state) as h:
        code, out = run(
            "meter", "read", "--port", h.port_path, "--address", state.address, "--json"
        )
        assert code == 0, out
        data = json.loads(out)
        assert (data["profile"], data["baudrate"]) == (mode.profile, mode.baud)
        assert data["current_volume"] == pytest.approx(55.25)
        # no broadcast was sent: every request named the meter
        assert all(r.address == state.address for r in h.emulator.requests)


def test_a_slow_meter_is_read_with_timeout(profiles: dict[str, MeterProfile]) -> None:
    """A meter that answers 1.5 s late: beyond the probe's default wait, read with --timeout
    (and its late replies to the first probe are never taken for another baud rate's)."""
    from fieldkit.devices.emulator import MeterFaults

    faults = MeterFaults(delay=1.5)
    with start_meter_emulator(profiles["cjt188-2018"], pace=False, faults=faults) as h:
        code, out = run("meter", "read", "--port", h.port_path, "--timeout", "2", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert (data["profile"], data["baudrate"]) == ("cjt188-2018", 2400)
