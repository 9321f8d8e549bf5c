"""The shipped tables' own integrity (python-OBD style), and their counts against the map.

``docs/manual-map.md`` says how many entries each manual table holds; the shipped YAML
must carry every one of them. The map's table names are mapped to device and family keys
explicitly here, so a renamed table fails loudly instead of being skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fieldkit.diagnostics.catalog import Catalog, load_catalog_from
from fieldkit.paths import shipped_data_dir

MANUAL_MAP = Path(__file__).resolve().parents[2] / "docs" / "manual-map.md"

# §3 table name in the map → device key
DEVICE_OF_MAP_TABLE = {
    "居民报警器 (residential alarm)": "alarm-home",
    "工业报警器 (industrial alarm)": "alarm-industrial",
    "美华智能燃气表": "meihua-ic",
    "美华 MHCG-G meter / MHCG-DN flow controller": "meihua-mhcg",
    "流量计 (flow meter)": "flowmeter",
    "前锋智能燃气表": "qianfeng-ic",
    "吸油烟机 (range hood)": "range-hood",
    "德菲尔曼壁挂炉": "delfirman-boiler",
}
# §4 family name in the map → tool-card family key
FAMILY_OF_MAP_TABLE = {
    "美华 residential": "meihua-residential",
    "美华 commercial/industrial controller": "meihua-industrial",
    "前锋": "qianfeng",
}


def _section_rows(text: str, heading: str) -> list[list[str]]:
    """Body rows of the first Markdown table after the heading that starts with ``heading``."""
    start = text.index("\n## " + heading) + 1
    rows: list[list[str]] = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if set("".join(cells)) <= set("-: "):
                continue  # the separator row
            rows.append(cells)
    return rows[1:]  # without the header row


def _split_top_level(cell: str) -> list[str]:
    """Split on commas that are not inside brackets: '初始化卡(清零卡), 检测卡' → 2."""
    parts, depth, current = [], 0, ""
    for ch in cell:
        depth += ch in "(（"
        depth -= ch in ")）"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def map_entry_counts() -> dict[str, int]:
    """Device key → entry count from §3 ("12 symptoms", "7 faults", "E0 only survives")."""
    counts: dict[str, int] = {}
    for name, entries, *_notes in _section_rows(MANUAL_MAP.read_text(encoding="utf-8"), "3."):
        number = re.match(r"\s*(\d+)\b", entries)
        if number:
            counts[DEVICE_OF_MAP_TABLE[name]] = int(number.group(1))
        else:  # "E0 only survives": the codes named before "only"
            codes = re.findall(r"\b[A-Z]+\d+\b", entries.split("only")[0])
            assert codes, f"cannot read a count from {entries!r}"
            counts[DEVICE_OF_MAP_TABLE[name]] = len(codes)
    return counts


def map_card_counts() -> dict[str, int]:
    rows = _section_rows(MANUAL_MAP.read_text(encoding="utf-8"), "4.")
    return {FAMILY_OF_MAP_TABLE[name]: len(_split_top_level(cards)) for name, cards in rows}


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return load_catalog_from([shipped_data_dir()])


def test_the_map_parses_to_every_table() -> None:
    assert map_entry_counts() == {
        "alarm-home": 3,
        "alarm-industrial": 5,
        "meihua-ic": 12,
        "meihua-mhcg": 9,
        "flowmeter": 7,
        "qianfeng-ic": 5,
        "range-hood": 7,
        "delfirman-boiler": 1,
    }
    assert map_card_counts() == {"meihua-residential": 5, "meihua-industrial": 5, "qianfeng": 6}


def test_shipped_data_has_no_problems(shipped: Catalog) -> None:
    assert [str(p) for p in shipped.problems] == []


@pytest.mark.parametrize("device", sorted(DEVICE_OF_MAP_TABLE.values()))
def test_entry_count_matches_the_manual_map(shipped: Catalog, device: str) -> None:
    assert device in shipped.device_keys(), f"no shipped table for {device}"
    assert len(shipped.table(device).entries) == map_entry_counts()[device]


@pytest.mark.parametrize("family", sorted(FAMILY_OF_MAP_TABLE.values()))
def test_card_count_matches_the_manual_map(shipped: Catalog, family: str) -> None:
    assert len(shipped.cards.family(family).cards) == map_card_counts()[family]


def test_ids_unique_and_prefixed(shipped: Catalog) -> None:
    seen: set[str] = set()
    for key in shipped.device_keys():
        for entry in shipped.table(key).entries:
            assert entry.id not in seen
            seen.add(entry.id)
            assert entry.id.split(".", 1)[0] == key
    for table in shipped.cards.families():
        for card in table.cards:
            assert card.id.split(".", 1)[0] == table.family.key


def test_cross_references_resolve(shipped: Catalog) -> None:
    for entry in shipped.entries():
        for ref in entry.see_also:
            assert shipped.resolves(ref), f"{entry.id} → {ref}"
    for card in shipped.cards.cards():
        for ref in card.see_also:
            assert shipped.resolves(ref), f"{card.id} → {ref}"
        for code in card.resolves_codes:
            devices = shipped.cards.family_of(card).devices
            assert any(shipped.lookup_code(code, d).found for d in devices), f"{card.id}: {code}"


def test_manual_entries_carry_their_item_number(shipped: Catalog) -> None:
    for entry in shipped.entries():
        if shipped.source_of(entry).kind == "manual":
            assert entry.number is not None, entry.id


def test_external_entries_carry_citation_and_confidence(shipped: Catalog) -> None:
    for entry in shipped.entries():
        source = shipped.source_of(entry)
        if source.kind == "external":
            assert source.citation and source.confidence is not None, entry.id


def test_danger_entries_have_emergency_steps(shipped: Catalog) -> None:
    dangers = [e for e in shipped.entries() if e.severity.value == "danger"]
    assert dangers, "the residential alarm's red-light entry is a danger entry"
    assert all(e.emergency for e in dangers)


def test_map_codes_are_in_the_tables(shipped: Catalog) -> None:
    # §3 names the codes of the Meihua tables; every one must be found on its device.
    for code in ["ERR-1", "ERR-3", "ERR-4", "ERR-5", "ERR-6", "ERR-7"]:
        assert shipped.lookup_code(code, "meihua-ic").found, code
    for code in ["ERR-1", "ERR-3", "ERR-4"]:
        assert shipped.lookup_code(code, "meihua-mhcg").found, code
    assert shipped.lookup_code("E0", "delfirman-boiler").found
