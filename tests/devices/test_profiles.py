"""Meter profiles as data: the shipped table's integrity and errors a supervisor can act on."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldkit.datafiles import DataFileError
from fieldkit.devices import cjt188
from fieldkit.devices.profiles import load_profiles


def test_shipped_profiles() -> None:
    loaded = load_profiles(strict=True)
    ids = loaded.ids()
    assert ids == sorted(set(ids))  # one file per id, unique
    probing = [p for p in loaded.profiles if p.probe]
    # auto-probing covers both DI byte orders, each once
    assert sorted(p.di_order for p in probing) == ["big", "little"]
    for profile in loaded.profiles:
        assert profile.example and profile.source.kind == "external"
        assert profile.source.citation and profile.source.confidence is not None
        assert profile.meter_type == cjt188.GAS_METER_TYPE
        assert set(profile.bauds) == {2400, 4800, 9600}
        assert profile.parity == "E" and profile.bytesize == 8 and profile.stopbits == 1


def test_bitmap_from_profile_decodes_the_research_examples() -> None:
    profiles = {p.id: p for p in load_profiles().profiles}
    standard = profiles["cjt188-2004"].bitmap()
    msb = profiles["cjt188-msb-status"].bitmap()
    assert cjt188.decode_status(b"\x21\x84", standard).valve is cjt188.ValveState.CLOSED
    assert cjt188.decode_status(b"\x40\x00", msb).valve is cjt188.ValveState.CLOSED
    assert cjt188.decode_status(b"\x20\x00", msb).low_battery


GOOD = """
schema: fieldkit.meter_profile/1
id: ours
name: {zh: 本公司表, en: our meter}
edition: "2018"
di_order: little
bauds: [2400]
status:
  valve: {byte: 0, mask: 0x03, values: {0x00: open, 0x01: closed}}
  low_battery: {byte: 0, mask: 0x04}
  vendor_bits:
    - {key: magnet, byte: 1, mask: 0x01, name: {zh: 磁干扰, en: magnetic attack}}
source: {kind: utility}
"""


def test_a_utility_profile_overrides_and_adds(tmp_path: Path) -> None:
    folder = tmp_path / "meter_profiles"
    folder.mkdir()
    (folder / "ours.yaml").write_text(GOOD, encoding="utf-8")
    loaded = load_profiles([tmp_path], strict=True)
    profile = loaded.profile("ours")
    status = cjt188.decode_status(b"\x01\x01", profile.bitmap())
    assert status.vendor == {"magnet": True} and status.other_bits == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("di_order: little", "di_order: sideways"), "di_order"),
        (("bauds: [2400]", "bauds: [2401]"), "bauds"),
        (("0x01: closed}", "0x05: closed}"), "status.valve"),
        (("edition:", "editon:"), "editon"),
    ],
)
def test_malformed_profile_names_file_entry_and_field(
    tmp_path: Path, change: tuple[str, str], field: str
) -> None:
    folder = tmp_path / "meter_profiles"
    folder.mkdir()
    (folder / "bad.yaml").write_text(GOOD.replace(*change), encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        load_profiles([tmp_path], strict=True)
    problems = info.value.problems
    assert all(p.file.name == "bad.yaml" and p.entry == "ours" for p in problems)
    assert any(p.field is not None and p.field.startswith(field) for p in problems)
