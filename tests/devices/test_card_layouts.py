"""Card layouts as data: integrity of the shipped tables, decoding, a utility's own layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldkit.cards.layouts import CardKind, load_layouts
from fieldkit.datafiles import DataFileError
from fieldkit.devices.emulator import example_user_card


def test_shipped_layouts_validate_and_are_labelled() -> None:
    layouts = load_layouts(strict=True)
    assert [lay.id for lay in layouts.layouts] == ["example-4442-user"]
    assert all(lay.example for lay in layouts.layouts)  # only examples ship
    assert set(layouts.code_tables) == {"example-card-types", "qianfeng-card-sort"}
    for layout in layouts.layouts:
        assert layout.source.kind == "external" and layout.source.citation


def test_qianfeng_card_sorts_as_documented() -> None:
    table = load_layouts().code_tables["qianfeng-card-sort"]
    values = [c.value for c in table.codes]
    assert values == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16]
    assert table.lookup(13) is None  # not documented, not invented
    tool_links = {c.value: c.tool_card for c in table.codes if c.tool_card}
    assert tool_links[5] == "qianfeng.init"


def test_tool_card_links_resolve_in_the_tool_card_catalog() -> None:
    from fieldkit.cards.catalog import load_tool_cards

    catalog = load_tool_cards()
    for table in load_layouts().code_tables.values():
        for code in table.codes:
            if code.tool_card:
                assert catalog.card(code.tool_card).id == code.tool_card


def test_decode_example_user_card() -> None:
    card = load_layouts().decode(bytes(example_user_card(12345678, 123.4, 7).memory))
    assert card.layout is not None and card.layout.id == "example-4442-user"
    assert card.kind is CardKind.USER
    assert card.get("card_number") == "12345678"
    assert card.get("remaining_gas") == pytest.approx(123.4)
    assert card.get("area_code") == 7
    assert card.to_dict()["memory"].startswith("FF")


def test_research_vector_bytes() -> None:
    # research §3.3: 0C 22 38 4E = 12345678; 01 17 04 = 123.4 m³
    memory = bytearray(b"\xff" * 256)
    memory[0x20:0x25] = bytes.fromhex("DD 0C 22 38 4E")
    memory[0x3D:0x40] = bytes.fromhex("01 17 04")
    card = load_layouts().decode(bytes(memory))
    assert card.get("card_number") == "12345678"
    assert card.get("remaining_gas") == pytest.approx(123.4)


def test_unknown_card_keeps_raw_memory() -> None:
    blank = b"\xff" * 256
    card = load_layouts().decode(blank)
    assert card.layout is None and card.kind is CardKind.UNKNOWN
    assert card.memory == blank and card.to_dict()["memory"] == "FF" * 256


UTILITY_LAYOUT = """
schema: fieldkit.card_layout/1
id: utility-qianfeng
name: {zh: 本公司前锋卡, en: our Qianfeng card}
chip: SLE4442
match: [{offset: 0x10, equals: "A5 5A"}]
fields:
  - {key: card_type, offset: 0x12, length: 1, encoding: code, codes: qianfeng-card-sort}
  - {key: card_number, offset: 0x13, length: 4, encoding: bcd}
  - {key: purchase_count, offset: 0x17, length: 1, encoding: uint_be}
  - {key: gas_amount, offset: 0x18, length: 2, encoding: uint_be, scale: 0.1, unit: m³}
source: {kind: utility, note: {zh: 公司内部, en: in-house}}
"""


def test_a_utility_adds_its_own_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "card_layouts"
    folder.mkdir()
    (folder / "ours.yaml").write_text(UTILITY_LAYOUT, encoding="utf-8")
    monkeypatch.setenv("FIELDKIT_DATA", str(tmp_path))
    layouts = load_layouts(strict=True)
    memory = bytearray(b"\x00" * 256)
    memory[0x10:0x1A] = bytes.fromhex("A5 5A 05 00 12 34 56 09 01 F4")
    card = layouts.decode(bytes(memory))
    assert card.layout is not None and card.layout.id == "utility-qianfeng"
    assert card.kind is CardKind.TOOL and card.tool_card_id == "qianfeng.init"
    assert card.get("card_number") == "00123456"
    assert card.get("purchase_count") == 9
    assert card.get("gas_amount") == pytest.approx(50.0)


def test_malformed_layout_names_file_entry_and_field(tmp_path: Path) -> None:
    folder = tmp_path / "card_layouts"
    folder.mkdir()
    bad = UTILITY_LAYOUT.replace("offset: 0x17", "offset: 0x17, colour: red")
    (folder / "bad.yaml").write_text(bad, encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        load_layouts([tmp_path], strict=True)
    problem = info.value.problems[0]
    assert problem.file.name == "bad.yaml" and problem.entry == "utility-qianfeng"
    assert problem.field is not None and "colour" in problem.field
    # and a codes reference to a table that does not exist is reported too
    (folder / "bad.yaml").write_text(UTILITY_LAYOUT, encoding="utf-8")
    result = load_layouts([tmp_path])
    assert any("qianfeng-card-sort" in p.message for p in result.problems)
