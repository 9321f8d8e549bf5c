"""The handover form prints each answer as given: 不适用 is never 合格, and a failed test
shows the failure, the repair and the pass. Real engine, real SQLite, shipped procedures."""

from __future__ import annotations

import uuid
from datetime import UTC

import pytest

from fieldkit.i18n import set_language
from fieldkit.procedures.models import Procedure
from fieldkit.records.db import Database
from fieldkit.records.handover import (
    UTILITY_MARK,
    Verdict,
    build_handover,
    handover_html,
    handover_sections,
    handover_text,
)
from tests.records.handover_helpers import make_visit, shipped_procedures


@pytest.fixture(scope="module")
def procedures() -> dict[str, Procedure]:
    return shipped_procedures()


@pytest.fixture
def visit(db: Database, procedures: dict[str, Procedure]) -> uuid.UUID:
    return make_visit(db, procedures)


def _lines(db: Database, visit_id: uuid.UUID, language: str) -> list[str]:
    set_language(language)
    try:
        text = handover_text(build_handover(db, visit_id), tz=UTC)
    finally:
        set_language("zh")
    return [line.strip() for line in text.splitlines()]


def test_not_applicable_is_never_passed(db: Database, visit: uuid.UUID) -> None:
    form = build_handover(db, visit)
    alarm = [t for t in form.tests if t.step_id == "alarm-cutoff-test"]
    assert [t.verdict for t in alarm] == [Verdict.NOT_APPLICABLE]
    assert alarm[0].passed is None
    zh = _lines(db, visit, "zh")
    assert "[不适用] 报警器与电磁阀切断测试 — 回答：不适用" in zh
    assert not any(line.startswith("[合格] 报警器与电磁阀切断测试") for line in zh)
    en = _lines(db, visit, "en")
    assert any(line.startswith("[not applicable] Gas alarm and solenoid") for line in en)
    assert not any(line.startswith("[passed] Gas alarm") for line in en)


def test_failure_repair_and_pass_are_all_shown(db: Database, visit: uuid.UUID) -> None:
    zh = _lines(db, visit, "zh")
    tightness = [line for line in zh if "点火前严密性试验" in line]
    assert len(tightness) == 3, tightness
    failed, repaired, passed = tightness
    assert failed.startswith("[不合格] 点火前严密性试验")
    assert "初始读数 6 kPa" in failed and "结束读数 5.8 kPa" in failed
    assert "压降 0.2 kPa" in failed  # which rule failed
    assert repaired.startswith("[已维修] 点火前严密性试验 — 拧紧接头")
    assert passed.startswith("[合格] 点火前严密性试验") and "结束读数 6 kPa" in passed
    assert zh.index(failed) < zh.index(repaired) < zh.index(passed)


def test_every_answer_is_printed_as_given(db: Database, visit: uuid.UUID) -> None:
    en = _lines(db, visit, "en")
    # A check whose passing answer is "no" reads "no", not "passed" alone.
    assert "[passed] Leak re-check of all joints — answer: no" in en
    assert "[passed] Private alteration — answer: no" in en
    assert "[done] Load the IC-card gas" in en
    assert any(line.startswith("[recorded] Handover form data — ") for line in en)
    assert any(line.startswith("[signed] Customer signs — 张三") for line in en)


def test_readings_have_units_and_the_swap_line_is_whole(db: Database, visit: uuid.UUID) -> None:
    zh = _lines(db, visit, "zh")
    assert f"剩余气量{UTILITY_MARK}：3.2 m³" in zh
    assert f"表读数{UTILITY_MARK}：10 m³" in zh
    swap = next(line for line in zh if "QF-OLD-1" in line)
    assert "最终读数 1234.5 m³" in swap
    assert "QF-NEW-2" in swap and "QF21, QF22" in swap
    assert "剩余气量 3.2 m³" in swap
    assert "原因：字轮不转动(反向表)" in swap


def test_fields_the_manual_does_not_list_are_marked(db: Database, visit: uuid.UUID) -> None:
    sections = dict(handover_sections(build_handover(db, visit), tz=UTC))
    meter = sections["燃气表"]
    assert all(line.split("：")[0].endswith(UTILITY_MARK) for line in meter), meter
    notes = sections["说明"]
    assert any(line.startswith(UTILITY_MARK) and "手册" in line for line in notes)
    html = handover_html(build_handover(db, visit), tz=UTC)
    assert "[不适用] 报警器与电磁阀切断测试" in html


def test_the_export_carries_each_answer_as_given(db: Database, visit: uuid.UUID) -> None:
    """The pushed payload is the record: the 不适用 answer stays "n/a" (never turned into a
    pass), and the failed test, its reason, the repair and the pass are all there in order."""
    from fieldkit.records.repo import VisitRepository
    from fieldkit.sync.schema import VisitPayload

    item = VisitRepository(db).close_visit(visit, "completed")
    payload = VisitPayload.model_validate(item.payload)
    ignition = next(r for r in payload.procedure_runs if r.procedure_id == "ignition")
    alarm = [s for s in ignition.steps if s.step_id == "alarm-cutoff-test"]
    assert [(s.kind, s.value.get("answer")) for s in alarm] == [("answered", "n/a")]
    tightness = [
        (s.kind, s.passed)
        for s in ignition.steps
        if s.step_id == "tightness-test" and s.kind != "revoked"
    ]
    assert tightness[:4] == [
        ("reading_started", None),
        ("answered", False),
        ("gate_triggered", False),
        ("repair_recorded", None),
    ]
    assert ("answered", True) in tightness[4:]
    (swap,) = payload.meter_swaps
    assert swap.old_meter_reading == 1234.5 and swap.reason == "字轮不转动(反向表)"


def test_the_back_office_builds_the_same_form_from_the_pushed_payload(
    db: Database, visit: uuid.UUID
) -> None:
    """The console renders the form from what the laptop pushed: the same sections."""
    from fieldkit.records.handover import handover_from_payload
    from fieldkit.records.repo import VisitRepository
    from fieldkit.sync.schema import VisitPayload

    item = VisitRepository(db).close_visit(visit, "completed")
    payload = VisitPayload.model_validate(item.payload)
    laptop = handover_sections(build_handover(db, visit), tz=UTC)
    server = handover_sections(handover_from_payload(payload), tz=UTC)
    assert server == laptop


def test_a_correction_shows_the_original_the_new_answer_the_reason_and_who(
    procedures: dict[str, Procedure],
) -> None:
    """The engine's appended correction ({"corrects": id, "reason", "value"}) and a refusal
    put right ({"what", "by"}), as the form prints them; the wrong answer stays above."""
    from datetime import datetime

    from fieldkit.records.handover import _Row, _step_specs, _trail, trail_line

    run, wrong, at = uuid.uuid4(), uuid.uuid4(), datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    rows = [
        _Row(run, "private-alteration", "answered", {"answer": "yes"}, False, at, "T001", wrong),
        _Row(
            run,
            "private-alteration",
            "refused",
            {"reason": {"zh": "私改", "en": "x"}},
            False,
            at,
            "T001",
        ),
        _Row(
            run,
            "private-alteration",
            "corrected",
            {"corrects": str(wrong), "reason": "按错键", "value": {"answer": "no"}},
            None,
            at,
            "T002",
        ),
        _Row(
            run, "private-alteration", "answered", {"answer": "no"}, True, at, "T002", uuid.uuid4()
        ),
        _Row(
            run,
            "concealed-piping",
            "refusal_corrected",
            {"what": "拆除包管", "by": "李四"},
            None,
            at,
            "T002",
        ),
    ]
    lines = _trail([(row, "indoor-purge") for row in rows], _step_specs())
    assert [t.verdict for t in lines] == [
        Verdict.FAILED,
        Verdict.REFUSED,
        Verdict.CORRECTED,
        Verdict.PASSED,
        Verdict.PUT_RIGHT,
    ]
    text = [trail_line(t, UTC) for t in lines]
    assert text[0] == "[不合格] 私自改造 — 回答：是"
    assert text[2] == (
        "[已更正] 私自改造 — 原回答：是；更正为：否；原因：按错键；T002，2026-11-23 02:00"
    )
    assert text[3] == "[合格] 私自改造 — 回答：否"
    assert text[4] == "[不予通气后已整改] 包管、包阀、包表 — 拆除包管（整改人：李四）"
