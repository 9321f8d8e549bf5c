"""End to end: the installed ``fieldkit`` in tmux completes a 通气点火 job.

The pre-ignition tightness test's hold time comes from a utility override of the ignition
procedure in a FIELDKIT_DATA folder (see conftest.short_hold_data_dir); nothing in fieldkit
shortens or skips a gate.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from fieldkit.config import Settings
from tests.tui.conftest import HOLD_MINUTES, short_hold_data_dir
from tests.tui.helpers import repo_for, seed_order

pytestmark = pytest.mark.tmux

FIELDKIT = Path(sys.executable).parent / "fieldkit"


def tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", *args], check=True, capture_output=True, text=True, timeout=20
    ).stdout


class Pane:
    def __init__(self, session: str):
        self.session = session

    def text(self) -> str:
        return tmux("capture-pane", "-p", "-t", self.session)

    def keys(self, *keys: str) -> None:
        for key in keys:  # one at a time, as a person types
            tmux("send-keys", "-t", self.session, key)
            time.sleep(0.15)

    def type(self, text: str) -> None:
        tmux("send-keys", "-t", self.session, "-l", text)
        time.sleep(0.15)

    def wait_for(self, needle: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.text()
            if needle in text:
                return text
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} did not appear on screen:\n{text}")


def test_ignition_job_end_to_end_in_tmux(tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed: the end-to-end test needs it (apt-get install tmux)")
    assert FIELDKIT.exists(), f"the installed fieldkit script is missing at {FIELDKIT}"

    home = tmp_path / "home"
    data = short_hold_data_dir(tmp_path)
    db_url = f"sqlite:///{(tmp_path / 'visits.db').as_posix()}"
    config = tmp_path / "config.toml"
    config.write_text(f'technician_id = "T007"\ndb_url = "{db_url}"\n', encoding="utf-8")
    settings = Settings(technician_id="T007", db_url=db_url)
    seed_order(settings, "WO-E2E-1")

    env = {
        "FIELDKIT_HOME": str(home),
        "FIELDKIT_DATA": str(data),
        "FIELDKIT_CONFIG": str(config),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "PATH": os.environ.get("PATH", ""),
    }
    command = " ".join(["env", "-i", *(f"{k}='{v}'" for k, v in env.items()), str(FIELDKIT)])
    session = f"fk-e2e-{uuid.uuid4().hex[:8]}"
    tmux("new-session", "-d", "-x", "100", "-y", "30", "-s", session, command)
    pane = Pane(session)
    try:
        pane.wait_for("WO-E2E-1")
        pane.keys("Enter")  # start the visit from the work order
        pane.wait_for("户内燃气置换放散要求")
        # Ignition needs a completed 置换放散 in the same visit: the purge first (it is
        # listed just below the preselected ignition procedure).
        pane.keys("Down")
        time.sleep(0.3)
        pane.keys("F7")
        pane.wait_for("是否经过私自改造")
        for n, key in enumerate(("F8", "F8", "F7", "F7", "F7", "F7", "F7"), start=2):
            pane.keys(key)  # every check answered the passing way
            pane.wait_for(f"第 {n}/8 步")
        pane.keys("F8")
        pane.wait_for("流程已完成")
        pane.keys("Escape")
        pane.wait_for("户内燃气置换放散要求  [已完成]")
        pane.keys("Up")  # back to ignition
        time.sleep(0.3)
        pane.keys("F7")
        pane.wait_for("点火前严密性试验")

        # The unit is chosen explicitly (the cursor starts on it): Enter opens the list,
        # Down moves from the prompt to Pa, Enter picks it and moves on to the reading.
        pane.wait_for("选择单位")
        pane.keys("Enter")
        pane.wait_for("mmH2O")  # the list is open (a person looks before pressing on)
        time.sleep(0.3)
        pane.keys("Down")
        time.sleep(0.3)
        pane.keys("Enter")
        pane.wait_for("起始读数 (Pa)")
        # Tightness test: 6000 Pa at the start, 6000 Pa after the hold: no drop, a pass.
        pane.type("6000")
        pane.keys("Enter")
        pane.wait_for("保压剩余时间")
        time.sleep(HOLD_MINUTES * 60 + 0.5)
        pane.wait_for("保压时间已到")
        pane.type("6000")
        pane.keys("Enter")
        pane.wait_for("报警器与电磁阀切断测试")
        # Alarm cut-off, meter with valve closed, battery opens the valve, counter turns.
        for step in (3, 4, 5, 6):
            pane.keys("F7")
            pane.wait_for(f"第 {step}/9 步")
        pane.keys("F8")  # leak re-check: no leak
        pane.wait_for("第 7/9 步")
        pane.keys("F7")  # IC-card gas loaded
        pane.wait_for("第 8/9 步")
        pane.wait_for("^s 保存")  # the handover form is up (a person reads it first)
        time.sleep(0.5)
        # Enter moves to the next field; Enter in the last one saves.
        pane.type("MH-2026-0001")
        pane.keys("Enter")
        pane.type("S-001、S-002")
        pane.keys("Enter")
        pane.type("0")
        pane.keys("Enter")
        pane.type("20")
        pane.keys("Enter")
        pane.wait_for("第 9/9 步")
        pane.type("张三")
        pane.keys("Enter")
        pane.wait_for("流程已完成")
        pane.keys("Escape")
        pane.wait_for("结束上门")
        pane.keys("C-g")
        pane.wait_for("结束上门")
        pane.wait_for("已完成")
        pane.keys("C-s")
        pane.wait_for("工单(待办)")
        pane.keys("C-q")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = subprocess.run(
                ["tmux", "has-session", "-t", session], capture_output=True
            ).returncode
            if alive != 0:
                break
            time.sleep(0.1)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)

    repo = repo_for(settings)
    [visit] = repo.list_visits()
    record = repo.get_visit(visit.visit_id)
    assert record.closed_at is not None
    assert str(record.outcome.value) == "completed"
    assert record.meter_no == "MH-2026-0001"
    assert record.seal_nos == ["S-001", "S-002"]
    state = repo.resume(visit.visit_id)
    purge, run = state.runs
    assert purge.procedure_id == "indoor-purge" and purge.status == "completed"
    assert run.procedure_id == "ignition" and run.status == "completed"
    tightness = [e for e in run.events if e.step_id == "tightness-test" and e.kind == "answered"]
    assert tightness[0].passed is True
    assert tightness[0].value["end"] == 6000
    signed = [e for e in run.events if e.step_id == "customer-sign-off"]
    assert signed[0].value["customer_name"] == "张三"
    assert repo.outbox_count() == 1
