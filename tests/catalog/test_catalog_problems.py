"""Malformed data files: one clear problem per issue (file, entry id, field); the rest loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldkit.datafiles import DataProblem
from fieldkit.diagnostics.catalog import Catalog, load_catalog_from


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def only_problem(catalog: Catalog) -> DataProblem:
    assert len(catalog.problems) == 1, [str(p) for p in catalog.problems]
    return catalog.problems[0]


def assert_names(problem: DataProblem, file: str, entry: str | None, field: str | None) -> None:
    text = str(problem)
    assert problem.file.name == file and file in text
    if entry is not None:
        assert problem.entry == entry and entry in text
    if field is not None:
        assert problem.field is not None and field in problem.field and field in text


def assert_others_load(catalog: Catalog, *expected_devices: str) -> None:
    for key in expected_devices:
        assert catalog.table(key).entries, key
    assert catalog.lookup_code("AL 01").found  # SIME table untouched
    assert catalog.cards.find("回收转移卡")


def test_yaml_syntax_error_names_the_line(data_copy: Path) -> None:
    path = data_copy / "fault_codes" / "flowmeter.yaml"
    edit(path, "  - id: flowmeter.02\n", "  - id: flowmeter.02\n    symptom: {zh: [unclosed\n")
    catalog = load_catalog_from([data_copy])
    problem = only_problem(catalog)
    assert_names(problem, "flowmeter.yaml", None, None)
    assert "YAML syntax error" in problem.message
    broken_line = path.read_text(encoding="utf-8").splitlines().index("    symptom: {zh: [unclosed")
    line = int(problem.message.split("line ")[1].split(",")[0])
    assert broken_line <= line <= broken_line + 3  # at the broken symptom, not the top
    assert "flowmeter" not in catalog.device_keys()
    assert_others_load(catalog, "meihua-ic", "meihua-mhcg", "alarm-home")


def test_unknown_field(data_copy: Path) -> None:
    edit(
        data_copy / "fault_codes" / "meihua-ic.yaml",
        "    codes: [ERR--3, ERR—4]\n",
        "    codes: [ERR--3, ERR—4]\n    remedy_txt: typo\n",
    )
    catalog = load_catalog_from([data_copy])
    problem = only_problem(catalog)
    assert_names(problem, "meihua-ic.yaml", "meihua-ic.09", "remedy_txt")
    assert "unknown field" in problem.message
    # Only that entry is lost; its table and the other devices still load.
    assert [e.id for e in catalog.table("meihua-ic").entries] == ["meihua-ic.01", "meihua-ic.08"]
    assert not catalog.lookup_code("ERR-3").found
    assert catalog.lookup_code("ERR-1").found
    assert_others_load(catalog, "meihua-mhcg", "flowmeter", "alarm-home")


def test_missing_field(data_copy: Path) -> None:
    edit(
        data_copy / "fault_codes" / "meihua-mhcg.yaml",
        '    symptom: {zh: "液晶显示低电、关阀字样，无法使用。", '
        'en: "The display shows 低电 (low battery) and 关阀 (valve closed)"}\n',
        "",
    )
    catalog = load_catalog_from([data_copy])
    problem = only_problem(catalog)
    assert_names(problem, "meihua-mhcg.yaml", "meihua-mhcg.02", "symptom")
    assert "missing" in problem.message
    assert len(catalog.table("meihua-mhcg").entries) == 2
    assert_others_load(catalog, "meihua-ic", "flowmeter", "alarm-home")


def test_bad_severity(data_copy: Path) -> None:
    edit(
        data_copy / "fault_codes" / "alarm-home.yaml",
        "severity: danger",
        "severity: catastrophic",
    )
    catalog = load_catalog_from([data_copy])
    problem = only_problem(catalog)
    assert_names(problem, "alarm-home.yaml", "alarm-home.03", "severity")
    assert "danger" in problem.message  # pydantic lists the allowed values
    assert_others_load(catalog, "meihua-ic", "meihua-mhcg", "flowmeter")


def test_danger_without_emergency(data_copy: Path) -> None:
    path = data_copy / "fault_codes" / "alarm-home.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("    emergency:")
    end = text.index("    causes:")
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    catalog = load_catalog_from([data_copy])
    problem = only_problem(catalog)
    assert_names(problem, "alarm-home.yaml", "alarm-home.03", "emergency")
    assert "emergency" in problem.message
    assert_others_load(catalog, "meihua-ic", "meihua-mhcg", "flowmeter")


def test_duplicate_id_in_another_table(data_copy: Path) -> None:
    # A second table claiming an entry id of meihua-ic (with a matching device key).
    text = (data_copy / "fault_codes" / "meihua-ic.yaml").read_text(encoding="utf-8")
    (data_copy / "fault_codes" / "zz-copy.yaml").write_text(
        text.replace("key: meihua-ic", "key: meihua-ic-copy", 1).replace(
            "  - id: meihua-ic.01", "  - id: meihua-ic-copy.01", 1
        ),
        encoding="utf-8",
    )
    catalog = load_catalog_from([data_copy])
    # The copied entries meihua-ic.08/09 have the wrong prefix for meihua-ic-copy.
    for problem in catalog.problems:
        assert problem.file.name == "zz-copy.yaml"
        assert problem.entry in {"meihua-ic.08", "meihua-ic.09"}
        assert problem.field is not None and problem.field.endswith(".id")
    assert len(catalog.problems) == 2
    assert [e.id for e in catalog.table("meihua-ic-copy").entries] == ["meihua-ic-copy.01"]


def test_duplicate_id_within_a_table(data_copy: Path) -> None:
    edit(
        data_copy / "fault_codes" / "meihua-ic.yaml", "  - id: meihua-ic.09", "  - id: meihua-ic.08"
    )
    catalog = load_catalog_from([data_copy])
    problem = only_problem(catalog)
    assert_names(problem, "meihua-ic.yaml", "meihua-ic.08", "id")
    assert "duplicate" in problem.message
    # The first keeps its place; the second is dropped, and nothing else.
    assert catalog.entry("meihua-ic.08").codes == ["ERR-1"]
    assert [e.id for e in catalog.table("meihua-ic").entries] == ["meihua-ic.01", "meihua-ic.08"]
    assert_others_load(catalog, "meihua-mhcg", "flowmeter", "alarm-home")


def test_broken_see_also(data_copy: Path) -> None:
    edit(
        data_copy / "fault_codes" / "meihua-mhcg.yaml",
        "    see_also: [meihua-ic.08]",
        "    see_also: [meihua-ic.80]",
    )
    catalog = load_catalog_from([data_copy])
    problem = only_problem(catalog)
    assert_names(problem, "meihua-mhcg.yaml", "meihua-mhcg.07", "see_also")
    assert "meihua-ic.80" in problem.message
    # A broken reference is reported but the entry stays usable.
    assert catalog.lookup_code("ERR-1", device="meihua-mhcg").found


def test_entry_id_with_another_devices_prefix(data_copy: Path) -> None:
    edit(
        data_copy / "fault_codes" / "flowmeter.yaml", "  - id: flowmeter.02", "  - id: meihua-ic.02"
    )
    catalog = load_catalog_from([data_copy])
    problem = only_problem(catalog)
    assert_names(problem, "flowmeter.yaml", "meihua-ic.02", "entries[1].id")
    assert [e.id for e in catalog.table("flowmeter").entries] == ["flowmeter.01"]


def test_broken_header_skips_only_that_file(data_copy: Path) -> None:
    edit(data_copy / "fault_codes" / "sime-boiler.yaml", "  confidence: S\n", "")
    catalog = load_catalog_from([data_copy])
    problem = only_problem(catalog)
    assert_names(problem, "sime-boiler.yaml", None, "source")
    assert "confidence" in problem.message
    assert "sime-boiler" not in catalog.device_keys()
    assert catalog.lookup_code("ERR-1").found


def test_not_a_mapping_and_not_utf8(data_copy: Path) -> None:
    (data_copy / "fault_codes" / "list.yaml").write_text("- just\n- a list\n", encoding="utf-8")
    (data_copy / "fault_codes" / "gbk.yaml").write_bytes("设备: 美华".encode("gbk"))
    catalog = load_catalog_from([data_copy])
    files = sorted(p.file.name for p in catalog.problems)
    assert files == ["gbk.yaml", "list.yaml"]
    assert any("UTF-8" in p.message for p in catalog.problems)
    assert len(catalog.device_keys()) == 5


def test_bad_card_state_costs_only_that_card(data_copy: Path) -> None:
    edit(
        data_copy / "tool_cards" / "qianfeng.yaml",
        "        requires_state: [initialised]",
        "        requires_state: [initialized]",
    )
    catalog = load_catalog_from([data_copy])
    problem = only_problem(catalog)
    assert_names(
        problem, "qianfeng.yaml", "qianfeng.recovery-transfer", "cards[1].modes[1].requires_state"
    )
    assert "initialized" in problem.message
    assert [c.id for c in catalog.cards.family("qianfeng").cards] == ["qianfeng.clear"]
    assert catalog.cards.find("清零卡")


def test_card_with_unknown_field(data_copy: Path) -> None:
    edit(
        data_copy / "tool_cards" / "meihua-residential.yaml",
        "    reusable: true",
        "    reuseable: true",
    )
    catalog = load_catalog_from([data_copy])
    problem = only_problem(catalog)
    assert_names(problem, "meihua-residential.yaml", "meihua-residential.gas-setting", "reuseable")


@pytest.mark.parametrize("name", ["meihua-ic.yaml", "qianfeng.yaml"])
def test_two_files_with_one_key_in_one_folder(data_copy: Path, name: str) -> None:
    sub = "fault_codes" if name.startswith("meihua") else "tool_cards"
    source = data_copy / sub / name
    (data_copy / sub / ("zz-" + name)).write_text(
        source.read_text(encoding="utf-8"), encoding="utf-8"
    )
    catalog = load_catalog_from([data_copy])
    problem = only_problem(catalog)
    assert problem.file.name == "zz-" + name
    assert "already defined" in problem.message


def test_broken_rule_reference(data_copy: Path) -> None:
    edit(
        data_copy / "tool_cards" / "meihua-residential.yaml",
        "  - id: card-type\n",
        "  - id: card-type\n    see_also: [meihua-ic.404]\n",
    )
    catalog = load_catalog_from([data_copy])
    problem = only_problem(catalog)
    assert_names(
        problem, "meihua-residential.yaml", "meihua-residential.card-type", "rules[0].see_also"
    )


def test_broken_card_reference(data_copy: Path) -> None:
    edit(
        data_copy / "tool_cards" / "qianfeng.yaml",
        "    number: 6\n",
        "    number: 6\n    see_also: [qianfeng.clear, qianfeng.no-such-card]\n",
    )
    catalog = load_catalog_from([data_copy])
    problem = only_problem(catalog)
    assert_names(problem, "qianfeng.yaml", "qianfeng.recovery-transfer", "cards[1].see_also[1]")
    assert "qianfeng.no-such-card" in problem.message
    assert catalog.cards.find("回收转移卡")  # the card stays usable


YAML_MISTAKES = [  # (text a supervisor might save, line, what the Chinese message must say)
    ("name: 关阀: 低电\n", 1, "这里不能出现“键: 值”"),
    ("entries:\n\t- id: x\n", 2, "缩进只能用空格"),
    ("name: '关阀\n", 2, "缺少后引号"),
    ("codes: [ERR-1, ERR-2\n", 2, "括号没有闭合"),
    ("entries:\n  a: 1\n b: 2\n", 3, "请检查缩进"),
    ('zh: "关阀" 低电\n', 1, "后引号之后是否还有文字"),
    ("note: *见说明\n", 1, "开头的文字必须放进引号"),
    ("note: @现场\n", 1, "开头的文字必须放进引号"),
]


@pytest.mark.parametrize("parser", ["libyaml", "pure-python"])
@pytest.mark.parametrize(("text", "line", "hint"), YAML_MISTAKES)
def test_a_yaml_mistake_is_explained_in_chinese(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, line: int, hint: str, parser: str
) -> None:
    """Both parsers word their errors differently (a laptop without libyaml uses PyYAML's)."""
    import yaml

    from fieldkit import datafiles
    from fieldkit.datafiles import read_yaml
    from fieldkit.i18n import set_language

    if parser == "pure-python":
        monkeypatch.setattr(datafiles, "_Loader", yaml.SafeLoader)
    else:
        assert datafiles._Loader is yaml.CSafeLoader  # libyaml is installed here

    path = tmp_path / "table.yaml"
    path.write_text(text, encoding="utf-8")
    data, (problem,) = read_yaml(path)
    assert data is None
    set_language("zh")
    said = problem.text()
    assert said.startswith(f"YAML 语法错误，第 {line} 行"), said
    assert hint in said, said
    set_language("en")
    assert "YAML syntax error" in problem.text() and hint not in problem.text()
