"""The close screen offers only what the records layer's visit-level safety rules allow,
and says why; the database shows the rule held."""

from __future__ import annotations

from fieldkit.config import Settings
from fieldkit.tui.screens.close_visit import CloseVisitScreen
from fieldkit.tui.screens.visit import VisitScreen
from tests.tui.helpers import make_app, repo_for, screen_text, seed_order, settle
from tests.tui.test_procedure import clocked_app, open_procedure, type_into


async def test_an_ignition_visit_without_its_run_cannot_be_closed_as_completed(
    settings: Settings,
) -> None:
    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#orders").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, VisitScreen)
        visit_id = app.screen.visit_id
        await pilot.press("ctrl+g")
        await settle(pilot)
        assert isinstance(app.screen, CloseVisitScreen)
        assert "completed" not in app.screen.outcomes
        assert "not_home" in app.screen.outcomes
        text = screen_text(app)
        assert "须先完成通气点火流程" in text
        assert "完成" not in app.screen.query_one("#outcomes").get_option_at_index(0).prompt
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, VisitScreen)
    assert repo_for(settings).get_visit(visit_id).closed_at is None


async def test_a_failed_test_ends_only_as_stopped_or_incomplete(settings: Settings) -> None:
    seed_order(settings)
    app, clock = clocked_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await open_procedure(pilot, "ignition")
        visit_id = screen.visit_id
        screen.query_one("#unit").value = "kPa"
        await type_into(pilot, "#start", "6")
        await pilot.press("ctrl+s")
        clock.advance(16)  # the shipped 15-minute hold, on the injected clock
        await type_into(pilot, "#end", "5.5")
        await pilot.press("ctrl+s")  # a pressure drop: the gate holds the job
        await settle(pilot)
        assert "停止或未完成" in screen_text(app)
        await pilot.press("ctrl+g")
        await settle(pilot)
        assert isinstance(app.screen, CloseVisitScreen)
        assert app.screen.outcomes == ("stopped_unsafe", "incomplete")
        text = screen_text(app)
        assert "不合格且未整改" in text and "不予通气" not in text
        await pilot.press("ctrl+s")  # the engine's reason is preset
        await settle(pilot)
        assert type(app.screen).__name__ == "HomeScreen"
    repo = repo_for(settings)
    visit = repo.get_visit(visit_id)
    assert str(visit.outcome.value) == "stopped_unsafe"
    assert visit.outcome_reason
    [run] = repo.resume(visit_id).runs
    assert run.status == "abandoned" and run.events[-1].kind == "abandoned"
