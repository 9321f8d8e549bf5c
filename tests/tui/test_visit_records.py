"""Meter swap (换表) and hazards (隐患) from the visit screen: what the technician sees, what
the database holds, and the handover form that shows both."""

from __future__ import annotations

from typing import Any

from fieldkit.config import Settings
from fieldkit.tui.screens.hazards import HazardsScreen
from fieldkit.tui.screens.meter_swap import MeterSwapScreen
from fieldkit.tui.screens.visit import VisitScreen
from tests.tui.helpers import make_app, repo_for, screen_text, seed_order, settle


async def open_visit(pilot: Any) -> VisitScreen:
    pilot.app.screen.query_one("#orders").focus()
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(pilot.app.screen, VisitScreen)
    return pilot.app.screen


async def type_into(pilot: Any, selector: str, text: str) -> None:
    field = pilot.app.screen.query_one(selector)
    field.value = ""
    field.focus()
    await pilot.press(*list(text))


def footer(app: Any) -> str:
    return screen_text(app).splitlines()[-1]


async def handover_text(pilot: Any) -> str:
    await pilot.press("f8")
    await settle(pilot)
    assert "esc" in footer(pilot.app)
    # The whole form (it scrolls at 80x24), as the screen's text widget holds it.
    text = str(pilot.app.screen.query_one("#handover-text").render())
    await pilot.press("escape")
    await settle(pilot)
    return text


async def test_meter_swap_is_recorded_and_shown_on_the_handover_form(settings: Settings) -> None:
    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        visit = await open_visit(pilot)
        assert "换表" in footer(app) and "安全隐患" in footer(app)
        await type_into(pilot, "#meter-no", "QF-OLD-1")
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("ctrl+y")
        await settle(pilot)
        assert isinstance(app.screen, MeterSwapScreen)
        assert "保存换表" in footer(app)
        text = screen_text(app)
        for label in ("旧表表钢号", "新表表钢号", "表封号/铅封号", "已用气量", "剩余气量", "日期"):
            assert label in text, label
        assert app.screen.query_one("#swap-old_meter_no").value == "QF-OLD-1"

        await pilot.press("ctrl+s")  # nothing typed: the new meter no. is required
        await settle(pilot)
        assert "新表" in screen_text(app) and isinstance(app.screen, MeterSwapScreen)
        await type_into(pilot, "#swap-new_meter_no", "QF-NEW-2")
        await pilot.press("ctrl+s")  # no seal no.
        await settle(pilot)
        assert "表封号" in app.screen.query_one("#swap-message").render().plain
        app.screen.query_one("#swap-seal_nos").value = "F-9，F-10"  # a full-width comma
        await type_into(pilot, "#swap-gas_used", "-1")
        await pilot.press("ctrl+s")  # negative gas used: refused by records
        await settle(pilot)
        assert isinstance(app.screen, MeterSwapScreen)
        await type_into(pilot, "#swap-gas_used", "12.5")
        await type_into(pilot, "#swap-gas_remaining", "7.5")
        await type_into(pilot, "#swap-old_meter_reading", "1234.5")
        await type_into(pilot, "#swap-date", "2026/11/23")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "YYYY-MM-DD" in screen_text(app)
        app.screen.query_one("#swap-date").value = ""
        await type_into(pilot, "#swap-reason", "表不走字")
        assert repo_for(settings).visit_meter_swaps(visit.visit_id) == []  # nothing saved yet
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, VisitScreen)
        assert app.screen.query_one("#meter-no").value == "QF-NEW-2"
        text = await handover_text(pilot)
        assert "QF-NEW-2" in text and "QF-OLD-1" in text and "F-9, F-10" in text
    repo = repo_for(settings)
    [swap] = repo.visit_meter_swaps(visit.visit_id)
    assert (swap.old_meter_no, swap.new_meter_no, swap.seal_nos) == (
        "QF-OLD-1",
        "QF-NEW-2",
        ["F-9", "F-10"],
    )
    assert (swap.old_meter_reading, swap.gas_used, swap.gas_remaining) == (1234.5, 12.5, 7.5)
    assert swap.reason == "表不走字"
    record = repo.get_visit(visit.visit_id)
    assert (record.meter_no, record.seal_nos, record.remaining_gas) == (
        "QF-NEW-2",
        ["F-9", "F-10"],
        7.5,
    )


async def test_hazards_are_added_and_only_move_forward_with_a_note(settings: Settings) -> None:
    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        visit = await open_visit(pilot)
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert isinstance(app.screen, HazardsScreen)
        assert "添加隐患" in footer(app) and "推进状态" in footer(app)
        assert "尚未记录隐患" in screen_text(app)

        await pilot.press("ctrl+s")  # no description
        await settle(pilot)
        assert "请先填写隐患描述" in screen_text(app)
        await type_into(pilot, "#hazard-description", "软管超过2米")
        app.screen.query_one("#hazard-level").value = "major"
        await type_into(pilot, "#hazard-deadline", "12/01")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "YYYY-MM-DD" in screen_text(app)
        assert repo_for(settings).visit_hazards(visit.visit_id) == []
        await type_into(pilot, "#hazard-deadline", "2026-12-01")
        await type_into(pilot, "#hazard-basis", "CJJ 51")
        await pilot.press("ctrl+s")
        await settle(pilot)
        text = screen_text(app)
        assert "[重大] 软管超过2米 | 待整改 | 整改期限 2026-12-01 | CJJ 51" in text

        await pilot.press("f7")  # no note: refused
        await settle(pilot)
        assert "必须填写备注" in screen_text(app)
        await type_into(pilot, "#hazard-note", "已通知用户更换")
        await pilot.press("f7")
        await settle(pilot)
        assert "复查中" in screen_text(app)
        await type_into(pilot, "#hazard-note", "复查已更换为1.5米软管")
        await pilot.press("f7")
        await settle(pilot)
        assert "已整改" in screen_text(app)
        await type_into(pilot, "#hazard-note", "again")
        await pilot.press("f7")  # nothing after 已整改
        await settle(pilot)
        assert "该隐患已整改" in screen_text(app)

        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, VisitScreen)
        text = await handover_text(pilot)
        assert "软管超过2米" in text and "已整改" in text
    repo = repo_for(settings)
    [hazard] = repo.visit_hazards(visit.visit_id)
    assert str(hazard.level.value) == "major" and str(hazard.status.value) == "fixed"
    assert hazard.basis == "CJJ 51" and hazard.deadline.isoformat() == "2026-12-01"
    trail = repo.hazard_trail(hazard.id)
    assert [(str(c.from_status.value), str(c.to_status.value), c.note) for c in trail] == [
        ("pending", "rechecking", "已通知用户更换"),
        ("rechecking", "fixed", "复查已更换为1.5米软管"),
    ]
    assert {c.actor for c in trail} == {"T001"}


async def test_the_hazards_screen_is_kept_while_the_visit_is_open(settings: Settings) -> None:
    """Ctrl+L shows the same hazards screen again (quick; what was typed stays), with the
    list as it is now; leaving the visit lets the kept screen go."""
    from datetime import date

    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        visit = await open_visit(pilot)
        await pilot.press("ctrl+l")
        await settle(pilot)
        hazards = app.screen
        assert isinstance(hazards, HazardsScreen)
        await type_into(pilot, "#hazard-basis", "CJJ 51")
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is visit
        # a hazard recorded meanwhile (e.g. by the procedure) shows when Ctrl+L comes again
        repo_for(settings).add_hazard(
            visit.visit_id, description="灶前阀漏气", level="general", deadline=date(2026, 12, 1)
        )
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert app.screen is hazards
        assert "灶前阀漏气" in screen_text(app)
        assert hazards.query_one("#hazard-basis").value == "CJJ 51"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("escape")  # leave the visit
        await settle(pilot)
        assert not isinstance(app.screen, VisitScreen | HazardsScreen)
        assert not app.is_screen_installed(hazards)
        assert not hazards.is_attached and not hazards.is_running  # removed, not leaked
