"""The shipped procedure files and the loader's error reporting."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fieldkit.datafiles import DataFileError
from fieldkit.diagnostics.catalog import load_catalog
from fieldkit.procedures.library import check_see_also, load_procedures, load_procedures_strict
from fieldkit.procedures.models import (
    CaptureStep,
    CheckStep,
    GateKind,
    MeasurementStep,
    Procedure,
    RefusalCondition,
    SignOffStep,
)
from fieldkit.procedures.units import PressureUnit, convert, to_pa
from fieldkit.textmodel import Confidence

SHIPPED = Path(__file__).resolve().parents[2] / "data" / "procedures"


def manual_items(procedure: Procedure) -> set[int]:
    return {s.manual_ref for s in procedure.steps if s.manual_ref is not None}


def test_every_shipped_procedure_loads_without_problems(shipped: dict[str, Procedure]) -> None:
    assert set(shipped) == {
        "community-gas-connection",
        "indoor-purge",
        "ignition",
        "stove-wont-light",
    }


@pytest.mark.parametrize(
    ("proc_id", "section", "items"),
    [
        ("community-gas-connection", "小区通气流程", 4),
        ("indoor-purge", "户内燃气置换放散要求", 8),
        ("ignition", "通气点火操作步骤", 7),
        ("stove-wont-light", "灶具常见打不着火常见故障处理", 5),
    ],
)
def test_manual_step_counts(
    shipped: dict[str, Procedure], proc_id: str, section: str, items: int
) -> None:
    procedure = shipped[proc_id]
    assert procedure.source.section == section
    assert manual_items(procedure) == set(range(1, items + 1))
    # every step is either the manual's or carries its own source
    for step in procedure.steps:
        assert step.manual_ref is not None or step.source is not None, step.id


def test_purge_has_the_four_refusal_conditions(shipped: dict[str, Procedure]) -> None:
    procedure = shipped["indoor-purge"]
    assert len(procedure.steps) == 8
    codes = [
        s.on_fail.refusal_code
        for s in procedure.steps
        if isinstance(s, CheckStep) and s.on_fail and s.on_fail.kind == GateKind.REFUSE
    ]
    assert sorted(codes) == sorted(RefusalCondition)
    refusal_items = {
        s.manual_ref
        for s in procedure.steps
        if isinstance(s, CheckStep) and s.on_fail and s.on_fail.kind == GateKind.REFUSE
    }
    assert refusal_items == {5, 6, 7, 8}


def test_ignition_starts_with_a_sourced_tightness_test(shipped: dict[str, Procedure]) -> None:
    procedure = shipped["ignition"]
    first = procedure.steps[0]
    assert isinstance(first, MeasurementStep)
    assert first.manual_ref is None and first.source is not None
    assert first.establishes == ["tightness_passed"]
    assert set(first.units) == {PressureUnit.PA, PressureUnit.KPA, PressureUnit.MMH2O}
    # values outside the manual carry an external source marked unverified
    assert first.hold is not None and first.hold.source.kind == "external"
    assert first.hold.source.confidence == Confidence.UNVERIFIED
    assert "CJJ 94-2009" in (first.hold.source.citation_text("zh") or "")
    minimum = [r for r in first.pass_rules if r.rule == "min"]
    assert minimum and minimum[0].source is not None
    assert minimum[0].source.confidence == Confidence.UNVERIFIED
    # 7 manual steps after it, every one gated on the tightness test
    assert len(procedure.steps) == 1 + 8  # manual step 7 is a capture and a sign-off
    for step in procedure.steps[1:]:
        assert step.requires == ["tightness_passed"], step.id
    # the manual's note: every step is explained to the customer
    assert any("讲解" in n.zh for n in procedure.notes)
    assert all(s.say_to_customer is not None for s in procedure.steps), "explain every step"
    capture = next(s for s in procedure.steps if isinstance(s, CaptureStep))
    fields = {f.name: f for f in capture.fields}
    assert {"meter_no", "seal_nos", "meter_reading", "remaining_gas"} <= set(fields)
    assert fields["seal_nos"].type == "text_list" and fields["seal_nos"].min_items == 1
    assert isinstance(procedure.steps[-1], SignOffStep)


def test_community_riser_test_holds_15_minutes_from_the_manual(
    shipped: dict[str, Procedure],
) -> None:
    procedure = shipped["community-gas-connection"]
    risers = procedure.step("all-risers-tightness")
    assert isinstance(risers, MeasurementStep)
    assert risers.hold is not None and risers.hold.minutes == 15
    assert risers.hold.source.kind == "manual"
    assert "试验时间15分钟" in risers.text.zh


def test_stove_flow_links_the_low_battery_fault_entries(shipped: dict[str, Procedure]) -> None:
    procedure = shipped["stove-wont-light"]
    battery = procedure.step("meter-battery")
    assert isinstance(battery, CheckStep) and battery.finding is not None
    assert set(battery.finding.see_also) == {"meihua-ic.06", "qianfeng-ic.04"}
    catalog = load_catalog()
    assert check_see_also(shipped, catalog.resolves) == []
    # a dangling reference is reported with its step and field
    problems = check_see_also(shipped, lambda ref: ref != "qianfeng-ic.04")
    assert [(p.entry, p.field) for p in problems] == [("step meter-battery", "finding.see_also[1]")]


def test_importing_procedures_pulls_in_no_ui_or_server() -> None:
    code = (
        "import sys, fieldkit.procedures as p; p.load_procedures(); "
        "print(sorted(m for m in ('textual', 'fastapi', 'sqlalchemy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_manual_text_is_quoted_from_the_manual(shipped: dict[str, Procedure]) -> None:
    excerpt = Path(__file__).parent / "fixtures" / "manual_excerpt.txt"
    flat = excerpt.read_text(encoding="utf-8").replace("\n", "")
    for procedure in shipped.values():
        assert procedure.source.section in flat
        for step in procedure.steps:
            if step.manual_ref is None:
                continue
            quoted = step.text.zh.replace("\n", "").replace(" ", "")
            assert quoted in flat, f"{procedure.id}/{step.id}: text not found in the manual"


def test_units_convert_in_one_place() -> None:
    assert to_pa(1, "mmH2O") == pytest.approx(9.80665)
    assert convert(5, "kPa", "Pa") == 5000
    assert convert(510, "mmH2O", "kPa") == pytest.approx(5.0013915)
    assert math.isclose(convert(convert(3.3, "kPa", "mmH2O"), "mmH2O", "kPa"), 3.3)


# ---------------------------------------------------------------- malformed files


def write(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


GOOD_HEADER = """\
schema: fieldkit.procedure/1
id: test-proc
version: 1
title: {zh: 测试, en: Test}
source: {kind: manual, section: 测试}
"""


def test_a_bad_step_field_names_file_step_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yaml",
        GOOD_HEADER
        + """\
steps:
  - id: ok-step
    kind: instruction
    manual_ref: 1
    title: {zh: 好, en: Good}
    text: {zh: 好, en: Good}
  - id: leak
    kind: check
    manual_ref: 2
    title: {zh: 漏, en: Leak}
    text: {zh: 漏, en: Leak}
    question: {zh: 漏吗?, en: Leak?}
    pass_answer: maybe
    on_fail: {kind: repair_then_retry, reason: {zh: 修, en: Fix}}
""",
    )
    procedures, problems = load_procedures([tmp_path])
    assert procedures == {}
    assert len(problems) == 1
    problem = problems[0]
    assert problem.file == path
    assert problem.entry == "step leak"
    assert problem.field == "pass_answer"
    assert "step leak" in str(problem) and "bad.yaml" in str(problem)


@pytest.mark.parametrize(
    ("step_body", "field", "message"),
    [
        (
            "    kind: check\n    manual_ref: 1\n    question: {zh: 问, en: Q}\n"
            "    pass_answer: 'no'\n    on_fail: {kind: refuse, reason: {zh: 不予通气, en: Refused}}\n",
            "on_fail",
            "refusal_code",
        ),
        ("    kind: teleport\n    manual_ref: 1\n", None, "unknown step kind"),
        ("    kind: instruction\n", None, "manual_ref"),
        (
            "    kind: measurement\n    manual_ref: 1\n    units: [psi]\n"
            "    pass_rules: [{rule: no_drop}]\n"
            "    on_fail: {kind: repair_then_retry, reason: {zh: 修, en: Fix}}\n",
            "units.0",
            "",
        ),
        (
            "    kind: measurement\n    manual_ref: 1\n    units: [kPa]\n"
            "    pass_rules: [{rule: min, min: 5}]\n"
            "    on_fail: {kind: repair_then_retry, reason: {zh: 修, en: Fix}}\n",
            "pass_rules.0",
            "unit",
        ),
        ("    kind: instruction\n    manual_ref: 1\n    colour: red\n", "colour", "unknown field"),
    ],
)
def test_malformed_steps_are_reported(
    tmp_path: Path, step_body: str, field: str | None, message: str
) -> None:
    body = (
        GOOD_HEADER
        + "steps:\n  - id: the-step\n    title: {zh: 步, en: Step}\n    text: {zh: 步, en: Step}\n"
        + step_body
    )
    write(tmp_path, "p.yaml", body)
    procedures, problems = load_procedures([tmp_path])
    assert procedures == {}
    assert problems, "a malformed step must be reported"
    assert all(p.entry == "step the-step" for p in problems), [str(p) for p in problems]
    assert any(message in p.message for p in problems), [str(p) for p in problems]
    if field is not None:
        assert any(p.field == field for p in problems), [str(p) for p in problems]


def test_cross_references_are_checked(tmp_path: Path) -> None:
    write(
        tmp_path,
        "x.yaml",
        GOOD_HEADER
        + """\
steps:
  - id: first
    kind: check
    manual_ref: 1
    title: {zh: 一, en: One}
    text: {zh: 一, en: One}
    question: {zh: 问, en: Q}
    pass_answer: "yes"
    applies_if: {step: later, answer: "no"}
    on_fail: {kind: repair_then_retry, reason: {zh: 修, en: Fix}, retry_from: nowhere}
  - id: later
    kind: instruction
    manual_ref: 2
    requires: [moon_landed]
    title: {zh: 二, en: Two}
    text: {zh: 二, en: Two}
""",
    )
    procedures, problems = load_procedures([tmp_path])
    fields = {(p.entry, p.field) for p in problems}
    assert ("step first", "on_fail.retry_from") in fields
    assert ("step first", "applies_if.step") in fields
    assert procedures == {}


def test_unknown_required_fact_is_reported(tmp_path: Path) -> None:
    write(
        tmp_path,
        "x.yaml",
        GOOD_HEADER
        + """\
steps:
  - id: later
    kind: instruction
    manual_ref: 2
    requires: [moon_landed]
    title: {zh: 二, en: Two}
    text: {zh: 二, en: Two}
""",
    )
    _procedures, problems = load_procedures([tmp_path])
    assert [(p.entry, p.field) for p in problems] == [("step later", "requires[0]")]
    assert "moon_landed" in problems[0].message
    with pytest.raises(DataFileError):
        load_procedures_strict([tmp_path])


def test_yaml_syntax_error_loses_only_that_file(tmp_path: Path) -> None:
    write(tmp_path, "broken.yaml", "schema: [unclosed\n")
    (tmp_path / "ignition.yaml").write_bytes((SHIPPED / "ignition.yaml").read_bytes())
    procedures, problems = load_procedures([tmp_path])
    assert list(procedures) == ["ignition"]
    assert len(problems) == 1 and problems[0].file.name == "broken.yaml"
    assert "line" in problems[0].message


def test_utility_override_replaces_the_shipped_procedure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (SHIPPED / "ignition.yaml").read_text(encoding="utf-8")
    assert "minutes: 15\n" in text
    override = text.replace("version: 1\n", "version: 2\n", 1).replace(
        "minutes: 15\n", "minutes: 30\n", 1
    )
    write(tmp_path / "procedures", "our-ignition.yaml", override)
    monkeypatch.setenv("FIELDKIT_DATA", str(tmp_path))
    procedures, problems = load_procedures()
    assert problems == []
    first = procedures["ignition"].steps[0]
    assert isinstance(first, MeasurementStep) and first.hold is not None
    assert first.hold.minutes == 30 and procedures["ignition"].version == 2


def test_broken_override_keeps_the_shipped_procedure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "procedures", "ignition.yaml", "schema: fieldkit.procedure/1\nid: ignition\n")
    monkeypatch.setenv("FIELDKIT_DATA", str(tmp_path))
    procedures, problems = load_procedures()
    assert procedures["ignition"].version == 1  # the shipped one
    assert problems and all(p.file.parent == tmp_path / "procedures" for p in problems)
