"""Ranked symptom search: Chinese, English, pinyin, initials and codes."""

from __future__ import annotations

import functools
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from fieldkit.diagnostics.catalog import Catalog
from fieldkit.diagnostics.search import english_tokens, has_cjk, stem


def hit_ids(catalog: Catalog, query: str, **kw: object) -> list[str]:
    return [h.entry.id for h in catalog.search(query, **kw)]  # type: ignore[arg-type]


def test_chinese_substring_and_negation_folding(fixture_catalog: Catalog) -> None:
    hits = catalog_hits = fixture_catalog.search("不显示")
    ids = [h.entry.id for h in catalog_hits]
    # 流量计液晶屏不显示 (exact) first, then 控制器上电无显示 (不 ~ 无).
    assert ids[:2] == ["flowmeter.02", "meihua-ic.01"]
    assert hits[0].matched_on == "symptom:zh"
    assert hits[0].score > hits[1].score


def test_english(fixture_catalog: Catalog) -> None:
    ids = hit_ids(fixture_catalog, "no display")
    assert set(ids[:2]) == {"flowmeter.02", "meihua-ic.01"}
    assert fixture_catalog.search("no display")[0].matched_on == "symptom:en"


def test_pinyin_initials_and_full_pinyin(fixture_catalog: Catalog) -> None:
    hits = fixture_catalog.search("bxs")
    assert hits[0].entry.id == "flowmeter.02"
    assert hits[0].matched_on == "symptom:initials"
    full = fixture_catalog.search("xianshi")
    assert {"flowmeter.02", "meihua-ic.01"} <= {h.entry.id for h in full}
    assert all(h.matched_on.endswith(":pinyin") for h in full)
    spaced = fixture_catalog.search("bu xian shi")
    assert spaced and spaced[0].entry.id == "flowmeter.02"


def test_pinyin_must_start_on_a_syllable(fixture_catalog: Catalog) -> None:
    # "ianshi" is inside "xianshi" but does not start a syllable.
    assert not any(h.matched_on.endswith(":pinyin") for h in fixture_catalog.search("ianshi"))


def test_pinyin_is_computed_only_when_needed(fixture_catalog: Catalog) -> None:
    index = fixture_catalog.search_index()
    fixture_catalog.search("不显示")
    fixture_catalog.search("no display")
    fixture_catalog.search("ERR-1")
    assert not index.pinyin_ready
    fixture_catalog.search("bxs")
    assert index.pinyin_ready


def test_codes_rank_first(fixture_catalog: Catalog) -> None:
    hits = fixture_catalog.search("err—1")
    assert [h.entry.id for h in hits[:2]] == ["meihua-ic.08", "meihua-mhcg.07"]
    assert hits[0].matched_on == "code"
    assert hit_ids(fixture_catalog, "AL1") == ["sime-boiler.al-01"]


def test_display_words(fixture_catalog: Catalog) -> None:
    ids = hit_ids(fixture_catalog, "关阀 故障")
    assert ids[:2] == ["meihua-mhcg.01", "meihua-mhcg.07"]
    assert "meihua-mhcg.02" not in ids  # 低电、关阀: no 故障
    assert hit_ids(fixture_catalog, "sleep")[0] == "flowmeter.01"


def test_every_word_must_match(fixture_catalog: Catalog) -> None:
    # 美华 narrows 不显示 to the Meihua entry (device field).
    assert hit_ids(fixture_catalog, "美华 不显示") == ["meihua-ic.01"]


def test_device_filter_and_limit(fixture_catalog: Catalog) -> None:
    assert hit_ids(fixture_catalog, "不显示", device="meihua-ic") == ["meihua-ic.01"]
    assert len(fixture_catalog.search("电池", limit=1)) == 1


def test_causes_and_remedies_are_searched_below_symptoms(fixture_catalog: Catalog) -> None:
    hits = fixture_catalog.search("干簧管")
    assert [h.entry.id for h in hits] == ["meihua-ic.08"]
    assert hits[0].matched_on == "cause:zh"
    remedy = fixture_catalog.search("补水")
    assert [h.matched_on for h in remedy] == ["remedy:zh"]


def test_bigram_fallback(fixture_catalog: Catalog) -> None:
    # No exact substring, but most of its character pairs are in 流量计液晶屏不显示.
    assert "flowmeter.02" in hit_ids(fixture_catalog, "液晶屏显示")


def test_nothing_found(fixture_catalog: Catalog) -> None:
    assert fixture_catalog.search("qqqzzz") == []
    assert fixture_catalog.search("   ") == []
    assert fixture_catalog.search("火箭") == []


def test_partial_english_ranks_below_full(fixture_catalog: Catalog) -> None:
    hits = fixture_catalog.search("battery display")
    assert hits, "partial matches are kept"
    full = [h for h in hits if h.entry.id == "meihua-mhcg.02"]  # low battery + display
    assert full and full[0] is hits[0]


def test_helpers() -> None:
    assert has_cjk("液晶") and not has_cjk("lcd")
    assert stem("displays") == "display"
    assert english_tokens("The LCD shows NOTHING") == ["the", "display", "display", "no"]


def test_shipped_tables_answer_the_issue_examples() -> None:
    from fieldkit.diagnostics.catalog import load_catalog_from
    from fieldkit.paths import shipped_data_dir

    catalog = load_catalog_from([shipped_data_dir()])
    symptoms = [h.entry.symptom.zh for h in catalog.search("不显示")]
    assert any("液晶屏不显示" in s for s in symptoms), symptoms
    assert any("控制器上电无显示" in s for s in symptoms), symptoms
    english = [h.entry.symptom.zh for h in catalog.search("no display", limit=5)]
    assert any("控制器上电无显示" in s for s in english), english
    initials = [h.entry.symptom.zh for h in catalog.search("bxs", limit=5)]
    assert any("不显示" in s for s in initials), initials


@functools.lru_cache(maxsize=1)
def _fixture_catalog() -> Catalog:
    # Hypothesis runs many examples per test: load the fixture tables once.
    from fieldkit.diagnostics.catalog import load_catalog_from

    return load_catalog_from([Path(__file__).parent / "fixtures" / "data"])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30), st.integers(1, 5))
def test_any_text_is_a_valid_query(query: str, limit: int) -> None:
    catalog = _fixture_catalog()
    hits = catalog.search(query, limit=limit)
    assert len(hits) <= limit
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    result = catalog.lookup_code(query)
    assert all(query.strip() for _ in result.matches)  # a blank query matches nothing


def test_negation_a_few_characters_before(fixture_catalog: Catalog) -> None:
    from fieldkit.diagnostics.search import SearchIndex

    device = fixture_catalog.table("flowmeter").device
    base = fixture_catalog.entry("flowmeter.02")
    entries = [
        base.model_copy(
            update={
                "id": "flowmeter.a",
                "symptom": base.symptom.model_copy(update={"zh": "液晶显示屏无任何显示"}),
            }
        ),
        base.model_copy(
            update={
                "id": "flowmeter.b",
                "symptom": base.symptom.model_copy(update={"zh": "不认卡、显示假卡或错误卡"}),
            }
        ),
    ]
    index = SearchIndex([(e, device) for e in entries])
    hits = index.search("不显示")
    assert [h.entry.id for h in hits] == ["flowmeter.a"]  # not across the 、


def test_pinyin_covers_what_a_technician_types_not_remedies(fixture_catalog: Catalog) -> None:
    assert fixture_catalog.search("补水")  # a remedy word, found in Chinese
    assert fixture_catalog.search("bushui") == []  # but remedies carry no pinyin
    assert fixture_catalog.search("ganhuangguan")[0].matched_on == "cause:pinyin"
