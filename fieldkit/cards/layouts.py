"""IC-card memory layouts as data (``data/card_layouts/*.yaml``), and decoding with them.

Card formats are vendor-defined and not public (research/protocols.md §3.2); a utility
adds its own layouts. fieldkit ships the one public example (research §3.3), clearly
labelled ``example: true``, and 前锋's card-sort codes as their API documents them.
A card no layout recognises still shows its raw memory.

Two kinds of file share the folder::

    schema: fieldkit.card_layout/1          # where the fields sit in memory
    id: example-4442-user
    chip: SLE4442
    match: [{offset: 0x20, equals: "DD"}]   # all must hold for the layout to apply
    fields:
      - {key: card_type, offset: 0x20, length: 1, encoding: code, codes: example-card-types}
      - {key: card_number, offset: 0x21, length: 4, encoding: decimal_pairs}
      - {key: remaining_gas, offset: 0x3D, length: 3, encoding: weighted, weights: [100, 1, 0.1], unit: m³}

    schema: fieldkit.card_codes/1           # what a card-type byte means
    id: qianfeng-card-sort
    codes:
      - {value: 15, kind: tool, name: {zh: 转移卡, en: transfer card}, tool_card: qianfeng.recovery-transfer}

Field keys with a meaning for diagnosis: ``card_type``, ``card_number``,
``purchase_count`` (购气次数), ``gas_amount`` (purchased gas on the card), ``remaining_gas``
(written back by the meter). Any other key is shown as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from fieldkit import paths
from fieldkit.datafiles import (
    DataFileError,
    DataProblem,
    find_by_id,
    read_layered,
    validate,
)
from fieldkit.i18n import _
from fieldkit.textmodel import Source, Strict, Text

FOLDER = "card_layouts"
KNOWN_KEYS = ("card_type", "card_number", "purchase_count", "gas_amount", "remaining_gas")


class CardKind(StrEnum):
    USER = "user"  # 用户卡 / 购气卡
    NEW_USER = "new_user"  # 开户卡
    TOOL = "tool"  # 工具卡 (initialisation, check, recovery…)
    GAS = "gas"  # a gas-amount card that is not a customer's
    UNKNOWN = "unknown"


class CardCode(Strict):
    value: int = Field(ge=0, le=0xFFFF)
    kind: CardKind
    name: Text
    tool_card: str | None = Field(
        default=None, description="tool-card id in data/tool_cards (e.g. qianfeng.init)"
    )
    note: Text | None = None


class CardCodeTable(Strict):
    schema_: Literal["fieldkit.card_codes/1"] = Field(alias="schema")
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: Text
    family: str | None = Field(default=None, description="tool-card family key, e.g. qianfeng")
    codes: list[CardCode] = Field(min_length=1)
    source: Source

    @model_validator(mode="after")
    def _unique(self) -> CardCodeTable:
        seen: set[int] = set()
        for code in self.codes:
            if code.value in seen:
                raise ValueError(f"code {code.value} appears twice")
            seen.add(code.value)
        return self

    def lookup(self, value: int) -> CardCode | None:
        return next((c for c in self.codes if c.value == value), None)


Encoding = Literal["uint_be", "uint_le", "bcd", "decimal_pairs", "weighted", "code", "hex"]


class FieldSpec(Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: Text | None = None
    offset: int = Field(ge=0, le=0xFF)
    length: int = Field(ge=1, le=32)
    encoding: Encoding
    weights: list[float] | None = Field(default=None, description="for 'weighted', one per byte")
    scale: float = Field(default=1.0, description="multiply the decoded integer")
    unit: str | None = None
    codes: str | None = Field(default=None, description="card_codes table id, for 'code'")

    @model_validator(mode="after")
    def _check(self) -> FieldSpec:
        if self.offset + self.length > 256:
            raise ValueError("field runs past the end of a 256-byte card")
        if self.encoding == "weighted" and (not self.weights or len(self.weights) != self.length):
            raise ValueError("'weighted' needs one weight per byte")
        if self.encoding == "code" and not self.codes:
            raise ValueError("'code' needs 'codes' (a card_codes table id)")
        return self


class MatchRule(Strict):
    offset: int = Field(ge=0, le=0xFF)
    equals: str = Field(pattern=r"^([0-9A-Fa-f]{2} ?)+$", description="hex bytes")

    def holds(self, memory: bytes) -> bool:
        want = bytes.fromhex(self.equals)
        return memory[self.offset : self.offset + len(want)] == want


class CardLayout(Strict):
    schema_: Literal["fieldkit.card_layout/1"] = Field(alias="schema")
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: Text
    chip: Literal["SLE4442", "SLE4428", "AT88SC102", "24C01", "24C02"]
    example: bool = Field(default=False, description="a public example, not a vendor's format")
    devices: list[str] = Field(default_factory=list, description="fault-table device keys")
    match: list[MatchRule] = Field(min_length=1)
    fields: list[FieldSpec] = Field(min_length=1)
    source: Source

    @model_validator(mode="after")
    def _unique_keys(self) -> CardLayout:
        keys = [f.key for f in self.fields]
        dupes = {k for k in keys if keys.count(k) > 1}
        if dupes:
            raise ValueError(f"field keys used twice: {sorted(dupes)}")
        return self

    def matches(self, memory: bytes) -> bool:
        return all(rule.holds(memory) for rule in self.match)


# ---------------------------------------------------------------- decoding


class FieldDecodeError(ValueError):
    pass


def _decode_value(spec: FieldSpec, raw: bytes) -> int | float | str:
    enc = spec.encoding
    if enc == "hex":
        return raw.hex(" ").upper()
    if enc in ("uint_be", "uint_le"):
        number = int.from_bytes(raw, "big" if enc == "uint_be" else "little")
        return number if spec.scale == 1 else number * spec.scale
    if enc == "code":
        return int.from_bytes(raw, "big")
    if enc == "bcd":
        text = raw.hex()
        if not text.isdigit():
            raise FieldDecodeError(_("Not BCD digits: {hex}").format(hex=raw.hex(" ").upper()))
        return int(text) * spec.scale if spec.scale != 1 else text
    if enc == "decimal_pairs":
        if any(b > 99 for b in raw):
            raise FieldDecodeError(
                _("A byte above 99 in a decimal field: {hex}").format(hex=raw.hex(" ").upper())
            )
        return "".join(f"{b:02d}" for b in raw)
    if enc == "weighted":
        assert spec.weights is not None
        return round(sum(b * w for b, w in zip(raw, spec.weights, strict=True)), 6)
    raise FieldDecodeError(f"unknown encoding {enc}")  # pragma: no cover


@dataclass(frozen=True)
class DecodedField:
    key: str
    label: Text | None
    value: int | float | str | None
    unit: str | None
    raw: bytes
    offset: int
    code: CardCode | None = None
    error: str | None = None

    def display(self, language: str = "zh") -> str:
        if self.error:
            return f"? ({self.error})"
        if self.code is not None:
            return f"{self.code.name.get(language)} ({self.value})"
        return f"{self.value}{' ' + self.unit if self.unit else ''}"


@dataclass(frozen=True)
class DecodedCard:
    """A card image read through one layout; ``layout`` is None for an unknown card."""

    memory: bytes
    layout: CardLayout | None
    fields: list[DecodedField] = field(default_factory=list)

    def get(self, key: str) -> Any:
        for f in self.fields:
            if f.key == key and f.error is None:
                return f.value
        return None

    @property
    def card_code(self) -> CardCode | None:
        for f in self.fields:
            if f.key == "card_type":
                return f.code
        return None

    @property
    def kind(self) -> CardKind:
        code = self.card_code
        return code.kind if code else CardKind.UNKNOWN

    @property
    def tool_card_id(self) -> str | None:
        code = self.card_code
        return code.tool_card if code else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "card",
            "layout": self.layout.id if self.layout else None,
            "layout_is_example": bool(self.layout and self.layout.example),
            "card_kind": self.kind.value,
            "tool_card": self.tool_card_id,
            "fields": {f.key: (f.value if f.error is None else None) for f in self.fields},
            "memory": self.memory.hex().upper(),
        }


@dataclass
class LayoutSet:
    layouts: list[CardLayout]
    code_tables: dict[str, CardCodeTable]
    problems: list[DataProblem]

    def layout(self, layout_id: str) -> CardLayout:
        return find_by_id(self.layouts, layout_id)

    def decode(self, memory: bytes, layout_id: str | None = None) -> DecodedCard:
        """Decode with the named layout, or the first whose ``match`` rules hold."""
        memory = bytes(memory)
        if layout_id is not None:
            layout: CardLayout | None = self.layout(layout_id)
        else:
            layout = next((lay for lay in self.layouts if lay.matches(memory)), None)
        if layout is None:
            return DecodedCard(memory, None, [])
        fields = []
        for spec in layout.fields:
            raw = memory[spec.offset : spec.offset + spec.length]
            code = None
            try:
                value = _decode_value(spec, raw)
                if spec.encoding == "code" and spec.codes:
                    table = self.code_tables.get(spec.codes)
                    code = table.lookup(int(value)) if table else None
                fields.append(
                    DecodedField(spec.key, spec.label, value, spec.unit, raw, spec.offset, code)
                )
            except FieldDecodeError as exc:
                fields.append(
                    DecodedField(
                        spec.key, spec.label, None, spec.unit, raw, spec.offset, None, str(exc)
                    )
                )
        return DecodedCard(memory, layout, fields)


def load_layouts(folders: list[Path] | None = None, *, strict: bool = False) -> LayoutSet:
    """Shipped layouts, then ``FIELDKIT_DATA`` folders; a utility's layouts are tried first."""
    if folders is None:
        folders = paths.data_dirs()
    layouts: dict[str, CardLayout] = {}
    tables: dict[str, CardCodeTable] = {}
    problems: list[DataProblem] = []
    order: list[str] = []
    for path, data in read_layered(folders, FOLDER, problems):
        if not isinstance(data, dict):
            problems.append(DataProblem(path, "must be a mapping with 'schema'"))
            continue
        entry = data.get("id")
        schema = data.get("schema")
        if schema == "fieldkit.card_codes/1":
            table, errs = validate(CardCodeTable, data, path, entry=entry)
            problems.extend(errs)
            if table is not None:
                tables[table.id] = table
        elif schema == "fieldkit.card_layout/1":
            layout, errs = validate(CardLayout, data, path, entry=entry)
            problems.extend(errs)
            if layout is not None:
                if layout.id not in layouts:
                    order.insert(0, layout.id)  # later folders (the utility's) first
                layouts[layout.id] = layout
        else:
            problems.append(
                DataProblem(
                    path,
                    "unknown schema (use fieldkit.card_layout/1 or fieldkit.card_codes/1)",
                    entry=entry,
                    field="schema",
                )
            )
    for layout_id in order:
        for spec in layouts[layout_id].fields:
            if spec.codes and spec.codes not in tables:
                problems.append(
                    DataProblem(
                        Path(FOLDER),
                        f"codes table {spec.codes!r} does not exist",
                        entry=layout_id,
                        field=f"fields.{spec.key}.codes",
                    )
                )
    if strict and problems:
        raise DataFileError(problems)
    return LayoutSet([layouts[i] for i in order], tables, problems)
