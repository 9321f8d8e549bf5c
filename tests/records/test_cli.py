"""``fieldkit visits …`` through click's CliRunner, on a real database file."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from fieldkit.cli import cli
from fieldkit.records.db import open_database
from fieldkit.records.models import HazardLevel, VisitType
from fieldkit.records.repo import VisitRepository

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


class _Event:
    def __init__(self, run_id: uuid.UUID, step_id: str, value: dict, passed: bool | None):
        self.event_id = uuid.uuid4()
        self.run_id = run_id
        self.step_id = step_id
        self.kind = "answered"
        self.value = value
        self.passed = passed
        self.at = T0
        self.actor = "T001"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{(tmp_path / 'cli.db').as_posix()}"


@pytest.fixture
def visit_id(url: str) -> uuid.UUID:
    database = open_database(url)
    repo = VisitRepository(database, clock=lambda: T0)
    customer = repo.upsert_customer(
        "0012345",
        name="张三",
        phone="13800000000",
        community="幸福小区",
        building="3",
        unit="2",
        floor="5",
        room="502",
    )
    visit = repo.start_visit(
        customer_id=customer.id, technician_id="T001", visit_type=VisitType.IGNITION
    )
    repo.update_meter(
        visit.id,
        meter_no="QF-778899",
        seal_nos=["F-001", "F-002"],
        meter_reading=0.0,
        remaining_gas=10.0,
    )
    run = repo.start_run(visit.id, procedure_id="ignition", procedure_version=1, actor="T001")
    repo.record_event(
        visit.id,
        run.id,
        _Event(run.id, "tightness", {"unit": "kPa", "start": 5.0, "end": 5.0}, True),
    )
    repo.record_event(visit.id, run.id, _Event(run.id, "alarm-test", {"answer": "yes"}, True))
    repo.add_hazard(visit.id, description="软管过长", level=HazardLevel.GENERAL)
    repo.sign(visit.id, "张三")
    database.close()
    return visit.id


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_list_shows_the_open_visit(url: str, visit_id: uuid.UUID) -> None:
    result = run("visits", "--db", url, "list", "--lang", "en")
    assert result.exit_code == 0, result.output
    assert visit_id.hex[:8] in result.output
    assert "0012345" in result.output and "open (can be resumed)" in result.output
    assert "2 steps" in result.output
    result = run("visits", "--db", url, "list", "--open", "--json")
    rows = json.loads(result.output)
    assert [r["visit_id"] for r in rows] == [str(visit_id)]
    assert rows[0]["steps_saved"] == 2 and rows[0]["closed_at"] is None


def test_db_may_be_a_plain_file_path(tmp_path: Path, visit_id: uuid.UUID) -> None:
    result = run("visits", "--db", str(tmp_path / "cli.db"), "list", "--json")
    assert result.exit_code == 0, result.output
    assert [r["visit_id"] for r in json.loads(result.output)] == [str(visit_id)]


def test_list_when_empty(url: str) -> None:
    open_database(url).close()  # an empty database (a missing one is an error)
    result = run("visits", "--db", url, "list", "--lang", "en")
    assert result.exit_code == 0
    assert "No visits recorded yet." in result.output


def test_show_by_prefix_and_json(url: str, visit_id: uuid.UUID) -> None:
    result = run("visits", "--db", url, "show", visit_id.hex[:8], "--lang", "en")
    assert result.exit_code == 0, result.output
    assert "tightness" in result.output and "Procedure ignition" in result.output
    result = run("visits", "--db", url, "show", str(visit_id), "--json")
    data = json.loads(result.output)
    assert data["visit_id"] == str(visit_id)
    assert [e["step_id"] for e in data["runs"][0]["events"]] == ["tightness", "alarm-test"]
    result = run("visits", "--db", url, "show", "ffffffff")
    assert result.exit_code == 1
    assert "ffffffff" in result.output


def test_handover_text_and_html(url: str, visit_id: uuid.UUID, tmp_path: Path) -> None:
    out = tmp_path / "form.html"
    result = run(
        "visits", "--db", url, "handover", str(visit_id), "--html", str(out), "--lang", "en"
    )
    assert result.exit_code == 0, result.output
    text = result.output
    for expected in (
        "Gas facility handover form",
        "0012345",
        "张三",
        "幸福小区",
        "QF-778899",
        "F-001, F-002",
        "Remaining gas*: 10 m³",
        "[passed] ",
        "start 5 kPa",
        "软管过长",
        "Customer signature: 张三",
    ):
        assert expected in text, expected
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "QF-778899" in page


def test_handover_in_chinese_by_default(url: str, visit_id: uuid.UUID) -> None:
    result = run("visits", "--db", url, "handover", str(visit_id))
    assert result.exit_code == 0, result.output
    assert "燃气设施交接单" in result.output
    assert "用户签字：张三" in result.output and "表封号/铅封号*：F-001, F-002" in result.output


def test_outbox_empty(url: str, visit_id: uuid.UUID) -> None:
    result = run("visits", "--db", url, "outbox", "--lang", "en")
    assert result.exit_code == 0
    assert "0 visit(s) waiting" in result.output
    assert json.loads(run("visits", "--db", url, "outbox", "--json").output) == []


def test_corrupt_database_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.db"
    path.write_bytes(b"not a database at all" * 100)
    result = CliRunner().invoke(cli, ["visits", "--db", f"sqlite:///{path}", "list"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert str(path) in lines[0]
    assert "Traceback" not in result.output


def test_bad_database_path_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    result = CliRunner().invoke(
        cli, ["visits", "--db", f"sqlite:///{tmp_path / 'dir.db'}", "list", "--lang", "en"]
    )
    assert result.exit_code == 1
    assert len([ln for ln in result.output.splitlines() if ln.strip()]) == 1
    assert "folder" in result.output


def test_default_database_comes_from_settings(isolated_home: Path) -> None:
    result = run("visits", "list", "--lang", "en")
    assert result.exit_code == 0, result.output
    assert (isolated_home / "data" / "fieldkit.db").is_file()


def test_an_unknown_full_visit_id_is_one_clear_line(url: str, visit_id: uuid.UUID) -> None:
    """`visits show/handover 00000000-…` (a well-formed id of no visit) was a traceback."""
    unknown = "00000000-0000-0000-0000-000000000000"
    for command in ("show", "handover"):
        result = run("visits", "--db", url, command, unknown)
        assert result.exit_code == 1, result.output
        assert unknown in result.output and "找不到" in result.output


def test_outbox_lists_a_visit_the_back_office_refused(url: str, visit_id: uuid.UUID) -> None:
    """A rejected outbox row (4xx, set aside) made `visits outbox` raise KeyError."""
    database = open_database(url)
    repo = VisitRepository(database, clock=lambda: T0)
    repo.close_visit(visit_id, "not_home", "nobody at home")
    (item,) = repo.pending_outbox()
    repo.mark_rejected(item.id, "422: procedure_version too large")
    database.close()
    result = run("visits", "--db", url, "outbox")
    assert result.exit_code == 0, result.output
    assert "后台拒收" in result.output and "procedure_version too large" in result.output
