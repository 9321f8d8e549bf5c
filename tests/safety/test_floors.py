"""Safety floors in code: a procedure file that drops or weakens a gate is refused by the
loader and by `fieldkit data check`, unless it carries a signed-off override block."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from fieldkit.cli import cli
from fieldkit.paths import shipped_data_dir
from fieldkit.procedures.library import load_procedures
from fieldkit.procedures.models import Procedure
from fieldkit.safety.floors import check_floors

OVERRIDE = {
    "approved_by": "王工 (技术部)",
    "standard": "本公司企业标准 Q/XX 001-2026 第5条",
    "approved_on": "2026-11-01",
}


def shipped_yaml(name: str) -> dict[str, Any]:
    text = (shipped_data_dir() / "procedures" / f"{name}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def write(folder: Path, data: dict[str, Any]) -> Path:
    path = folder / "procedures" / f"{data['id']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def without_tightness(data: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    data["version"] += 1
    data["steps"] = [s for s in data["steps"] if s["id"] != "tightness-test"]
    for step in data["steps"]:
        step.pop("requires", None)
        if step.get("on_fail", {}).get("retry_from") == "tightness-test":
            del step["on_fail"]["retry_from"]
    return data


def check(folder: Path) -> Any:
    return CliRunner().invoke(cli, ["data", "check", str(folder), "--json"], catch_exceptions=False)


def test_the_shipped_procedures_meet_their_floors() -> None:
    procedures, problems = load_procedures()
    assert problems == []
    for procedure in procedures.values():
        assert check_floors(procedure) == [], procedure.id


def test_data_check_rejects_ignition_without_its_tightness_test(tmp_path: Path) -> None:
    write(tmp_path, without_tightness(shipped_yaml("ignition")))
    result = check(tmp_path)
    assert result.exit_code == 1
    problems = yaml.safe_load(result.stdout)["problems"]
    assert problems and all(p["file"].endswith("ignition.yaml") for p in problems)
    assert any("tightness test" in p["message"] for p in problems)
    assert all("override" in p["message"] for p in problems)  # says how to sign it off


def test_data_check_accepts_it_with_an_override_block(tmp_path: Path) -> None:
    data = without_tightness(shipped_yaml("ignition"))
    data["override"] = OVERRIDE
    write(tmp_path, data)
    result = check(tmp_path)
    assert result.exit_code == 0, result.stdout
    procedures, problems = load_procedures([tmp_path / "procedures"])
    assert problems == []
    procedure = procedures["ignition"]
    assert procedure.override is not None and procedure.override.approved_by == "王工 (技术部)"
    assert procedure.content_hash is not None and len(procedure.content_hash) == 64


@pytest.mark.parametrize(
    ("minutes", "start_kpa", "needle"),
    [(3, 5, "hold"), (15, 4, "start pressure"), (14.9, 5, "hold")],
)
def test_a_weaker_hold_or_start_pressure_is_refused(
    tmp_path: Path, minutes: float, start_kpa: float, needle: str
) -> None:
    data = shipped_yaml("ignition")
    tightness = data["steps"][0]
    tightness["hold"]["minutes"] = minutes
    tightness["pass_rules"][0]["min"] = start_kpa
    write(tmp_path, data)
    _procedures, problems = load_procedures([tmp_path / "procedures"])
    assert any(needle in p.message and p.entry == "step tightness-test" for p in problems)


def test_stronger_values_need_no_override(tmp_path: Path) -> None:
    data = shipped_yaml("ignition")
    data["steps"][0]["hold"]["minutes"] = 30
    data["steps"][0]["pass_rules"][0]["unit"] = "Pa"
    data["steps"][0]["pass_rules"][0]["min"] = 6000
    write(tmp_path, data)
    procedures, problems = load_procedures([tmp_path / "procedures"])
    assert problems == [] and procedures["ignition"].override is None


def test_purge_without_a_refusal_check_is_refused(tmp_path: Path) -> None:
    data = shipped_yaml("indoor-purge")
    data["steps"] = [s for s in data["steps"] if s["id"] != "pipe-clamps"]
    write(tmp_path, data)
    _procedures, problems = load_procedures([tmp_path / "procedures"])
    assert any("pipe-clamps" in p.message for p in problems)


def test_community_without_its_second_leak_check_is_refused(tmp_path: Path) -> None:
    data = shipped_yaml("community-gas-connection")
    data["steps"] = [s for s in data["steps"] if s["id"] != "second-leak-check"]
    write(tmp_path, data)
    _procedures, problems = load_procedures([tmp_path / "procedures"])
    assert any("second-leak-check" in p.message for p in problems)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({**OVERRIDE, "approved_by": "  "}, "override.approved_by"),
        ({k: v for k, v in OVERRIDE.items() if k != "standard"}, "override.standard"),
        ({**OVERRIDE, "approved_on": "yesterday"}, "override.approved_on"),
        ({**OVERRIDE, "approved_on": "1999-12-31"}, "override.approved_on"),
        (
            {**OVERRIDE, "approved_on": (date.today() + timedelta(days=2)).isoformat()},
            "override.approved_on",
        ),
        ({**OVERRIDE, "signed": True}, "override.signed"),
    ],
)
def test_a_bad_override_block_is_named_with_what_to_write(
    tmp_path: Path, override: dict[str, Any], field: str
) -> None:
    data = without_tightness(shipped_yaml("ignition"))
    data["override"] = override
    path = write(tmp_path, data)
    procedures, problems = load_procedures([tmp_path / "procedures"])
    assert "ignition" not in procedures
    assert [p.field for p in problems] == [field]
    assert problems[0].file == path
    assert "approved_by" in problems[0].message and "approved_on" in problems[0].message


def test_a_broken_override_leaves_the_shipped_procedure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, without_tightness(shipped_yaml("ignition")))
    monkeypatch.setenv("FIELDKIT_DATA", str(tmp_path))
    procedures, problems = load_procedures()
    assert problems
    shipped: Procedure = procedures["ignition"]
    assert shipped.steps[0].id == "tightness-test" and shipped.override is None
