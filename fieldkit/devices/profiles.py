"""Meter profiles (``data/meter_profiles/*.yaml``): how one family of meters speaks CJ/T 188.

A profile is data a utility edits: the edition, the DI byte order, the preamble length, the
meter type byte, the serial settings to probe, and the ST bit map. Example::

    schema: fieldkit.meter_profile/1
    id: cjt188-2004
    name: {zh: CJ/T 188-2004 燃气表, en: CJ/T 188-2004 gas meter}
    edition: "2004"
    di_order: big
    preamble: 3
    meter_type: 0x30
    bauds: [2400, 4800, 9600]
    status:
      valve: {byte: 0, mask: 0x03, values: {0x00: open, 0x01: closed, 0x03: abnormal}}
      low_battery: {byte: 0, mask: 0x04}
    timing: {reply: 1.2, probe: 0.9, window: 0.3, retries: 2}
    echoes_ser: true
    source: {kind: external, citation: "...", confidence: S}

``timing`` holds the deadlines (seconds the meter may think after a request has left the
wire; ``--timeout`` and the TUI's setting override ``reply`` and ``probe``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from fieldkit import paths
from fieldkit.datafiles import (
    DataFileError,
    DataProblem,
    find_by_id,
    read_yaml,
    validate,
    yaml_files,
)
from fieldkit.devices.cjt188 import StatusBitMap, ValveState
from fieldkit.textmodel import Source, Strict, Text

SCHEMA = "fieldkit.meter_profile/1"
FOLDER = "meter_profiles"


class BitField(Strict):
    byte: int = Field(ge=0, le=1, description="0 = first ST byte on the wire")
    mask: int = Field(ge=1, le=0xFF)


class ValveField(BitField):
    values: dict[int, ValveState] = Field(min_length=1)

    @model_validator(mode="after")
    def _values_inside_mask(self) -> ValveField:
        for value in self.values:
            if value & ~self.mask:
                raise ValueError(
                    f"valve value 0x{value:02X} has bits outside mask 0x{self.mask:02X}"
                )
        return self


class VendorBit(BitField):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: Text


class StatusMap(Strict):
    valve: ValveField
    low_battery: BitField
    vendor_bits: list[VendorBit] = Field(default_factory=list)


class Timing(Strict):
    """How long to wait for this kind of meter (seconds after the request left the wire)."""

    reply: float = Field(
        default=1.2, ge=0.05, le=30, description="deadline for a reply to one meter"
    )
    probe: float = Field(
        default=0.9, ge=0.05, le=30, description="deadline at each baud rate while probing"
    )
    window: float = Field(
        default=0.3,
        ge=0.05,
        le=30,
        description="while probing: how long one DI order is waited for before the other is sent",
    )
    retries: int = Field(
        default=2, ge=0, le=5, description="resends after a checksum error or silence"
    )


class MeterProfile(Strict):
    schema_: Literal["fieldkit.meter_profile/1"] = Field(alias="schema")
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: Text
    edition: Literal["2004", "2018"]
    di_order: Literal["big", "little"]
    preamble: int = Field(default=3, ge=0, le=8, description="FE bytes before each request")
    meter_type: int = Field(default=0x30, ge=0, le=0xFF, description="T byte (gas 0x30)")
    bauds: list[Literal[1200, 2400, 4800, 9600, 19200]] = Field(min_length=1)
    parity: Literal["E", "N", "O"] = "E"
    bytesize: Literal[7, 8] = 8
    stopbits: Literal[1, 2] = 1
    volume_decimals: int = Field(default=2, ge=0, le=4)
    status: StatusMap
    timing: Timing = Field(default_factory=Timing)
    echoes_ser: bool = Field(
        default=True, description="the meter repeats the request's SER byte in its reply"
    )
    devices: list[str] = Field(
        default_factory=list, description="fault-table device keys this profile is known on"
    )
    probe: bool = Field(
        default=True, description="try this profile when auto-probing an unknown meter"
    )
    example: bool = Field(default=False, description="shipped as an example, not a vendor fact")
    source: Source

    def bitmap(self) -> StatusBitMap:
        st = self.status
        return StatusBitMap(
            valve_byte=st.valve.byte,
            valve_mask=st.valve.mask,
            valve_values=dict(st.valve.values),
            battery_byte=st.low_battery.byte,
            battery_mask=st.low_battery.mask,
            vendor_bits={v.key: (v.byte, v.mask) for v in st.vendor_bits},
        )


class UnknownProfile(KeyError):
    pass


@dataclass
class ProfileSet:
    profiles: list[MeterProfile]
    problems: list[DataProblem]

    def profile(self, profile_id: str) -> MeterProfile:
        return find_by_id(self.profiles, profile_id, UnknownProfile)

    def ids(self) -> list[str]:
        return [p.id for p in self.profiles]


def load_profile_file(path: Path) -> tuple[MeterProfile | None, list[DataProblem]]:
    data, problems = read_yaml(path)
    if problems:
        return None, problems
    entry = data.get("id") if isinstance(data, dict) else None
    return validate(MeterProfile, data, path, entry=entry)


def load_profiles(folders: list[Path] | None = None, *, strict: bool = False) -> ProfileSet:
    """Shipped profiles, then ``FIELDKIT_DATA`` folders (a later file with the same id wins)."""
    if folders is None:
        folders = paths.data_dirs()
    by_id: dict[str, MeterProfile] = {}
    problems: list[DataProblem] = []
    for folder in folders:
        for path in yaml_files(folder / FOLDER):
            profile, errs = load_profile_file(path)
            problems.extend(errs)
            if profile is not None:
                by_id[profile.id] = profile
    if strict and problems:
        raise DataFileError(problems)
    return ProfileSet(list(by_id.values()), problems)
