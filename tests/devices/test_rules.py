"""State → diagnosis: each rule fires on its evidence, links resolve in the shipped data."""

from __future__ import annotations

import pytest

from fieldkit.cards.layouts import load_layouts
from fieldkit.devices import cjt188
from fieldkit.devices.emulator import example_user_card
from fieldkit.diagnostics.rules import CHECKS, DeviceState, diagnose, load_rules


def rule_ids(state: DeviceState) -> list[str]:
    return [f.rule_id for f in diagnose(state).findings]


def test_rule_table_integrity() -> None:
    rules = load_rules(strict=True)
    ids = [r.id for r in rules.rules]
    assert len(ids) == len(set(ids))
    assert {r.check for r in rules.rules} <= set(CHECKS)
    for rule in rules.rules:
        for device, entries in rule.entries.items():
            assert all(e.startswith(device + ".") for e in entries), rule.id


def test_every_referenced_id_resolves_in_the_shipped_catalogs() -> None:
    from fieldkit.cards.catalog import load_tool_cards
    from fieldkit.diagnostics.catalog import default_catalog

    catalog = default_catalog()
    cards = load_tool_cards()
    for rule in load_rules().rules:
        for entries in rule.entries.values():
            for entry_id in entries:
                assert catalog.entry(entry_id).id == entry_id
        for card_id in rule.cards:
            assert cards.card(card_id).id == card_id


def test_low_battery_valve_closed_from_a_real_901f_payload() -> None:
    payload = cjt188.encode_metering(10.0, 5.0, None, b"\x05\x00")  # valve closed + D2
    metering = cjt188.decode_metering(payload)
    state = DeviceState.from_readings(meter=metering, device="meihua-ic")
    diagnosis = diagnose(state)
    assert [f.rule_id for f in diagnosis.findings] == ["low-battery-valve-closed"]
    finding = diagnosis.findings[0]
    assert finding.title.zh == "低电关阀"
    assert "更换电池" in finding.explanation.zh
    assert finding.entry_ids == ["meihua-ic.06", "meihua-ic.02"]
    assert finding.evidence["status"] == "05 00"


@pytest.mark.parametrize(
    ("st", "expected"),
    [
        (b"\x00\x00", []),
        (b"\x04\x00", ["low-battery"]),
        (b"\x01\x00", ["valve-closed"]),
        (b"\x03\x00", ["valve-abnormal"]),
        (b"\x07\x00", ["valve-abnormal"]),
    ],
)
def test_status_words(st: bytes, expected: list[str]) -> None:
    metering = cjt188.decode_metering(cjt188.encode_metering(1, 1, None, st))
    ids = rule_ids(DeviceState.from_readings(meter=metering, device="qianfeng-ic"))
    assert [i for i in ids if i != "low-battery"] == [e for e in expected if e != "low-battery"]
    assert ("low-battery" in ids) == ("low-battery" in expected or st == b"\x07\x00")


def test_valve_abnormal_links_the_meters_own_table() -> None:
    from fieldkit.diagnostics.catalog import default_catalog

    state = DeviceState(device="meihua-mhcg", valve="abnormal", low_battery=False)
    (finding,) = diagnose(state).findings
    assert finding.entry_ids[0] == "meihua-mhcg.01"
    # every MHCG entry whose display shows 关阀 is offered too, and only this meter's
    shown = {e.id for e in default_catalog().entries_with_display("meihua-mhcg", ["关阀"])}
    assert shown and shown <= set(finding.entry_ids)
    assert all(e.startswith("meihua-mhcg.") for e in finding.entry_ids)
    (ic,) = diagnose(DeviceState(device="meihua-ic", valve="abnormal")).findings
    assert ic.entry_ids == ["meihua-ic.02"]


def test_purchase_count_rule() -> None:
    base = DeviceState(device="meihua-mhcg", card_read=True, card_layout="x", card_kind="user")
    same = DeviceState(**{**base.__dict__, "card_purchase_count": 7, "meter_purchase_count": 7})
    lower = DeviceState(**{**base.__dict__, "card_purchase_count": 6, "meter_purchase_count": 7})
    higher = DeviceState(**{**base.__dict__, "card_purchase_count": 8, "meter_purchase_count": 7})
    assert "purchase-count-not-greater" in rule_ids(same)
    assert "purchase-count-not-greater" in rule_ids(lower)
    assert "purchase-count-not-greater" not in rule_ids(higher)
    finding = next(f for f in diagnose(same).findings if f.rule_id == "purchase-count-not-greater")
    assert finding.entry_ids == ["meihua-mhcg.05"]
    assert (
        "插卡后气量无法输入" in finding.explanation.zh
        and "更改卡内购气次数" in finding.explanation.zh
    )


def test_card_meter_mismatch_from_a_decoded_card() -> None:
    card = load_layouts().decode(bytes(example_user_card(card_number=12345678).memory))
    wrong = DeviceState.from_readings(card=card, device="meihua-ic", meter_card_number="87654321")
    right = DeviceState.from_readings(card=card, device="meihua-ic", meter_card_number="12345678")
    assert "card-meter-mismatch" in rule_ids(wrong)
    assert "card-meter-mismatch" not in rule_ids(right)
    finding = next(f for f in diagnose(wrong).findings if f.rule_id == "card-meter-mismatch")
    assert finding.entry_ids == ["meihua-ic.04"]
    assert "example-card-layout" in rule_ids(right)  # the example layout is always flagged


def test_tool_card_says_what_it_will_do() -> None:
    state = DeviceState(
        device="meihua-ic",
        card_read=True,
        card_layout="ours",
        card_kind="tool",
        tool_card_id="meihua-residential.init",
    )
    (finding,) = diagnose(state).findings
    assert finding.card_ids == ["meihua-residential.init"]
    assert "初始化卡" in finding.title.zh
    assert "换表补气卡" in finding.explanation.zh


def test_unknown_card() -> None:
    card = load_layouts().decode(b"\xff" * 256)
    assert rule_ids(DeviceState.from_readings(card=card)) == ["unknown-card-layout"]


def test_without_device_all_candidates_are_offered() -> None:
    (finding,) = diagnose(DeviceState(valve="closed", low_battery=True)).findings
    assert {"meihua-ic.06", "meihua-mhcg.02", "qianfeng-ic.04"} <= set(finding.entry_ids)


def test_tool_card_names_the_meter_states_it_needs_and_leaves() -> None:
    state = DeviceState(
        device="qianfeng-ic",
        card_read=True,
        card_layout="ours",
        card_kind="tool",
        tool_card_id="qianfeng.recovery-transfer",
    )
    (finding,) = diagnose(state).findings
    assert "Only for a meter in: working state" in finding.explanation.en
    assert "Leaves the meter in: initialised state" in finding.explanation.en
