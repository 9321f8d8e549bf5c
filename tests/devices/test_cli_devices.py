"""The CLI shells: meter read/scan/valve, card read, emulate — against pty emulators."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fieldkit.cli import cli
from fieldkit.devices.cjt188 import ValveState
from fieldkit.devices.emulator import (
    MeterState,
    example_user_card,
    start_card_emulator,
    start_meter_emulator,
)


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--lang", "en"], input=input)
    return result.exit_code, result.output


def test_meter_read_probes_and_diagnoses() -> None:
    state = MeterState(valve=ValveState.CLOSED, low_battery=True, current=77.5)
    with start_meter_emulator("cjt188-2018", state, baudrate=4800, pace=False) as h:
        code, out = run("meter", "read", "--port", h.port_path, "--raw", "--device", "meihua-mhcg")
    assert code == 0, out
    assert "77.50 m³" in out and "LOW" in out and "closed" in out
    assert "meihua-mhcg.02" in out
    assert ">> FE FE FE FE 68 AA" in out  # raw frames, probe included


def test_meter_read_in_chinese_lines_up_and_translates_the_severity() -> None:
    from fieldkit.cli.lookup import cell_width

    state = MeterState(valve=ValveState.CLOSED, low_battery=True)
    with start_meter_emulator("cjt188-2004", state, pace=False) as h:
        result = CliRunner().invoke(
            cli, ["meter", "read", "--port", h.port_path, "--device", "meihua-ic", "--lang", "zh"]
        )
    assert result.exit_code == 0, result.output
    head = result.output.split("\n\n")[0].splitlines()
    assert len(head) >= 6 and head[0].startswith("表地址")
    # every value starts at the same terminal column, Chinese labels counted 2 per character
    starts = {cell_width(line[: line.index("  ")].rstrip()) + 2 for line in head}
    columns = {cell_width(line) - cell_width(line.split("  ")[-1].lstrip()) for line in head}
    assert len(columns) == 1, head
    assert max(starts) <= columns.pop()
    assert "[注意] 低电关阀" in result.output
    assert "[warning]" not in result.output


def test_meter_read_json() -> None:
    with start_meter_emulator("cjt188-2004", pace=False) as h:
        code, out = run(
            "meter", "read", "--port", h.port_path, "--profile", "cjt188-2004", "--json"
        )
    assert code == 0, out
    data = json.loads(out)
    assert data["address"] == "30000000123456" and data["valve"] == "open"
    assert data["diagnosis"] == {"findings": [], "problems": []}
    assert len(data["frames"]) == 2


BROKEN_RULES = """\
schema: fieldkit.diagnosis_rules/1
rules:
  - id: our-own-rule
    check: low_battery
    severity: shouty
    title: {zh: 我们的规则, en: Our rule}
    explanation: {zh: 说明, en: explanation}
    source: {kind: utility, note: {zh: 公司内部, en: in-house}}
"""


def _broken_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A utility's rule file with a bad severity, next to the shipped rules."""
    (tmp_path / "diagnosis_rules").mkdir()
    (tmp_path / "diagnosis_rules" / "ours.yaml").write_text(BROKEN_RULES, encoding="utf-8")
    monkeypatch.setenv("FIELDKIT_DATA", str(tmp_path))


@pytest.mark.parametrize(
    ("lang", "heading"),
    [("en", "Problems in the diagnosis rules"), ("zh", "诊断规则文件有问题")],
)
def test_meter_read_prints_the_problems_of_the_rule_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lang: str, heading: str
) -> None:
    _broken_rules(tmp_path, monkeypatch)
    state = MeterState(valve=ValveState.CLOSED, low_battery=True)
    with start_meter_emulator("cjt188-2004", state, pace=False) as h:
        result = CliRunner().invoke(
            cli, ["meter", "read", "--port", h.port_path, "--device", "meihua-ic", "--lang", lang]
        )
    out = result.output
    assert result.exit_code == 0, out
    assert heading in out, out
    flat = " ".join(out.split())  # the problem line may be wrapped
    problem = flat[flat.index("ours.yaml") :]
    assert "our-own-rule" in problem[:200] and "severity" in problem[:200], problem
    # the shipped rules still apply: the low-battery finding is there too
    assert ("低电关阀" if lang == "zh" else "Valve closed because the battery is low") in out
    if lang == "zh":
        from tests.test_one_language import english_sentences

        # the allowed values are words typed in the YAML file, not a sentence
        assert english_sentences(out.replace("info, warning, danger", "")) == [], out


def test_meter_read_json_includes_the_problems_of_the_rule_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _broken_rules(tmp_path, monkeypatch)
    with start_meter_emulator("cjt188-2004", pace=False) as h:
        code, out = run("meter", "read", "--port", h.port_path, "--json")
    assert code == 0, out
    (problem,) = json.loads(out)["diagnosis"]["problems"]
    assert Path(problem["file"]).name == "ours.yaml"
    assert problem["entry"] == "our-own-rule" and problem["field"] == "rules[0].severity"
    assert problem["message"] and problem["text"]


def test_meter_scan() -> None:
    with start_meter_emulator("cjt188-2004", baudrate=9600, pace=False) as h:
        code, out = run("meter", "scan", "--port", h.port_path)
    assert code == 0, out
    assert "30000000123456" in out and "9600" in out and "cjt188-2004" in out


def test_meter_read_unplugged_is_one_clear_line() -> None:
    code, out = run(
        "meter", "read", "--port", "/dev/ttyUSB-fieldkit-missing", "--profile", "cjt188-2004"
    )
    assert code == 1
    assert "was not found" in out and "Traceback" not in out


def test_valve_write_asks_and_refusal_sends_nothing() -> None:
    state = MeterState()
    with start_meter_emulator("cjt188-2004", state, pace=False) as h:
        args = (
            "meter",
            "valve",
            "close",
            "--port",
            h.port_path,
            "--address",
            state.address,
            "--profile",
            "cjt188-2004",
        )
        code, out = run(*args, input="n\n")
        assert code == 2 and state.valve is ValveState.OPEN
        assert h.emulator.received == b""
        code, out = run(*args, input="y\n")
        assert code == 0, out
        assert state.valve is ValveState.CLOSED


def test_card_read_decodes_and_shows_raw_memory() -> None:
    with start_card_emulator(example_user_card(12345678, 123.4), pace=False) as h:
        code, out = run(
            "card",
            "read",
            "--port",
            h.port_path,
            "--device",
            "meihua-ic",
            "--meter-card-number",
            "11112222",
        )
    assert code == 0, out
    assert "12345678" in out and "123.4" in out and "EXAMPLE" in out
    assert "meihua-ic.04" in out  # card does not belong to this meter
    assert "20: DD 0C 22 38 4E" in out


def test_card_read_no_card() -> None:
    with start_card_emulator(None, pace=False) as h:
        code, out = run("card", "read", "--port", h.port_path)
    assert code == 1 and "card inserted" in out


def test_emulate_meter_command_prints_its_pty(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fieldkit", "emulate", "meter", "--lang", "en", "--volume", "9.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on" in line, line + (
            proc.stderr.read() if proc.poll() is not None else ""
        )
        port = line.strip().rsplit(" ", 1)[-1]
        code, out = run("meter", "read", "--port", port, "--profile", "cjt188-2004")
        assert code == 0, out
        assert "9.50 m³" in out
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()


def test_set_address_asks_first() -> None:
    state = MeterState()
    with start_meter_emulator("cjt188-2004", state, pace=False) as h:
        args = ("meter", "set-address", "30000000777777", "--port", h.port_path)
        args += ("--address", state.address, "--profile", "cjt188-2004")
        code, out = run(*args, input="n\n")
        assert code == 2 and state.address == "30000000123456"
        code, out = run(*args, input="y\n")
        assert code == 0, out
        assert state.address == "30000000777777"


def test_ports_lists_this_computers_ports_as_json() -> None:
    from fieldkit.devices.transport import list_ports

    code, out = run("ports", "--json")
    assert code == 0, out
    listed = json.loads(out)
    assert [p["device"] for p in listed] == [p.device for p in list_ports()]
    assert all(set(p) == {"device", "description", "vid_pid", "serial_number"} for p in listed)


@pytest.mark.parametrize("port", ["70000", "0"])
def test_emulate_card_refuses_a_tcp_port_out_of_range(port: str) -> None:
    """`emulate card --pcsc 70000` said the card was attached to vpcd on port 70000."""
    result = CliRunner().invoke(cli, ["emulate", "card", "--pcsc", port])
    assert result.exit_code == 2, result.output
    assert "--pcsc" in result.output and "1<=x<=65535" in result.output
