"""Fidelity to the manual: what the technician reads says where it comes from, in the UI's
language; the manual's typos are explained on screen (原文如此); nothing outside the manual
passes for the manual. Each test fails on the regression named in its docstring."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import BaseModel, ValidationError

from fieldkit.cards.layouts import load_layouts
from fieldkit.cli import cli
from fieldkit.conduct import load_conduct
from fieldkit.devices.profiles import load_profiles
from fieldkit.diagnostics.catalog import load_catalog
from fieldkit.diagnostics.models import FaultEntry
from fieldkit.diagnostics.present import (
    as_written_line,
    clears_codes_text,
    fact_label,
    paragraph_lines,
    source_line,
)
from fieldkit.diagnostics.rules import load_rules
from fieldkit.procedures.library import load_procedures
from fieldkit.textmodel import AsWritten, Source, Text

# Where a repository path or an internal id would leak into what the technician reads.
LEAKS = re.compile(r"research/|\.md\b|\.py\b|\.js\b|\.h\b|§|\bid \d{6,}|file id|github", re.I)
ENGLISH_RUN = re.compile(r"[A-Za-z]+(?:[ ,'-]+[A-Za-z]+){3,}")  # 4+ English words in a row


@pytest.fixture(autouse=True)
def chinese_default() -> Iterator[None]:
    """A CLI call with --lang en switches the process-wide language: switch it back."""
    from fieldkit.i18n import set_language

    set_language("zh")
    yield
    set_language("zh")


@cache
def shipped() -> dict[str, Any]:
    catalog = load_catalog()
    procedures, problems = load_procedures()
    assert not problems
    return {
        "catalog": catalog,
        "procedures": procedures,
        "rules": load_rules(strict=True),
        "layouts": load_layouts(strict=True),
        "profiles": load_profiles(strict=True),
        "conduct": load_conduct(),
    }


def walk(value: Any, path: str = "", depth: int = 0) -> Iterator[tuple[str, Any]]:
    """Every (path, model) in a shipped data structure, depth-limited."""
    if depth > 15:
        return
    if isinstance(value, BaseModel):
        yield path, value
        for name in type(value).model_fields:
            yield from walk(getattr(value, name), f"{path}.{name}", depth + 1)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from walk(item, f"{path}[{i}]", depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, f"{path}[{key}]", depth + 1)


def shipped_models() -> Iterator[tuple[str, Any]]:
    data = shipped()
    yield from walk(data["catalog"].tables, "fault_codes")
    yield from walk(data["catalog"].cards.families(), "tool_cards")
    yield from walk(data["procedures"], "procedures")
    yield from walk(data["rules"].rules, "diagnosis_rules")
    yield from walk(data["layouts"].layouts, "card_layouts")
    yield from walk(data["layouts"].code_tables, "card_layouts")
    yield from walk(data["profiles"].profiles, "meter_profiles")
    yield from walk(data["conduct"], "conduct")


def shipped_sources() -> list[tuple[str, Source]]:
    return [(path, m) for path, m in shipped_models() if isinstance(m, Source)]


def as_written_items() -> list[tuple[str, AsWritten]]:
    return [(path, m) for path, m in shipped_models() if isinstance(m, AsWritten)]


# --- source lines: the UI's language, no repository paths, no internal ids ---------------


def test_every_shipped_data_kind_is_walked() -> None:
    paths = {path.split(".")[0].split("[")[0] for path, _ in shipped_sources()}
    assert paths >= {
        "fault_codes",
        "tool_cards",
        "procedures",
        "diagnosis_rules",
        "card_layouts",
        "meter_profiles",
        "conduct",
    }


def test_every_citation_is_bilingual() -> None:
    """Regression: an English-only citation ("来源：Practice: one gas company's …")."""
    plain = [path for path, s in shipped_sources() if isinstance(s.citation, str)]
    assert plain == []


@pytest.mark.parametrize("language", ["zh", "en"])
def test_source_lines_have_no_paths_or_internal_ids(language: str) -> None:
    """Regression: "research/domain.md §2.1, unattributed id 54688958623" on screen."""
    bad = {}
    for path, source in shipped_sources():
        line = source_line(source, language=language)
        if LEAKS.search(line):
            bad[path] = line
    assert bad == {}


def test_chinese_source_lines_have_no_english_sentences() -> None:
    bad = {}
    for path, source in shipped_sources():
        line = source_line(source, language="zh")
        if ENGLISH_RUN.search(line):
            bad[path] = line
    assert bad == {}


def test_the_exact_reference_is_kept_but_never_shown() -> None:
    tightness = shipped()["procedures"]["ignition"].step("tightness-test")
    source = tightness.source
    assert source is not None and source.reference and "research/domain.md" in source.reference
    for language in ("zh", "en"):
        assert source.reference not in source_line(source, language=language)
    assert source_line(source, language="zh").startswith("来源：行业做法")


def test_no_shipped_text_carries_an_internal_id() -> None:
    """Regression: "(GitHub file id 48145504346)" in an English note."""
    bad = []
    for path, model in shipped_models():
        if isinstance(model, Text) and (LEAKS.search(model.en) or LEAKS.search(model.zh)):
            bad.append((path, model.en))
    assert bad == []


def test_a_fact_a_step_needs_is_named_in_words() -> None:
    """Regression: "前提条件:tightness_passed"."""
    ignition = shipped()["procedures"]["ignition"]
    assert fact_label("tightness_passed", [ignition], "zh") == "点火前严密性试验合格"
    assert fact_label("tightness_passed", [ignition], "en") == "Pre-ignition tightness test passed"


def test_a_plain_string_citation_is_still_read_and_shown_as_written() -> None:
    source = Source(kind="utility", citation="本公司2024年补充规定")
    assert "本公司2024年补充规定" in source_line(source, language="en")


# --- the ignition intro, the handover fields, the alarm note, the fault card -------------


def test_the_ignition_intro_rule_carries_its_source() -> None:
    """Regression: "未做严密性试验不得通气点火" shown as if the manual's ignition section said so."""
    ignition = shipped()["procedures"]["ignition"]
    rule = ignition.intro[0]
    assert "未做严密性试验不得通气点火" in rule.zh
    assert rule.source is not None
    lines = paragraph_lines(rule, "zh")
    assert lines[0] == rule.zh
    assert lines[-1].startswith("手册：小区通气流程") and "第4条" in lines[-1]
    assert "本身未写此条" in lines[-1]


def test_handover_fields_the_manual_does_not_list_are_the_utilitys() -> None:
    step = shipped()["procedures"]["ignition"].step("handover-data")
    names = {f.name for f in step.fields}
    assert {"meter_no", "seal_nos", "meter_reading", "remaining_gas"} <= names
    for field in step.fields:
        assert field.source is not None and field.source.kind == "utility", field.name
        assert "手册" in source_line(field.source, language="zh")


def test_the_alarm_home_note_not_in_the_manual_is_gone() -> None:
    """Regression: "指示灯熄灭时报警器不起保护作用" shown as the manual's words (it has no
    source: the manual says only 停电或电源部分有故障 / 检查供电系统)."""
    table = shipped()["catalog"].tables["alarm-home"]
    texts = [m.zh for _, m in walk(table) if isinstance(m, Text)]
    assert not any("保护作用" in t for t in texts)
    first = table.entries[0]
    assert first.note is None and first.remedies == []
    assert first.causes[0].remedies[0].zh == "检查供电系统"


def test_the_meihua_fault_card_lists_err1_to_err7_as_the_manual_says() -> None:
    """Regression: the card showing "ERR-1, ERR-3, …" as if that were the manual's list."""
    card = shipped()["catalog"].cards.card("meihua-residential.fault-card")
    assert card.resolves_as_stated == Text(zh="ERR-1到ERR-7", en="ERR-1 to ERR-7")
    assert "ERR-1到ERR-7" in card.purpose.zh
    text = clears_codes_text(card, "zh")
    assert text.startswith("ERR-1到ERR-7（手册原文）")
    assert "ERR-2" not in card.resolves_codes  # no entry for it: never invented
    result = CliRunner().invoke(cli, ["cards", "meihua-residential.fault-card"])
    assert result.exit_code == 0 and "ERR-1到ERR-7（手册原文）" in result.output


def test_resolves_as_stated_must_be_in_the_cards_purpose() -> None:
    card = shipped()["catalog"].cards.card("meihua-residential.fault-card")
    data = card.model_dump()
    data["resolves_as_stated"] = {"zh": "ERR-1到ERR-9", "en": "ERR-1 to ERR-9"}
    with pytest.raises(ValidationError, match="resolves_as_stated"):
        type(card).model_validate(data)


def test_the_stove_meter_battery_typo_is_not_translated_literally() -> None:
    """Regression: 可通气气表液晶显示屏观察 (通气 for 通过) as "a meter that passes gas"."""
    step = shipped()["procedures"]["stove-wont-light"].step("meter-battery")
    assert "可通气气表液晶显示屏观察" in step.text.zh  # the manual as written
    assert "passes gas" not in step.text.en and "display" in step.text.en
    (item,) = step.as_written
    assert item.written == "可通气气表液晶显示屏观察" and item.means == "可通过气表液晶显示屏观察"
    assert as_written_line(item, "zh").startswith("原文如此：“可通气气表液晶显示屏观察”")


# --- the manual's typos: explained where the user can see them ----------------------------

KNOWN_TYPOS = {
    "蜂鸣器向": "蜂鸣器响",
    "断续间": "断续音",
    "备电电": "备电",
    "拨卡": "拔卡",
    "保户": None,  # unclear: explained, no single meaning
    "故障卡卡": "故障卡",
    "润滑油油过高": "润滑油油位过高",
    "同步同": "同步",
    "无须在做": "无须再做",
    "经禾": "经过",
    "严谨": "严禁",
    "同进": "同时",
    "所为": "所有",
    "可通气气表液晶显示屏观察": "可通过气表液晶显示屏观察",
    "清洁净水": "洗洁净水",
}


def test_every_known_typo_is_explained_on_screen() -> None:
    found = {item.written: item.means for _, item in as_written_items()}
    assert {k: found.get(k, "MISSING") for k in KNOWN_TYPOS} == KNOWN_TYPOS


def test_typo_notes_are_not_free_text_any_more() -> None:
    """A "原文如此" note is an as_written item (typed, validated), not a free-text note —
    except in the conduct table, which has its own note field."""
    free = [
        path
        for path, m in shipped_models()
        if isinstance(m, Text) and "原文如此" in m.zh and not path.startswith("conduct")
    ]
    assert free == []


def test_as_written_must_occur_in_the_text_it_explains() -> None:
    entry = shipped()["catalog"].entry("meihua-ic.07")
    data = entry.model_dump(exclude_none=True)
    data["as_written"] = [{"written": "拨卡卡", "means": "拔卡"}]
    with pytest.raises(ValidationError, match="拨卡卡"):
        FaultEntry.model_validate(data)
    with pytest.raises(ValidationError, match="means"):
        AsWritten.model_validate({"written": "拨卡"})


def test_data_check_names_the_file_entry_and_field_of_a_bad_as_written(tmp_path: Any) -> None:
    import shutil

    from fieldkit.paths import shipped_data_dir

    folder = tmp_path / "fault_codes"
    folder.mkdir()
    source = shipped_data_dir() / "fault_codes" / "meihua-ic.yaml"
    text = source.read_text(encoding="utf-8").replace(
        "- written: 故障卡卡", "- written: 故障卡卡卡"
    )
    (folder / "meihua-ic.yaml").write_text(text, encoding="utf-8")
    shutil.copy(shipped_data_dir() / "fault_codes" / "alarm-home.yaml", folder)
    result = CliRunner().invoke(cli, ["data", "check", str(tmp_path), "--lang", "en"])
    assert result.exit_code != 0
    assert "meihua-ic.yaml" in result.output and "meihua-ic.10" in result.output
    assert "故障卡卡卡" in result.output


# --- audit against the manual: what claims to be the manual's words is the manual's ------

MANUAL = Path(__file__).parent / "fixtures" / "manual-gas-part.txt"  # 售后服务维修手册, gas part


@cache
def manual_text() -> str:
    return re.sub(r"\s+", "", MANUAL.read_text(encoding="utf-8"))


def _manual_texts(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every Chinese text the UI presents as the manual's (notes, typo notes, sources and
    names given by this project excluded)."""
    skip = {"note", "as_written", "source", "see_also", "name", "title", "applies_when"}
    if isinstance(value, Text):
        yield path, value.zh
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            if name not in skip:
                yield from _manual_texts(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _manual_texts(item, f"{path}[{i}]")


def test_manual_tables_quote_the_manual_verbatim() -> None:
    """Every symptom, cause, remedy, step and card text of a manual-sourced table occurs in
    the manual as written (typos included); a paraphrase or an addition fails here."""
    catalog = shipped()["catalog"]
    missing = []
    for table in catalog.tables.values():
        if table.source.kind != "manual":
            continue
        for item in [*table.entries, *table.notes]:
            if getattr(item, "source", None) is not None and not item.source.is_manual:
                continue
            for path, zh in _manual_texts(item, item.id):
                if re.sub(r"\s+", "", zh) not in manual_text():
                    missing.append((path, zh))
    for family in catalog.cards.families():
        for card in family.cards:
            for path, zh in _manual_texts(card, card.id):
                if re.sub(r"\s+", "", zh) not in manual_text():
                    missing.append((path, zh))
        for rule in family.rules:
            if re.sub(r"\s+", "", rule.text.zh) not in manual_text():
                missing.append((rule.id, rule.text.zh))
    assert missing == []


def test_card_names_and_codes_are_the_manuals() -> None:
    """Never invent a code or a card: each name, alias and code of a manual table is in it."""
    catalog = shipped()["catalog"]
    text = manual_text().replace("—", "-").replace("--", "-")
    for family in catalog.cards.families():
        for card in family.cards:
            for name in [card.name.zh, *card.aliases, *card.resolves_codes]:
                assert name in text, (card.id, name)
    for table in catalog.tables.values():
        if table.source.kind == "manual":
            for entry in table.entries:
                for code in entry.codes:
                    assert code in text, (entry.id, code)


def test_procedure_texts_are_the_manuals_or_carry_a_source() -> None:
    missing = []
    for proc_id, procedure in shipped()["procedures"].items():
        for step in procedure.steps:
            in_manual = re.sub(r"\s+", "", step.text.zh) in manual_text()
            if not in_manual and (step.source is None or step.source.is_manual):
                missing.append((proc_id, step.id, step.text.zh))
        for paragraph in [*procedure.intro, *procedure.notes]:
            in_manual = re.sub(r"\s+", "", paragraph.zh) in manual_text()
            if not in_manual and paragraph.source is None:
                missing.append((proc_id, "intro/notes", paragraph.zh))
    assert missing == []
