"""The procedure, visit, hazards and close-visit screens at 60x20 and 80x24, in Chinese and
English: Esc Back and F1 (every key) stay in the footer, and the focused field is always on
screen, also after each Tab."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widget import Widget

from fieldkit import i18n
from fieldkit.config import Settings
from fieldkit.tui.screens.close_visit import CloseVisitScreen
from fieldkit.tui.screens.dialogs import KeysScreen
from fieldkit.tui.screens.hazards import HazardsScreen
from fieldkit.tui.screens.procedure import ProcedureScreen
from fieldkit.tui.screens.visit import VisitScreen
from tests.tui.helpers import make_app, open_visit, screen_text, seed_order, settle
from tests.tui.test_procedure import run_from_visit

SIZES = [(60, 20), (80, 24)]
LANGUAGES = ["zh", "en"]


def on_screen(app: Any, widget: Widget | None) -> bool:
    """The widget is displayed (with every container) and lies inside the screen above
    the footer row."""
    if widget is None:
        return False
    node: Any = widget
    while node is not None and node is not app.screen:
        if not node.display:
            return False
        node = node.parent
    width, height = app.size
    region = widget.region
    return (
        region.height > 0
        and region.width > 0
        and region.y >= 0
        and region.bottom <= height - 1
        and region.x < width
    )


async def tab_around(pilot: Any, times: int = 6) -> None:
    app = pilot.app
    assert on_screen(app, app.focused), (app.focused, screen_text(app))
    for _ in range(times):
        await pilot.press("tab")
        await pilot.pause()
        assert on_screen(app, app.focused), (app.focused, screen_text(app))


def footer(app: Any) -> str:
    return screen_text(app).splitlines()[-1]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("size", SIZES)
async def test_visit_screens_fit(settings: Settings, size: tuple[int, int], language: str) -> None:
    i18n.set_language(language)
    back = "返回" if language == "zh" else "Back"
    keys = "按键" if language == "zh" else "Keys"
    seed_order(settings)
    app = make_app(settings.model_copy(update={"language": language}))
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await open_visit(pilot)
        assert f"esc {back}" in footer(app)
        assert "F1" in screen_text(app)  # the hint names the keys overlay
        await tab_around(pilot)

        # The procedure screen: a measurement step and a check step.
        for procedure_id in ("ignition", "indoor-purge"):
            screen = await run_from_visit(pilot, procedure_id)
            text = footer(app)
            assert f"esc {back}" in text and f"f1 {keys}" in text, text
            await tab_around(pilot)
            if procedure_id == "ignition":
                # The pass rule stands next to the inputs.
                assert ">= 5 kPa" in screen_text(app)
                assert on_screen(app, screen.query_one("#start"))
            await pilot.press("f1")
            await settle(pilot)
            assert isinstance(app.screen, KeysScreen)
            listed = screen_text(app)
            assert "Esc" in listed and ("Ctrl+S" in listed or "F7" in listed), listed
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, ProcedureScreen)
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, VisitScreen)

        # Hazards.
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert isinstance(app.screen, HazardsScreen)
        assert f"esc {back}" in footer(app)
        await tab_around(pilot, times=8)
        await pilot.press("escape")
        await settle(pilot)

        # End the visit: the outcome list, the reason box, and back again with Tab.
        await pilot.press("ctrl+g")
        await settle(pilot)
        assert isinstance(app.screen, CloseVisitScreen)
        await tab_around(pilot, times=4)
        app.screen.query_one("#reason").focus()
        await pilot.pause()
        await pilot.press(*"x")
        assert app.screen.query_one("#reason").value == "x"
        await tab_around(pilot, times=3)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, VisitScreen)
