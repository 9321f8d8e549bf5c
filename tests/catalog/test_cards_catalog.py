"""The tool-card reference: families, cards by name, alias, English name and id."""

from __future__ import annotations

import pytest

from fieldkit.cards.catalog import UnknownCard, load_tool_cards
from fieldkit.diagnostics.catalog import Catalog


def card_ids(cards: list) -> list[str]:
    return [c.id for c in cards]


def test_families(fixture_catalog: Catalog) -> None:
    cards = fixture_catalog.cards
    assert [f.family.key for f in cards.families()] == ["meihua-residential", "qianfeng"]
    assert card_ids(cards.family("qianfeng").cards) == [
        "qianfeng.clear",
        "qianfeng.recovery-transfer",
    ]
    with pytest.raises(UnknownCard):
        cards.family("nope")
    with pytest.raises(UnknownCard):
        cards.card("qianfeng.nope")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("回收转移卡", ["qianfeng.recovery-transfer"]),
        ("回收转移", ["qianfeng.recovery-transfer"]),  # without 卡
        ("超级卡", ["meihua-residential.gas-setting"]),  # alias
        ("维修卡", ["meihua-residential.fault-card"]),
        ("gas-setting card", ["meihua-residential.gas-setting"]),  # English name
        ("Gas Setting Card", ["meihua-residential.gas-setting"]),
        ("qianfeng.clear", ["qianfeng.clear"]),  # id
        ("ｑｉａｎｆｅｎｇ.ｃｌｅａｒ", ["qianfeng.clear"]),  # full width
        # Two different cards answer to 清零卡: Meihua's 初始化卡 (alias) and Qianfeng's own.
        ("清零卡", ["meihua-residential.init", "qianfeng.clear"]),
        ("recovery", ["qianfeng.recovery-transfer"]),  # part of the English name
        ("火箭卡", []),
        ("", []),
    ],
)
def test_find(fixture_catalog: Catalog, query: str, expected: list[str]) -> None:
    assert card_ids(fixture_catalog.cards.find(query)) == expected


def test_modes_states_and_family(fixture_catalog: Catalog) -> None:
    cards = fixture_catalog.cards
    card = cards.card("qianfeng.recovery-transfer")
    assert [(m.requires_state, m.result_state) for m in card.modes] == [
        (["working"], "initialised"),
        (["initialised"], "working"),
    ]
    assert cards.family_of(card).key == "qianfeng"
    state = cards.state("qianfeng", "working")
    assert state is not None and state.name.zh == "工作状态"
    assert cards.state("qianfeng", "flying") is None


def test_shipped_cards_answer_the_issue_examples() -> None:
    cards = load_tool_cards(extra_dirs=[])
    assert cards.problems == []
    assert card_ids(cards.find("回收转移卡")) == ["qianfeng.recovery-transfer"]
    assert len(cards.find("清零卡")) >= 2  # Meihua's alias and Qianfeng's card
    assert cards.find("超级卡")
