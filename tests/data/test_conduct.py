"""The service conduct file: shipped content, overrides, and clear errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fieldkit.conduct import ConductSection, conduct_file, load_conduct
from fieldkit.datafiles import DataFileError
from fieldkit.paths import shipped_data_dir

SHIPPED = shipped_data_dir() / "conduct" / "service_conduct.yaml"

EXPECTED_SIZES = {
    "service-philosophy": 1,
    "service-goal": 1,
    "two-uniforms": 2,
    "six-musts": 6,
    "six-never-lets": 6,
    "nine-prohibitions": 9,
    "five-ones": 5,
    "emergency-repair-four": 4,
    "civil-after-sales": 10,
    "courteous-phrases": 8,
    "forbidden-phrases": 7,
}


def write_override(folder: Path, data: object) -> Path:
    target = folder / "conduct" / "service_conduct.yaml"
    target.parent.mkdir(parents=True)
    text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True)
    target.write_text(text, encoding="utf-8")
    return target


def shipped_data() -> dict:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def test_shipped_sections_in_manual_order_with_manual_sizes() -> None:
    conduct = load_conduct()
    assert {s.id: len(s.items) for s in conduct.sections} == EXPECTED_SIZES
    assert [s.id for s in conduct.sections] == list(EXPECTED_SIZES)


def test_section_titles_are_the_manuals_headings() -> None:
    conduct = load_conduct()
    titles = {s.id: s.title.zh for s in conduct.sections}
    assert titles["nine-prohibitions"] == "九不准"
    assert titles["five-ones"] == "五个一"
    assert titles["civil-after-sales"] == "文明售后"
    assert titles["forbidden-phrases"] == "文明服务忌语"


def test_five_ones_are_gloves_greeting_safety_talk_goodbye_follow_up_call() -> None:
    items = [t.zh for t in load_conduct().section("five-ones").items]
    assert items == [
        "戴上一副手套",
        "敲门一声问好",
        "做好一次安全宣传",
        "道别一声再见",
        "事后打一个回访电话",
    ]


def test_forbidden_phrases_are_marked_never_to_be_said() -> None:
    conduct = load_conduct()
    (forbidden,) = conduct.of_kind("forbidden_phrases")
    assert forbidden.id == "forbidden-phrases"
    assert forbidden.items[0].zh == "不知道,别问我,你问我,我问谁;"
    assert conduct.section("courteous-phrases").kind == "phrases"


def test_typo_in_rule_10_is_kept_and_explained() -> None:
    section = load_conduct().section("civil-after-sales")
    assert "遗勿" in section.items[9].zh
    assert section.note is not None and "遗误" in section.note.zh


def test_every_section_has_a_manual_source() -> None:
    conduct = load_conduct()
    for section in conduct.sections:
        source = conduct.source_of(section)
        assert source.kind == "manual" and source.section and source.page, section.id


def test_unknown_section_id_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="five-ones"):
        load_conduct().section("no-such-section")


def test_fieldkit_data_overrides_the_shipped_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = shipped_data()
    data["sections"][0]["items"][0]["en"] = "Our own motto"
    target = write_override(tmp_path, data)
    monkeypatch.setenv("FIELDKIT_DATA", str(tmp_path))
    assert conduct_file() == target
    assert load_conduct().section("service-philosophy").items[0].en == "Our own motto"


def test_explicit_extra_dirs_win_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_dir, given_dir = tmp_path / "env", tmp_path / "given"
    data = shipped_data()
    data["sections"][1]["items"][0]["en"] = "from env"
    write_override(env_dir, data)
    data["sections"][1]["items"][0]["en"] = "from argument"
    write_override(given_dir, data)
    monkeypatch.setenv("FIELDKIT_DATA", str(env_dir))
    assert load_conduct([given_dir]).section("service-goal").items[0].en == "from argument"
    assert load_conduct().section("service-goal").items[0].en == "from env"


def test_folder_without_a_conduct_file_keeps_the_shipped_one(tmp_path: Path) -> None:
    assert conduct_file([tmp_path]) == SHIPPED
    assert len(load_conduct([tmp_path]).sections) == len(EXPECTED_SIZES)


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    target = write_override(tmp_path, "schema: fieldkit.service_conduct/1\nsections: [\n")
    with pytest.raises(DataFileError) as info:
        load_conduct([tmp_path])
    (problem,) = info.value.problems
    assert problem.file == target
    assert "line" in problem.message


def test_bad_section_names_file_section_id_and_field(tmp_path: Path) -> None:
    data = shipped_data()
    data["sections"][3]["kind"] = "slogan"
    del data["sections"][5]["items"][2]["en"]
    target = write_override(tmp_path, data)
    with pytest.raises(DataFileError) as info:
        load_conduct([tmp_path])
    found = {(p.file, p.entry, p.field) for p in info.value.problems}
    assert (target, "six-musts", "sections[3].kind") in found
    assert (target, "nine-prohibitions", "sections[5].items.2.en") in found
    assert str(target) in str(info.value)


def test_duplicate_ids_unknown_fields_and_bad_schema_are_all_reported(tmp_path: Path) -> None:
    data = shipped_data()
    data["schema"] = "fieldkit.service_conduct/9"
    data["extra"] = 1
    data["sections"][1]["id"] = data["sections"][0]["id"]
    data["sections"][2]["colour"] = "red"
    write_override(tmp_path, data)
    with pytest.raises(DataFileError) as info:
        load_conduct([tmp_path])
    problems = info.value.problems
    assert any(p.field == "schema" for p in problems)
    assert any(p.field == "extra" for p in problems)
    assert any(p.entry == "service-philosophy" and "twice" in p.message for p in problems)
    assert any(p.entry == "two-uniforms" and p.field == "sections[2].colour" for p in problems)


def test_empty_section_is_rejected(tmp_path: Path) -> None:
    data = shipped_data()
    data["sections"][0]["items"] = []
    write_override(tmp_path, data)
    with pytest.raises(DataFileError, match="service-philosophy"):
        load_conduct([tmp_path])


def test_file_that_is_not_a_mapping_is_rejected(tmp_path: Path) -> None:
    write_override(tmp_path, "- just\n- a list\n")
    with pytest.raises(DataFileError, match="mapping"):
        load_conduct([tmp_path])


def test_shipped_file_parses_with_the_model_directly() -> None:
    sections = [ConductSection.model_validate(s) for s in shipped_data()["sections"]]
    assert sum(len(s.items) for s in sections) == sum(EXPECTED_SIZES.values())
