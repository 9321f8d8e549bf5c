"""Typed shape of a fault table (``data/fault_codes/<device>.yaml``).

One file per device family. Example (abridged)::

    schema: fieldkit.fault_table/1
    device:
      key: meihua-ic
      brand: {zh: 美华, en: Meihua}
      family: {zh: 智能燃气表, en: smart gas meter (IC card)}
      kind: gas_meter
    source: {kind: manual, section: 美华智能燃气表常见故障与排除方法, page: 8}
    entries:
      - id: meihua-ic.08
        number: 8
        codes: [ERR-1]
        symptom: {zh: 液晶出现ERR—1显示, en: The display shows ERR-1}
        severity: warning
        causes:
          - text: {zh: 表周围有强磁干扰或防磁干簧管损坏, en: ...}
            remedies:
              - {zh: 排除周围磁干扰或更换防磁干簧管后重新安装一次电池, en: ...}

Entry ids are ``<device key>.<slug>``; for manual tables the slug is the manual's item
number with two digits (``meihua-ic.08``), so ids stay stable when text is corrected.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator, model_validator

from fieldkit.textmodel import AsWritten, Source, Strict, Text, check_as_written

DEVICE_KEY = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
ENTRY_ID = r"^[a-z][a-z0-9-]*\.[a-z0-9][a-z0-9.-]*$"
SCHEMA_ID = "fieldkit.fault_table/1"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    DANGER = "danger"  # gas present or possible: carries emergency steps


class DeviceKind(StrEnum):
    GAS_METER = "gas_meter"
    FLOW_CONTROLLER = "flow_controller"
    FLOW_METER = "flow_meter"
    GAS_ALARM = "gas_alarm"
    BOILER = "boiler"
    WATER_HEATER = "water_heater"
    RANGE_HOOD = "range_hood"
    STOVE = "stove"


UNSTATED_BRAND = "未注明"
"""The ``brand.zh`` of a table whose source names no brand (the manual's alarms, flow meter)."""


class Device(Strict):
    key: str = Field(pattern=DEVICE_KEY, description="short stable key used by --device")
    brand: Text
    family: Text
    kind: DeviceKind
    models: list[str] = Field(default_factory=list, description="model names the table covers")

    def name(self, language: str) -> str:
        """Brand and family as a technician says them; the family alone when no brand is named."""
        if self.brand.zh == UNSTATED_BRAND:
            return self.family.get(language)
        return f"{self.brand.get(language)} {self.family.get(language)}"


class Cause(Strict):
    """One cause (原因①②③…) with its own remedies (排除方法)."""

    text: Text
    remedies: list[Text] = Field(default_factory=list)
    note: Text | None = Field(
        default=None,
        description="e.g. why the source gives this cause no remedy (a cause with a note may have none)",
    )


class SubProcedure(Strict):
    """Ordered steps inside an entry, e.g. 前锋's meter swap with the 回收转移卡."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: Text
    applies_when: Text | None = None
    steps: list[Text] = Field(min_length=1)
    records: list[str] = Field(
        default_factory=list,
        description="visit-record fields this procedure requires (e.g. new_meter_no, seal_no)",
    )


class Note(Strict):
    """A table-level rule or note (start-up and lubrication rules, warnings)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: Text
    text: list[Text] = Field(min_length=1)
    severity: Severity = Severity.INFO


class FaultEntry(Strict):
    """One symptom or code of one device, with its causes and remedies."""

    id: str = Field(pattern=ENTRY_ID)
    number: int | None = Field(default=None, ge=1, description="item number in the manual")
    codes: list[str] = Field(
        default_factory=list, description="codes as displayed (ERR-1, E0, AL 01)"
    )
    display: list[str] = Field(
        default_factory=list, description="words the device shows (故障, 关阀, 低电, SLEEP, t)"
    )
    symptom: Text
    meaning: Text | None = Field(
        default=None,
        description="what the code means, for sources that give only a meaning (no remedy is invented)",
    )
    severity: Severity = Severity.WARNING
    causes: list[Cause] = Field(default_factory=list)
    remedies: list[Text] = Field(
        default_factory=list, description="remedies shared by all causes, or when no cause is given"
    )
    emergency: list[Text] = Field(
        default_factory=list,
        description="immediate safety steps (required when severity is danger)",
    )
    procedures: list[SubProcedure] = Field(default_factory=list)
    note: Text | None = None
    as_written: list[AsWritten] = Field(
        default_factory=list,
        description="原文如此: words the manual prints with a typo or unclear, explained",
    )
    see_also: list[str] = Field(
        default_factory=list, description="ids of entries, notes or tool cards"
    )
    source: Source | None = Field(default=None, description="overrides the table's source")

    @field_validator("codes")
    @classmethod
    def _codes_not_blank(cls, codes: list[str]) -> list[str]:
        for code in codes:
            if not code.strip():
                raise ValueError("a code may not be blank")
        return codes

    @model_validator(mode="after")
    def _check(self) -> FaultEntry:
        if not (self.causes or self.remedies or self.procedures or self.emergency or self.meaning):
            raise ValueError(
                "an entry needs at least one cause, remedy, procedure, emergency step or meaning"
            )
        if self.causes and not self.remedies and not self.procedures:
            missing = [
                i + 1 for i, c in enumerate(self.causes) if not c.remedies and c.note is None
            ]
            if missing:
                raise ValueError(
                    f"cause(s) {missing} have no remedy and the entry has no shared remedies"
                )
        if self.severity == Severity.DANGER and not self.emergency:
            raise ValueError("a danger entry must list its emergency steps")
        check_as_written(self.as_written, self)
        return self

    @property
    def slug(self) -> str:
        return self.id.split(".", 1)[1]


class FaultTable(Strict):
    schema_: Literal["fieldkit.fault_table/1"] = Field(alias="schema")
    device: Device
    source: Source
    notes: list[Note] = Field(default_factory=list)
    entries: list[FaultEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ids_belong_to_device(self) -> FaultTable:
        prefix = self.device.key + "."
        for entry in self.entries:
            if not entry.id.startswith(prefix):
                raise ValueError(f"entry id {entry.id!r} must start with {prefix!r}")
        return self
