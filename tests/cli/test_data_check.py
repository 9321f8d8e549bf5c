"""``fieldkit data check``: every kind of data, layered as at run time, in the user's language."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fieldkit import i18n
from fieldkit.cli import cli
from fieldkit.datafiles import DATA_KINDS, DataProblem, check_data
from fieldkit.paths import data_dirs, shipped_data_dir

KINDS = {
    "fault_codes",
    "tool_cards",
    "procedures",
    "conduct",
    "diagnosis_rules",
    "card_layouts",
    "meter_profiles",
}


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A utility's folder: an unmodified copy of the shipped fault tables only."""
    target = tmp_path / "utility"
    shutil.copytree(shipped_data_dir() / "fault_codes", target / "fault_codes")
    return target


def copy_kind(folder: Path, kind: str) -> Path:
    shutil.copytree(shipped_data_dir() / kind, folder / kind)
    return folder / kind


def test_every_kind_is_registered_and_the_shipped_data_is_clean() -> None:
    assert {k.key for k in DATA_KINDS} == KINDS
    result = run("data", "check", "--json")
    data = json.loads(result.stdout)
    assert data["problems"] == []
    assert result.exit_code == 0
    assert set(data["kinds"]) == KINDS
    assert all(data["kinds"][k]["count"] > 0 for k in KINDS), data["kinds"]


def test_a_copy_of_the_shipped_fault_tables_has_no_false_cross_reference_problems(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run("data", "check", str(folder), "--json")
    data = json.loads(result.stdout)
    assert data["problems"] == [], data["problems"]
    assert result.exit_code == 0
    assert len(data["overrides"]) == len(list((folder / "fault_codes").iterdir()))
    # The same folder through FIELDKIT_DATA: the same answer.
    monkeypatch.setenv("FIELDKIT_DATA", str(folder))
    assert json.loads(run("data", "check", "--json").stdout)["problems"] == []


def test_a_real_dangling_reference_is_still_reported(folder: Path) -> None:
    path = folder / "fault_codes" / "qianfeng-ic.yaml"
    text = path.read_text(encoding="utf-8")
    assert "see_also: [qianfeng.query]" in text
    path.write_text(text.replace("see_also: [qianfeng.query]", "see_also: [qianfeng.nope]"))
    result = run("data", "check", str(folder), "--lang", "en")
    assert result.exit_code == 1
    assert "see_also qianfeng.nope is not an entry, note or tool card" in result.stdout
    assert "entry qianfeng-ic.02" in result.stdout


def test_problems_in_chinese_name_file_entry_and_field(folder: Path) -> None:
    path = folder / "fault_codes" / "alarm-home.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("severity: danger", "severity: bad", 1), encoding="utf-8")
    (folder / "fault_codes" / "broken.yaml").write_text("schema: [\n", encoding="utf-8")
    result = run("data", "check", str(folder), "--lang", "zh")
    assert result.exit_code == 1
    out = result.stdout
    line = next(x for x in out.splitlines() if "alarm-home.yaml" in x and "severity" in x)
    assert "条目 alarm-home." in line and "字段 entries[" in line
    assert "只能是以下之一：info, warning, danger" in line
    broken = next(x for x in out.splitlines() if "broken.yaml" in x)
    assert "YAML 语法错误" in broken and "第 2 行" in broken
    # the dropped entry's referrers are reported too (as they would be at run time)
    assert "see_also alarm-home." in out
    assert "数据检查：" in out
    for leak in ("Input should", "instance of", "errors.pydantic.dev", "Override:", "checked"):
        assert leak not in out


def test_a_text_given_as_a_string_is_explained_not_in_pydantics_words(folder: Path) -> None:
    path = folder / "fault_codes" / "alarm-home.yaml"
    text = path.read_text(encoding="utf-8")
    original = (
        "    symptom:\n      zh: 绿色指示灯熄灭\n      en: The green indicator light is off\n"
    )
    assert original in text
    path.write_text(text.replace(original, "    symptom: 绿色指示灯熄灭\n"), encoding="utf-8")
    zh = run("data", "check", str(folder), "--lang", "zh").stdout
    assert "必须是由字段组成的键值对" in zh
    en = run("data", "check", str(folder), "--lang", "en").stdout
    assert "must be a mapping of fields (key: value lines)" in en
    assert "instance of" not in zh + en


@pytest.mark.parametrize(
    ("kind", "file", "old", "new"),
    [
        ("diagnosis_rules", "meter-state.yaml", "severity: warning", "severity: loud"),
        ("card_layouts", "example-4442-user.yaml", "schema: fieldkit.card_layout/1", "schema: x"),
        ("meter_profiles", "cjt188-2004.yaml", "id: ", "idd: "),
        ("procedures", "ignition.yaml", "kind: check", "kind: chek"),
    ],
)
def test_every_kind_reports_its_own_problems(
    folder: Path, kind: str, file: str, old: str, new: str
) -> None:
    path = copy_kind(folder, kind) / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    data = json.loads(run("data", "check", str(folder), "--json").stdout)
    kinds = {p["kind"] for p in data["problems"]}
    assert kinds == {kind}, data["problems"]
    assert all(p["file"].endswith(file) for p in data["problems"])
    assert data["kinds"][kind]["problems"] >= 1


def test_conduct_problems(folder: Path) -> None:
    path = copy_kind(folder, "conduct") / "service_conduct.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("kind: forbidden_phrases", "kind: taboo", 1), encoding="utf-8")
    result = run("data", "check", str(folder), "--json")
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    assert len(problems) == 1
    assert problems[0]["kind"] == "conduct"
    assert problems[0]["field"].endswith(".kind")


def test_diagnose_keeps_the_problems_of_the_rule_files(folder: Path) -> None:
    from fieldkit.diagnostics.rules import DeviceState, diagnose, load_rules

    path = copy_kind(folder, "diagnosis_rules") / "meter-state.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("check: ", "chek: ", 1))
    rules = load_rules(data_dirs([folder]))
    diagnosis = diagnose(DeviceState(), rules)
    assert diagnosis.problems == rules.problems
    assert len(diagnosis.problems) >= 1
    assert diagnosis.to_dict()["problems"]


def test_check_data_api_and_problem_wording() -> None:
    reports = check_data([shipped_data_dir()])
    assert [r.kind.key for r in reports] == [k.key for k in DATA_KINDS]
    problem = DataProblem.of(
        Path("x.yaml"),
        "see_also {ref} is not an entry, note or tool card",
        entry="a.1",
        field="see_also[0]",
        ref="b.2",
    )
    i18n.set_language("zh")
    try:
        assert (
            problem.describe()
            == "x.yaml, 条目 a.1, 字段 see_also[0]：see_also b.2 不是条目、说明或工具卡"
        )
    finally:
        i18n.set_language("zh")
    assert (
        str(problem)
        == "x.yaml [entry a.1] field 'see_also[0]': see_also b.2 is not an entry, note or tool card"
    )


def test_a_procedure_below_the_safety_floor_is_explained_in_chinese(folder: Path) -> None:
    """The floor breach (and a dangling retry_from) was English in the Chinese data check."""
    import yaml

    from tests.test_one_language import english_sentences

    path = shipped_data_dir() / "procedures" / "ignition.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["version"] += 1
    data["steps"] = [s for s in data["steps"] if s["id"] != "tightness-test"]
    for step in data["steps"]:
        step.pop("requires", None)
    (folder / "procedures").mkdir(parents=True, exist_ok=True)
    target = folder / "procedures" / "ignition.yaml"
    target.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    first = run("data", "check", str(folder))  # leak-recheck still retries from the test
    assert first.exit_code == 1 and "前面没有可重试的步骤 'tightness-test'" in first.output
    for step in data["steps"]:
        if step.get("on_fail", {}).get("retry_from") == "tightness-test":
            del step["on_fail"]["retry_from"]
    target.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = run("data", "check", str(folder))
    assert result.exit_code == 1
    assert "低于安全底线：缺少严密性试验" in result.output and "override" in result.output
    problems = [line for line in result.output.splitlines() if "ignition.yaml" in line]
    assert problems and all(english_sentences(line) == [] for line in problems), problems
