"""The visit's safety state in the TUI: the refusal confirmation, the banner, the correction,
the discard, a start pressure refused at once, and hazards that keep 已完成 closed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fieldkit.config import Settings
from fieldkit.tui.screens.close_visit import CloseVisitScreen
from fieldkit.tui.screens.correct import CorrectScreen
from fieldkit.tui.screens.dialogs import ConfirmScreen
from fieldkit.tui.screens.hazards import HazardsScreen
from fieldkit.tui.screens.procedure import ProcedureScreen
from fieldkit.tui.screens.visit import VisitScreen
from fieldkit.tui.widgets.gate import GatePanel
from tests.tui.helpers import make_app, repo_for, screen_text, seed_order, settle
from tests.tui.test_procedure import (
    answer_passing,
    clocked_app,
    events_of,
    open_procedure,
    pass_purge,
    run_from_visit,
    type_into,
)
from tests.tui.test_procedure_forms import choose_unit, type_text


async def refuse_private_alteration(pilot: Any, screen: ProcedureScreen) -> None:
    await pilot.press("f7")  # yes: the piping was altered
    await settle(pilot)
    assert isinstance(pilot.app.screen, ConfirmScreen)
    await pilot.press("ctrl+s")
    await settle(pilot)
    assert pilot.app.screen is screen


async def test_a_refusal_is_confirmed_first_then_the_banner_closes_ignition(
    settings: Settings,
) -> None:
    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await open_procedure(pilot, "indoor-purge")
        await pilot.press("f7")
        await settle(pilot)
        # The consequence is spelled out before anything is recorded.
        assert isinstance(app.screen, ConfirmScreen)
        text = screen_text(app)
        assert "不予通气" in text and "私自改造" in text
        await pilot.press("escape")  # no: nothing recorded
        await settle(pilot)
        assert app.screen is screen
        assert "未记录" in screen_text(app)
        assert events_of(settings, "private-alteration") == []
        await refuse_private_alteration(pilot, screen)
        assert screen.query_one("#gate", GatePanel).shown
        assert [e.kind for e in events_of(settings, "private-alteration")][-1] == "refused"

        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, VisitScreen)
        banner = app.screen.query_one("#visit-banner")
        assert banner.display and "禁止通气和点火" in screen_text(app)

        # Ignition in the same visit: the banner says why and what would clear it.
        screen = await run_from_visit(pilot, "ignition")
        banner = screen.query_one("#banner")
        assert banner.display
        words = str(banner.render())
        assert "不予通气" in words and "解除条件" in words and "依据" in words


async def test_a_mistaken_refusal_is_corrected_and_both_answers_are_kept(
    settings: Settings,
) -> None:
    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await open_procedure(pilot, "indoor-purge")
        await refuse_private_alteration(pilot, screen)
        await pilot.press("ctrl+y")
        await settle(pilot)
        assert isinstance(app.screen, CorrectScreen)
        await pilot.press("ctrl+s")  # no answer chosen yet, no reason: refused with a message
        await settle(pilot)
        assert "请选择正确的回答" in screen_text(app)
        app.screen.query_one("#correct-choice").value = "no"
        await type_into(pilot, "#correct-reason", "wrong key")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen
        assert not screen.query_one("#gate", GatePanel).shown
        assert screen.run.current.id == "concealed-piping"
    trail = events_of(settings, "private-alteration")
    kinds = [e.kind for e in trail]
    assert "refused" in kinds and "corrected" in kinds
    answers = [e.value.get("answer") for e in trail if e.kind == "answered"]
    assert answers[0] == "yes"  # the wrong answer stays in the trail
    [corrected] = [e for e in trail if e.kind == "corrected"]
    assert corrected.value["reason"] == "wrong key"


async def test_a_run_opened_by_mistake_is_discarded(settings: Settings) -> None:
    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await open_procedure(pilot, "stove-wont-light")
        visit_id = screen.visit_id
        assert "作废流程" in screen_text(app).splitlines()[-1]
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, VisitScreen)
        assert "进行中" not in screen_text(app)
        # A run with answers is not discardable: the key is not offered.
        screen = await run_from_visit(pilot, "indoor-purge")
        await pilot.press("f8")
        await settle(pilot)
        assert not screen.check_action("discard", ())
        assert "作废流程" not in screen_text(app).splitlines()[-1]
    runs = repo_for(settings).resume(visit_id).runs
    assert [r.procedure_id for r in runs] == ["indoor-purge"]


async def test_a_start_pressure_below_the_minimum_is_refused_at_once(settings: Settings) -> None:
    seed_order(settings)
    app, _clock = clocked_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_procedure(pilot, "ignition")
        await choose_unit(pilot, "kPa")
        await type_text(pilot, "3")
        await pilot.press("enter")
        await settle(pilot)
        text = screen_text(app)
        assert "起始压力不足" in text and "未接受" in text
        assert "保压剩余时间" not in text  # no hold was started
    assert events_of(settings, "tightness-test") == []


async def test_an_open_major_hazard_keeps_completed_closed_and_offers_the_refusal_check(
    settings: Settings,
) -> None:
    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#orders").focus()
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert isinstance(app.screen, HazardsScreen)
        await type_into(pilot, "#hazard-description", "pipes boxed in")
        app.screen.query_one("#hazard-level").value = "major"
        app.screen.query_one("#hazard-refusal").value = "concealed_piping"
        await pilot.press("ctrl+s")  # no deadline: asked for
        await settle(pilot)
        assert "整改期限" in screen_text(app)
        today = app.services.clock().date()
        await type_into(pilot, "#hazard-deadline", today.replace(year=today.year + 2).isoformat())
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "一年之内" in screen_text(app)
        app.screen.query_one("#hazard-deadline").value = today.isoformat()
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "不予通气检查" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, VisitScreen)
        assert "禁止通气和点火" in screen_text(app)  # the banner
        await pilot.press("ctrl+g")
        await settle(pilot)
        assert isinstance(app.screen, CloseVisitScreen)
        assert "completed" not in app.screen.outcomes
        assert "不能选择已完成" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("ctrl+l")
        await settle(pilot)
        await pilot.press("f8")  # the refusal check
        await settle(pilot)
        assert isinstance(app.screen, ProcedureScreen)
        assert app.screen.run.current.id == "private-alteration"
        visit_id = app.screen.visit_id
    [hazard] = repo_for(settings).visit_hazards(visit_id)
    assert str(hazard.level.value) == "major" and hazard.deadline == today


async def test_after_a_refusal_the_site_put_right_and_the_check_run_again(
    settings: Settings,
) -> None:
    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await open_procedure(pilot, "indoor-purge")
        await refuse_private_alteration(pilot, screen)
        refused_run = screen.run.run_id
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press("ctrl+s")  # nothing said: asked for
        await settle(pilot)
        assert "请填写所做的整改" in screen_text(app)
        await type_text(pilot, "restored the piping")
        await pilot.press("ctrl+s")
        await settle(pilot)
        # The check runs again in a new run; gas stays closed until it passes.
        screen = app.screen
        assert isinstance(screen, ProcedureScreen)
        assert screen.run.run_id != refused_run
        assert screen.run.current.id == "private-alteration"
        assert screen.query_one("#banner").display
        await pilot.press("f8")  # not altered any more
        await settle(pilot)
        assert not screen.query_one("#banner").display
    fixed = [e for e in events_of(settings) if e.kind == "refusal_corrected"]
    assert fixed and fixed[0].value == {"what": "restored the piping", "by": "T001"}


async def test_a_local_override_is_labelled_on_every_step(
    settings: Settings, utility_data: Path
) -> None:
    seed_order(settings)
    app, clock = clocked_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await open_procedure(pilot, "ignition", purged=True)
        assert screen.run.override is not None
        label = screen.run.override.label
        assert "本地修订" in label
        seen = 0
        await choose_unit(pilot, "kPa")
        await type_text(pilot, "6")
        await pilot.press("enter")
        await settle(pilot)
        clock.advance(1)  # this utility's short hold
        while screen.run.current is not None and screen.run.current.kind != "capture":
            title = str(screen.query_one("#step-title").render())
            assert "本地修订" in title, title
            seen += 1
            if screen.run.current.kind == "measurement":
                await type_text(pilot, "6")
                await pilot.press("enter")
                await settle(pilot)
            else:
                await answer_passing(pilot, screen)
        assert seen >= 6


async def test_ignition_without_a_purge_says_so_at_its_first_step(settings: Settings) -> None:
    """Before a 15-minute hold is spent: the ignition steps further on are closed because
    this visit has no completed purge; once a purge is complete the notice is gone."""
    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await open_procedure(pilot, "ignition")
        ahead = screen.query_one("#ahead")
        assert ahead.display
        words = str(ahead.render())
        assert "后面的点火步骤已关闭" in words and "置换放散" in words
        assert not screen.query_one("#banner").display  # the tightness step itself is open
        assert ahead.region.bottom <= 24  # visible at 80×24
        # back to the visit, purge in the same visit, back to the same ignition run
        await pilot.press("escape")
        await settle(pilot)
        await pass_purge(pilot)
        again = await run_from_visit(pilot, "ignition")
        assert again.run.run_id == screen.run.run_id  # the run was resumed, not restarted
        assert not again.query_one("#ahead").display, str(again.query_one("#ahead").render())
        assert "置换放散" not in screen_text(app)


async def test_a_mistyped_reading_is_corrected_and_the_gate_judged_again(
    settings: Settings,
) -> None:
    seed_order(settings)
    app, clock = clocked_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await open_procedure(pilot, "ignition", purged=True)
        await choose_unit(pilot, "kPa")
        await type_text(pilot, "6")
        await pilot.press("enter")
        await settle(pilot)
        clock.advance(16)
        await type_text(pilot, "5.5")  # mistyped: the gauge read 6
        await pilot.press("enter")
        await settle(pilot)
        assert screen.query_one("#gate", GatePanel).shown
        await pilot.press("ctrl+y")
        await settle(pilot)
        assert isinstance(app.screen, CorrectScreen)
        await settle(pilot)
        assert "6.0 -> 5.5 kPa" in screen_text(app)  # the answer as typed
        assert app.screen.query_one("#correct-reading-row").display
        assert "正确读数（kPa）" in screen_text(app)
        await type_into(pilot, "#correct-start", "6")
        await type_into(pilot, "#correct-end", "x")
        await type_into(pilot, "#correct-reason", "末读数抄错")
        await pilot.press("ctrl+s")  # not a number: said, nothing recorded
        await settle(pilot)
        assert "请以数字输入" in screen_text(app)
        reason = app.screen.query_one("#correct-reason")
        assert reason.region.bottom <= 24  # the whole dialog fits at 80×24
        end = app.screen.query_one("#correct-end")
        end.value = ""
        await type_into(pilot, "#correct-end", "6")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen
        assert not screen.query_one("#gate", GatePanel).shown
        assert screen.run.current.id == "alarm-cutoff-test"
    trail = events_of(settings, "tightness-test")
    answers = [e for e in trail if e.kind == "answered"]
    assert [a.passed for a in answers] == [False, True]  # the mistyped reading stays
    assert answers[0].value["end"] == 5.5 and answers[1].value["end"] == 6.0
    [corrected] = [e for e in trail if e.kind == "corrected"]
    assert corrected.value["reason"] == "末读数抄错"
