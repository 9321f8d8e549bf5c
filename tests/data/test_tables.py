"""Integrity of the shipped fault tables and tool cards (python-OBD style table tests).

Counts come from MANUAL-MAP.md §3 and §4: a missing, extra or renumbered entry fails here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import yaml

from fieldkit.cards.models import ToolCard, ToolCardTable
from fieldkit.diagnostics.models import FaultEntry, FaultTable, Severity
from fieldkit.paths import shipped_data_dir
from fieldkit.textmodel import Confidence, Source, Text

FAULT_DIR = shipped_data_dir() / "fault_codes"
CARD_DIR = shipped_data_dir() / "tool_cards"

MANUAL_FAULT_COUNTS = {
    "meihua-ic": 12,
    "meihua-mhcg": 9,
    "flowmeter": 7,
    "qianfeng-ic": 5,
    "alarm-home": 3,
    "alarm-industrial": 5,
    "range-hood": 7,
    "delfirman-boiler": 1,
}
EXTERNAL_FAULT_TABLES = {"midea-boiler", "sime-boiler"}
CARD_COUNTS = {"meihua-residential": 5, "meihua-industrial": 5, "qianfeng": 6}

CJK = re.compile(r"[\u4e00-\u9fff]")


@cache
def fault_tables() -> dict[str, FaultTable]:
    tables = {}
    for path in sorted(FAULT_DIR.glob("*.yaml")):
        table = FaultTable.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        tables[path.stem] = table
    return tables


@cache
def card_tables() -> dict[str, ToolCardTable]:
    tables = {}
    for path in sorted(CARD_DIR.glob("*.yaml")):
        table = ToolCardTable.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        tables[path.stem] = table
    return tables


def entry(entry_id: str) -> FaultEntry:
    device = entry_id.split(".", 1)[0]
    return next(e for e in fault_tables()[device].entries if e.id == entry_id)


def card(card_id: str) -> ToolCard:
    family = card_id.split(".", 1)[0]
    return next(c for c in card_tables()[family].cards if c.id == card_id)


def texts(obj: object) -> Iterator[Text]:
    """Every bilingual text inside a model, depth first."""
    if isinstance(obj, Text):
        yield obj
    elif isinstance(obj, list):
        for item in obj:
            yield from texts(item)
    elif hasattr(obj, "__pydantic_fields__"):
        for name in type(obj).model_fields:
            yield from texts(getattr(obj, name))


# --- every file validates, and the set of files is the expected one -----------------------


@pytest.mark.parametrize("path", sorted(FAULT_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_fault_file_validates_and_is_named_after_its_device(path: Path) -> None:
    table = FaultTable.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert table.device.key == path.stem


@pytest.mark.parametrize("path", sorted(CARD_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_card_file_validates_and_is_named_after_its_family(path: Path) -> None:
    table = ToolCardTable.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert table.family.key == path.stem


def test_exactly_the_expected_fault_tables_ship() -> None:
    assert set(fault_tables()) == set(MANUAL_FAULT_COUNTS) | EXTERNAL_FAULT_TABLES


def test_exactly_the_expected_card_families_ship() -> None:
    assert set(card_tables()) == set(CARD_COUNTS)


@pytest.mark.parametrize(("device", "count"), sorted(MANUAL_FAULT_COUNTS.items()))
def test_manual_table_has_the_manuals_entry_count_numbered_in_order(
    device: str, count: int
) -> None:
    table = fault_tables()[device]
    assert len(table.entries) == count
    assert [e.number for e in table.entries] == list(range(1, count + 1))
    assert [e.id for e in table.entries] == [f"{device}.{n:02d}" for n in range(1, count + 1)]


@pytest.mark.parametrize(("family", "count"), sorted(CARD_COUNTS.items()))
def test_card_family_has_the_manuals_card_count_numbered_in_order(family: str, count: int) -> None:
    cards = card_tables()[family].cards
    assert len(cards) == count
    assert [c.number for c in cards] == list(range(1, count + 1))


def test_ids_are_unique_across_all_tables() -> None:
    ids = [e.id for t in fault_tables().values() for e in t.entries]
    ids += [f"{t.device.key}.{n.id}" for t in fault_tables().values() for n in t.notes]
    ids += [c.id for t in card_tables().values() for c in t.cards]
    assert len(ids) == len(set(ids))


# --- sources ----------------------------------------------------------------------------


@pytest.mark.parametrize("device", sorted(MANUAL_FAULT_COUNTS))
def test_manual_tables_name_the_manual_section_and_page(device: str) -> None:
    source = fault_tables()[device].source
    assert source.kind == "manual"
    assert source.section and source.page


@pytest.mark.parametrize("family", sorted(CARD_COUNTS))
def test_card_tables_name_the_manual_section_and_page(family: str) -> None:
    source = card_tables()[family].source
    assert source.kind == "manual"
    assert source.section and source.page


@pytest.mark.parametrize("device", sorted(EXTERNAL_FAULT_TABLES))
def test_external_tables_and_entries_carry_citation_and_confidence(device: str) -> None:
    table = fault_tables()[device]
    assert table.source.kind == "external"
    for item in table.entries:
        source: Source = item.source or table.source
        assert source.kind == "external", item.id
        assert source.citation and source.confidence is not None, item.id


def test_external_confidence_matches_the_research_grading() -> None:
    assert fault_tables()["midea-boiler"].source.confidence == Confidence.VERIFIED
    sime = fault_tables()["sime-boiler"].source
    assert sime.confidence == Confidence.SECONDARY
    assert sime.note is not None and "model family" in sime.note.en


# --- bilingual text ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MANUAL_FAULT_COUNTS) + sorted(EXTERNAL_FAULT_TABLES))
def test_every_fault_text_has_chinese_and_a_real_english_rendering(name: str) -> None:
    table = fault_tables()[name]
    for text in texts([table.entries, table.notes]):  # brand names may read the same
        assert text.en != text.zh, text
        # English may quote a Chinese word, but must be mostly English.
        assert len(CJK.findall(text.en)) < len(text.en) / 2, text


@pytest.mark.parametrize("family", sorted(CARD_COUNTS))
def test_every_card_text_has_a_real_english_rendering(family: str) -> None:
    for text in texts(card_tables()[family]):
        assert text.en != text.zh, text


def test_manual_typos_are_kept_as_written() -> None:
    assert "蜂鸣器向" in entry("alarm-home.03").remedies[0].zh
    assert "断续间" in entry("alarm-industrial.03").symptom.zh
    assert "拨卡" in entry("meihua-ic.07").causes[1].remedies[0].zh
    assert "同步同" in entry("meihua-mhcg.06").remedies[1].zh


# --- per-table facts from the manual -----------------------------------------------------


def test_meihua_ic_codes_are_exactly_those_in_the_manual() -> None:
    codes = {c for e in fault_tables()["meihua-ic"].entries for c in e.codes}
    assert codes == {"ERR-1", "ERR-3", "ERR-4", "ERR-5", "ERR-6", "ERR-7"}
    assert entry("meihua-ic.08").codes == ["ERR-1"]
    assert entry("meihua-ic.09").codes == ["ERR-3", "ERR-4"]
    assert entry("meihua-ic.10").codes == ["ERR-5"]
    assert entry("meihua-ic.11").codes == ["ERR-6", "ERR-7"]


def test_meihua_ic_each_cause_keeps_its_own_remedy() -> None:
    item = entry("meihua-ic.01")
    assert [len(c.remedies) for c in item.causes] == [1, 1, 1]
    assert item.causes[2].remedies[0].zh == "更换新表"


def test_meihua_ic_card_type_rule_is_in_item_4() -> None:
    rule = entry("meihua-ic.04").causes[3].remedies[0].zh
    for needle in (
        "开户卡只能在新表中使用",
        "购气卡只能在已开户",
        "J2.5",
        "G6",
        "G10",
        "流量控制器",
    ):
        assert needle in rule


def test_mhcg_display_words_and_controller_codes() -> None:
    assert entry("meihua-mhcg.01").display == ["故障", "关阀"]
    assert entry("meihua-mhcg.02").display == ["低电", "关阀"]
    assert "t" in entry("meihua-mhcg.03").display
    assert [entry(f"meihua-mhcg.{n:02d}").codes for n in (7, 8, 9)] == [
        ["ERR-1"],
        ["ERR-3"],
        ["ERR-4"],
    ]
    assert "大于表内次数" in entry("meihua-mhcg.05").causes[0].text.zh


def test_same_code_means_different_things_on_meihua_ic_and_mhcg() -> None:
    assert entry("meihua-ic.08").causes[0].text.zh != entry("meihua-mhcg.07").causes[0].text.zh


def test_flowmeter_sleep_has_no_invented_code_and_rules_are_notes() -> None:
    table = fault_tables()["flowmeter"]
    assert all(not e.codes for e in table.entries)
    assert entry("flowmeter.01").display == ["SLEEP"]
    notes = {n.id: n for n in table.notes}
    assert set(notes) == {"start-up", "lubrication"}
    assert "2~3月" in notes["lubrication"].text[0].zh
    assert "fragmentary" in notes["start-up"].title.en


def test_qianfeng_swap_procedures_and_their_records() -> None:
    first = entry("qianfeng-ic.01")
    procedures = {p.id: p for p in first.procedures}
    assert set(procedures) == {"new-customer", "existing-customer"}
    swap = procedures["existing-customer"]
    assert len(swap.steps) == 5
    assert "回收转移卡" in swap.steps[0].zh
    assert swap.records == ["new_meter_no", "seal_no", "gas_used", "gas_remaining", "swap_date"]
    assert "qianfeng.recovery-transfer" in first.see_also

    second = entry("qianfeng-ic.02")
    assert len(second.remedies) == 6
    (card_swap,) = second.procedures
    assert len(card_swap.steps) == 4
    assert {"gas_remaining", "new_meter_no"} <= set(card_swap.records)


def test_red_flashing_alarm_is_danger_with_its_emergency_steps() -> None:
    red = entry("alarm-home.03")
    assert red.severity == Severity.DANGER
    steps = " ".join(s.zh for s in red.emergency)
    for needle in ("电磁阀", "门窗", "开关", "插头", "打电话", "打火机", "明火"):
        assert needle in steps
    assert entry("alarm-home.01").severity != Severity.DANGER


def test_industrial_alarm_warning_is_a_danger_note() -> None:
    (note,) = fault_tables()["alarm-industrial"].notes
    assert note.severity == Severity.DANGER
    assert "爆炸或有毒气体" in note.text[0].zh


def test_delfirman_keeps_only_the_surviving_e0() -> None:
    (only,) = fault_tables()["delfirman-boiler"].entries
    assert only.codes == ["E0"]
    assert only.meaning is not None and not only.remedies and not only.causes


def test_midea_gives_meanings_only_one_entry_per_meaning() -> None:
    table = fault_tables()["midea-boiler"]
    for item in table.entries:
        assert item.meaning is not None, item.id
        assert not item.remedies and not item.causes, item.id
    e1 = [e for e in table.entries if e.codes == ["E1"]]
    assert {e.meaning.zh for e in e1 if e.meaning} == {"点火失败", "意外熄火"}
    assert entry("midea-boiler.e1-ignition-failure") in e1
    f_caveat = [
        entry("midea-boiler.f4-ch-probe-detached"),
        entry("midea-boiler.f5-dhw-probe-detached"),
    ]
    assert all(e.note is not None and "F4/F5" in e.note.en for e in f_caveat)


def test_sime_codes_skip_al03() -> None:
    codes = [c for e in fault_tables()["sime-boiler"].entries for c in e.codes]
    assert codes == ["AL 01", "AL 02", "AL 04", "AL 05", "AL 06", "AL 07", "AL 08"]


def test_no_qianfeng_boiler_heater_or_stove_table_is_invented() -> None:
    kinds = {(t.device.brand.zh, t.device.kind) for t in fault_tables().values()}
    assert ("前锋", "boiler") not in kinds
    assert ("前锋", "water_heater") not in kinds
    assert all(t.device.kind != "stove" for t in fault_tables().values())


# --- tool cards ------------------------------------------------------------------------


def test_meihua_fault_card_resolves_exactly_the_meihua_ic_codes() -> None:
    fault_card = card("meihua-residential.fault-card")
    ic_codes = {c for e in fault_tables()["meihua-ic"].entries for c in e.codes}
    assert set(fault_card.resolves_codes) == ic_codes
    assert "维修卡" in fault_card.aliases


def test_meihua_industrial_fault_recovery_only_err3_err4() -> None:
    recovery = card("meihua-industrial.fault-recovery")
    assert recovery.resolves_codes == ["ERR-3", "ERR-4"]
    mhcg_codes = {c for e in fault_tables()["meihua-mhcg"].entries for c in e.codes}
    assert set(recovery.resolves_codes) <= mhcg_codes
    assert {"meihua-mhcg.08", "meihua-mhcg.09"} <= set(recovery.see_also)


@pytest.mark.parametrize("card_id", ["meihua-residential.init", "meihua-industrial.maintenance"])
def test_init_cards_say_what_they_destroy(card_id: str) -> None:
    init = card(card_id)
    assert init.destroys is not None and "换表补气卡" in init.destroys.zh
    assert init.modes[0].result_state == "new"
    assert "all" in init.modes[0].clears


def test_data_transfer_card_is_limited_to_g6_and_below() -> None:
    transfer = card("meihua-residential.data-transfer")
    assert transfer.restrictions is not None and "G6" in transfer.restrictions.zh


def test_meihua_family_rules() -> None:
    residential = {r.id for r in card_tables()["meihua-residential"].rules}
    assert residential == {"card-type", "account-type"}
    industrial = card_tables()["meihua-industrial"].rules
    assert [r.id for r in industrial] == ["purchase-count"]
    assert "大于表内次数" in industrial[0].text.zh


def test_qianfeng_card_state_machine() -> None:
    states = [s.key for s in card_tables()["qianfeng"].meter_states]
    assert states == ["production", "initialised", "working"]
    master = card("qianfeng.master-init").modes[0]
    assert (master.requires_state, master.result_state, master.gas_after) == (
        ["production"],
        "initialised",
        0.2,
    )
    init = card("qianfeng.init").modes[0]
    assert (init.requires_state, init.result_state) == (["working"], "initialised")
    assert card("qianfeng.restore").modes[0].result_state == "production"
    clear = card("qianfeng.clear").modes[0]
    assert clear.result_state is None and clear.clears == ["gas"]
    query = card("qianfeng.query").modes[0]
    assert query.result_state is None and not query.clears
    modes = {m.id: m for m in card("qianfeng.recovery-transfer").modes}
    assert (modes["recovery"].requires_state, modes["recovery"].result_state) == (
        ["working"],
        "initialised",
    )
    assert (modes["transfer"].requires_state, modes["transfer"].result_state) == (
        ["initialised"],
        "working",
    )


# --- cross-references ------------------------------------------------------------------


def known_ids() -> set[str]:
    ids = {e.id for t in fault_tables().values() for e in t.entries}
    ids |= {f"{t.device.key}.{n.id}" for t in fault_tables().values() for n in t.notes}
    ids |= {c.id for t in card_tables().values() for c in t.cards}
    return ids


def test_every_see_also_resolves() -> None:
    ids = known_ids()
    refs: list[tuple[str, str]] = []
    for table in fault_tables().values():
        refs += [(e.id, ref) for e in table.entries for ref in e.see_also]
    for cards in card_tables().values():
        refs += [(c.id, ref) for c in cards.cards for ref in c.see_also]
        refs += [(f"{cards.family.key}:{r.id}", ref) for r in cards.rules for ref in r.see_also]
    assert refs
    dangling = [(owner, ref) for owner, ref in refs if ref not in ids]
    assert dangling == []


def test_card_families_serve_existing_devices() -> None:
    for table in card_tables().values():
        for device in table.family.devices:
            assert device in fault_tables(), (table.family.key, device)


def test_meihua_err_entries_point_at_the_fault_card() -> None:
    for n in (8, 9, 10, 11):
        assert "meihua-residential.fault-card" in entry(f"meihua-ic.{n:02d}").see_also


# --- the data layer stays headless ------------------------------------------------------


def test_loading_tables_and_conduct_imports_no_ui_or_server_framework() -> None:
    code = (
        "import sys, fieldkit.conduct, fieldkit.diagnostics.models, fieldkit.cards.models;"
        "bad = [m for m in ('textual', 'fastapi') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
