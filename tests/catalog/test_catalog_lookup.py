"""Catalog loading and code lookups on the fixture tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fieldkit.diagnostics import catalog as catalog_module
from fieldkit.diagnostics.catalog import (
    Catalog,
    UnknownDevice,
    UnknownEntry,
    default_catalog,
    load_catalog,
    load_catalog_from,
)
from fieldkit.textmodel import Confidence


def ids(entries: list) -> list[str]:
    return [e.id for e in entries]


def test_loads_every_fixture_table(fixture_catalog: Catalog) -> None:
    assert fixture_catalog.device_keys() == [
        "alarm-home",
        "flowmeter",
        "meihua-ic",
        "meihua-mhcg",
        "sime-boiler",
    ]
    assert len(fixture_catalog.entries()) == 11
    assert fixture_catalog.table("meihua-ic").device.brand.zh == "美华"
    assert fixture_catalog.entry("meihua-ic.08").codes == ["ERR-1"]


@pytest.mark.parametrize("typed", ["ERR-1", "ERR—1", "ERR--1", "err1", "Err-1", "ＥＲＲ－１"])
def test_err1_is_found_on_both_meihua_devices(fixture_catalog: Catalog, typed: str) -> None:
    result = fixture_catalog.lookup_code(typed)
    assert result.found
    assert result.normalized == "ERR-1"
    assert ids(result.matches) == ["meihua-ic.08", "meihua-mhcg.07"]
    assert result.known_codes == []
    assert not result.unknown_device


def test_device_narrows(fixture_catalog: Catalog) -> None:
    result = fixture_catalog.lookup_code("ERR-1", device="meihua-mhcg")
    assert ids(result.matches) == ["meihua-mhcg.07"]
    assert result.device == "meihua-mhcg"
    assert ids(fixture_catalog.lookup_code("err1", device=" Meihua-IC ").matches) == [
        "meihua-ic.08"
    ]


def test_manual_spellings_of_the_table_are_found(fixture_catalog: Catalog) -> None:
    # The table writes ERR--3 and ERR—4 as the manual does.
    assert ids(fixture_catalog.lookup_code("ERR-3").matches) == ["meihua-ic.09"]
    assert ids(fixture_catalog.lookup_code("err 4").matches) == ["meihua-ic.09"]


@pytest.mark.parametrize("typed", ["AL 01", "AL1", "al 01", "Al-01", "ＡＬ０１"])
def test_sime_codes(fixture_catalog: Catalog, typed: str) -> None:
    assert ids(fixture_catalog.lookup_code(typed).matches) == ["sime-boiler.al-01"]


def test_unknown_code_for_a_device_lists_its_codes_not_another_brands(
    fixture_catalog: Catalog,
) -> None:
    # AL 01 exists, but on the SIME boiler: for a Meihua meter it is unknown.
    result = fixture_catalog.lookup_code("AL 01", device="meihua-ic")
    assert not result.found
    assert result.matches == []
    assert result.known_codes == ["ERR-1", "ERR--3", "ERR—4"]
    assert not result.unknown_device


def test_err10_is_not_err1(fixture_catalog: Catalog) -> None:
    result = fixture_catalog.lookup_code("ERR-10", device="meihua-ic")
    assert not result.found
    assert "ERR-1" in result.known_codes


def test_unknown_device(fixture_catalog: Catalog) -> None:
    result = fixture_catalog.lookup_code("ERR-1", device="no-such-meter")
    assert result.unknown_device
    assert result.matches == []
    with pytest.raises(UnknownDevice):
        fixture_catalog.table("no-such-meter")
    with pytest.raises(UnknownDevice):
        fixture_catalog.search("不显示", device="no-such-meter")


def test_unknown_code_anywhere(fixture_catalog: Catalog) -> None:
    result = fixture_catalog.lookup_code("XYZ-99")
    assert not result.found
    assert result.device is None
    assert result.known_codes == []


def test_unknown_entry(fixture_catalog: Catalog) -> None:
    with pytest.raises(UnknownEntry):
        fixture_catalog.entry("meihua-ic.99")


def test_entries_with_display(fixture_catalog: Catalog) -> None:
    both = fixture_catalog.entries_with_display("meihua-mhcg", ["关阀", "故障"])
    assert ids(both) == ["meihua-mhcg.01", "meihua-mhcg.07"]
    assert ids(fixture_catalog.entries_with_display("meihua-mhcg", ["低电", "关阀"])) == [
        "meihua-mhcg.02"
    ]
    assert ids(fixture_catalog.entries_with_display("flowmeter", ["sleep"])) == ["flowmeter.01"]
    assert fixture_catalog.entries_with_display("meihua-mhcg", ["SLEEP"]) == []


def test_sources(fixture_catalog: Catalog) -> None:
    manual = fixture_catalog.source_of(fixture_catalog.entry("meihua-ic.08"))
    assert manual.kind == "manual"
    assert manual.section == "美华智能燃气表常见故障与排除方法"
    assert manual.page == 8
    external = fixture_catalog.source_of(fixture_catalog.entry("sime-boiler.al-01"))
    assert external.kind == "external"
    assert external.confidence == Confidence.SECONDARY
    assert "service04.ru" in (external.citation_text("en") or "")


def test_device_of_and_known_codes(fixture_catalog: Catalog) -> None:
    assert fixture_catalog.device_of("meihua-mhcg.07").key == "meihua-mhcg"
    assert fixture_catalog.known_codes("sime-boiler") == ["AL 01", "AL 02"]
    assert fixture_catalog.known_codes("flowmeter") == []


def test_references_resolve(fixture_catalog: Catalog) -> None:
    assert fixture_catalog.resolves("meihua-ic.08")
    assert fixture_catalog.resolves("flowmeter.startup")  # a table note
    assert fixture_catalog.resolves("meihua-residential.fault-card")  # a tool card
    assert fixture_catalog.resolves("meihua-residential.card-type")  # a family rule
    assert not fixture_catalog.resolves("meihua-ic.77")


# -- FIELDKIT_DATA ---------------------------------------------------------------------
def _utility_folder(tmp_path: Path, fixture_root: Path) -> Path:
    """A utility's folder: its own meihua-ic table (one entry) and a new device."""
    folder = tmp_path / "utility"
    (folder / "fault_codes").mkdir(parents=True)
    text = (fixture_root / "fault_codes" / "meihua-ic.yaml").read_text(encoding="utf-8")
    head, _sep, _rest = text.partition("  - id: meihua-ic.01")
    entry = """  - id: meihua-ic.08
    number: 8
    codes: [ERR-1]
    symptom: {zh: 液晶出现ERR—1显示, en: The display shows ERR-1}
    remedies:
      - {zh: 本公司规定：先拍照再处理, en: "Utility rule: photograph first"}
    source: {kind: utility, citation: 本公司2024年补充规定}
"""
    (folder / "fault_codes" / "meihua-ic.yaml").write_text(head + entry, encoding="utf-8")
    shutil.copy(
        fixture_root / "fault_codes" / "sime-boiler.yaml",
        folder / "fault_codes" / "sime-boiler.yaml",
    )
    return folder


def test_fieldkit_data_overrides_and_adds(
    tmp_path: Path, fixture_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = tmp_path / "shipped"
    shutil.copytree(fixture_root, shipped)
    (shipped / "fault_codes" / "sime-boiler.yaml").unlink()
    utility = _utility_folder(tmp_path, fixture_root)
    monkeypatch.setattr(catalog_module.paths, "shipped_data_dir", lambda: shipped)
    monkeypatch.setenv("FIELDKIT_DATA", str(utility))

    catalog = load_catalog()
    assert catalog.problems == []
    # Replaced: the utility's meihua-ic table has one entry.
    assert ids(catalog.table("meihua-ic").entries) == ["meihua-ic.08"]
    assert catalog.entry("meihua-ic.08").remedies[0].zh.startswith("本公司规定")
    assert ids(catalog.lookup_code("ERR-1").matches) == ["meihua-ic.08", "meihua-mhcg.07"]
    # Added: SIME comes only from the utility folder.
    assert "sime-boiler" in catalog.device_keys()
    # The replacement is reported.
    replaced = [s for s in catalog.sources if s.replaces is not None]
    assert [
        (s.key, s.path.parent.parent.name, s.replaces.parent.parent.name) for s in replaced
    ] == [("meihua-ic", "utility", "shipped")]
    added = [s for s in catalog.sources if s.key == "sime-boiler"]
    assert added[0].replaces is None and "utility" in str(added[0].path)


def test_a_broken_override_keeps_the_shipped_table(tmp_path: Path, fixture_root: Path) -> None:
    utility = tmp_path / "utility" / "fault_codes"
    utility.mkdir(parents=True)
    (utility / "meihua-ic.yaml").write_text("schema: [unclosed\n", encoding="utf-8")
    catalog = load_catalog_from([fixture_root, tmp_path / "utility"])
    assert len(catalog.problems) == 1
    assert catalog.problems[0].file.name == "meihua-ic.yaml"
    assert len(catalog.table("meihua-ic").entries) == 3


def test_flat_utility_folder(tmp_path: Path, fixture_root: Path) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(fixture_root / "fault_codes" / "sime-boiler.yaml", flat / "sime.yaml")
    shutil.copy(fixture_root / "tool_cards" / "qianfeng.yaml", flat / "qianfeng-cards.yaml")
    catalog = load_catalog_from([flat])
    assert catalog.problems == []
    assert catalog.device_keys() == ["sime-boiler"]
    assert catalog.cards.family_keys() == ["qianfeng"]


def test_default_catalog_is_cached_and_follows_fieldkit_data(
    tmp_path: Path, fixture_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_module.paths, "shipped_data_dir", lambda: fixture_root)
    monkeypatch.setattr(catalog_module, "_default", None)
    first = default_catalog()
    assert default_catalog() is first
    monkeypatch.setenv("FIELDKIT_DATA", str(_utility_folder(tmp_path, fixture_root)))
    second = default_catalog()
    assert second is not first
    assert ids(second.table("meihua-ic").entries) == ["meihua-ic.08"]


def test_a_missing_fieldkit_data_folder_is_reported(tmp_path: Path, fixture_root: Path) -> None:
    catalog = load_catalog_from([fixture_root, tmp_path / "no-such-folder"])
    assert [(p.file.name, p.message) for p in catalog.problems] == [
        ("no-such-folder", "data folder does not exist")
    ]
    assert len(catalog.entries()) == 11
