"""The procedure screen says where a rule comes from and explains the manual's typos, in
Chinese: the ignition intro's source, 原文如此 notes, a prerequisite named in words."""

from __future__ import annotations

from rich.text import Text as RichText
from textual.widgets import Static

from fieldkit.config import Settings
from tests.tui.helpers import make_app, screen_text, seed_order, settle
from tests.tui.test_procedure import open_procedure


def _static_text(screen: object, selector: str) -> str:
    widget = screen.query_one(selector, Static)  # type: ignore[attr-defined]
    content = widget.render()
    return content.plain if isinstance(content, RichText) else str(content)


async def test_ignition_first_step_shows_the_intro_rule_with_its_source(
    settings: Settings,
) -> None:
    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        await open_procedure(pilot, "ignition")
        text = screen_text(app)
        assert "未做严密性试验不得通气点火" in text
        assert "手册：小区通气流程" in text  # the intro rule's source
        assert '原文如此："同进"，应为"同时"' in text  # the note's typo explained
        assert "来源：行业做法" in text and "research/" not in text
        assert "Practice:" not in text


async def test_a_later_step_names_its_prerequisite_and_typo_in_chinese(
    settings: Settings,
) -> None:
    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        screen = await open_procedure(pilot, "ignition")
        screen._show_text(screen.run.procedure.step("leak-recheck"))
        await pilot.pause()
        source = _static_text(screen, "#step-source")
        assert '原文如此："所为"，应为"所有"' in source
        assert "点火前严密性试验合格" in source and "tightness_passed" not in source
        screen._show_text(screen.run.procedure.step("handover-data"))
        await pilot.pause()
        source = _static_text(screen, "#step-source")
        assert source.startswith("* 来源：本公司设施交接单栏目")
