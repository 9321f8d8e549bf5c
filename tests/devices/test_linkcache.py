"""What worked last time is tried first; a stale or damaged cache never makes a read fail."""

from __future__ import annotations

from pathlib import Path

from fieldkit import paths
from fieldkit.devices.emulator import MeterState, start_meter_emulator
from fieldkit.devices.linkcache import FILE_NAME, CachedLink, LinkCache
from fieldkit.devices.meter import read_meter
from fieldkit.devices.profiles import MeterProfile


def test_lives_in_the_users_data_dir(isolated_home: Path) -> None:
    cache = LinkCache()
    assert cache.path == paths.user_data_dir() / FILE_NAME
    cache.put("COM3", CachedLink("cjt188-2018", 4800, "30000000123456", True))
    assert cache.path.is_file()
    assert LinkCache().get("COM3") == CachedLink("cjt188-2018", 4800, "30000000123456", True)
    assert LinkCache().get("COM3", "30000000123456") is not None
    assert LinkCache().get("COM3", "30000000999999") is None
    assert LinkCache().get("COM4") is None


def test_a_damaged_file_is_ignored_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "links.json"
    path.write_text("{not json", encoding="utf-8")
    cache = LinkCache(path)
    assert cache.get("COM3") is None
    cache.put("COM3", CachedLink("cjt188-2004", 2400, "30000000123456", True))
    assert LinkCache(path).get("COM3") is not None
    path.write_text('{"entries": {"COM3|*": {"profile": "x"}}}', encoding="utf-8")
    assert LinkCache(path).get("COM3") is None  # an entry missing fields is no hint


def test_a_stale_entry_falls_back_to_probing(
    profiles: dict[str, MeterProfile], tmp_path: Path
) -> None:
    cache = LinkCache(tmp_path / "links.json")
    with start_meter_emulator(profiles["cjt188-2018"], MeterState(), pace=False) as h:
        # last time a 2004 meter at 9600 was on this port; now a 2018 meter at 2400
        cache.put(h.port_path, CachedLink("cjt188-2004", 9600, "30000000999999", True))
        reading = read_meter(h.port_path, cache=cache)
        assert (reading.profile_id, reading.baudrate) == ("cjt188-2018", 2400)
        assert not reading.from_cache
        assert reading.exchanges[0].baudrate == 9600  # the cached guess was tried first
        assert cache.get(h.port_path) == CachedLink("cjt188-2018", 2400, "30000000123456", True)
        again = read_meter(h.port_path, cache=cache)
    assert again.from_cache and len(again.exchanges) == 2  # read-address, 901F


def test_a_meter_that_ignores_broadcast_is_remembered_by_its_address(
    profiles: dict[str, MeterProfile], tmp_path: Path
) -> None:
    from fieldkit.devices.emulator import MeterFaults

    cache = LinkCache(tmp_path / "links.json")
    state = MeterState()
    faults = MeterFaults(broadcast=False)
    with start_meter_emulator(profiles["cjt188-2004"], state, pace=False, faults=faults) as h:
        read_meter(h.port_path, address=state.address, cache=cache)
        # next time without --address: the cache knows which meter is on this port
        reading = read_meter(h.port_path, cache=cache)
    assert reading.from_cache and reading.address == state.address
    assert len(reading.exchanges) == 1  # straight to 901F
