"""Every screen of the TUI's field shell at 60x20 and 80x24, in Chinese and English: the
footer keeps F1 (help), F1 lists every key of the screen, focus is always on something
drawn on the screen (also after Tab, and while typing), and the home screen keeps its Date
column and Ctrl+Q at 80x24."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from fieldkit.config import Settings
from fieldkit.tui.screens.help import HelpScreen, screen_keys
from tests.tui.helpers import (
    LANGUAGES,
    SIZES,
    assert_focus_visible,
    footer_line,
    is_visible,
    make_app,
    open_visit,
    screen_text,
    seed_order,
    settle,
)


async def press(pilot: Any, key: str) -> None:
    await pilot.press(key)
    await settle(pilot)


def by_key(key: str) -> Callable[[Any], Awaitable[None]]:
    async def opener(pilot: Any) -> None:
        await press(pilot, key)

    return opener


async def home(pilot: Any) -> None:
    pass


async def meter_swap(pilot: Any) -> None:
    await open_visit(pilot)
    await press(pilot, "ctrl+y")


async def handover(pilot: Any) -> None:
    await open_visit(pilot)
    await press(pilot, "f8")


SCREENS: dict[str, tuple[str, Callable[[Any], Awaitable[None]]]] = {
    "home": ("HomeScreen", home),
    "lookup": ("LookupScreen", by_key("f3")),
    "conduct": ("ConductScreen", by_key("f4")),
    "sync": ("SyncScreen", by_key("f5")),
    "settings": ("SettingsScreen", by_key("f9")),
    "meter_swap": ("MeterSwapScreen", meter_swap),
    "handover": ("HandoverScreen", handover),
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", list(SCREENS))
async def test_screen_works_on_small_terminals(
    settings: Settings, name: str, language: str
) -> None:
    seed_order(settings)
    screen_name, opener = SCREENS[name]
    app = make_app(settings.model_copy(update={"language": language}))
    async with app.run_test(size=SIZES[-1]) as pilot:
        await settle(pilot)
        await opener(pilot)
        screen = app.screen
        assert type(screen).__name__ == screen_name, screen_text(app)
        for size in SIZES:
            await pilot.resize_terminal(*size)
            await settle(pilot)
            where = f"{name} {language} {size}"
            footer = footer_line(app)
            help_label = "f1 帮助" if language == "zh" else "f1 Help"
            assert help_label in footer, (where, footer)

            # Focus: on something drawn, now and after every Tab.
            assert_focus_visible(app)
            for _ in range(6):
                await pilot.press("tab")
                await pilot.pause()
                assert app.screen is screen, where
                assert_focus_visible(app)

            # F1 lists every key of the screen, even those the footer has no room for.
            keys = screen_keys(app, screen)
            assert keys, where
            await press(pilot, "f1")
            assert isinstance(app.screen, HelpScreen), where
            help_text = app.screen.query_one("#help-keys").render().plain
            for key, description in keys:
                assert f"{key}" in help_text and description in help_text, (where, key)
            assert_focus_visible(app)
            await press(pilot, "escape")
            assert app.screen is screen, where


@pytest.mark.parametrize("size", SIZES)
async def test_typing_scrolls_the_focused_input_into_view(
    settings: Settings, size: tuple[int, int]
) -> None:
    """The settings form is taller than a small screen: the last field is typed in
    where the user sees it, also after the form was scrolled back to the top."""
    app = make_app(settings)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await press(pilot, "f9")
        form = app.screen.query_one("#settings-form")
        field = app.screen.query_one("#token-file")
        field.focus()
        await settle(pilot)
        form.scroll_home(animate=False)
        await settle(pilot)
        if size == (60, 20):
            assert not is_visible(app, field)  # scrolled away: the case that lost input
        await pilot.press(*"/media/usb/t.txt")
        await settle(pilot)
        assert field.value == "/media/usb/t.txt"
        assert_focus_visible(app)


async def test_home_at_80x24_in_english_keeps_quit_and_the_date_column(
    settings: Settings,
) -> None:
    from datetime import date

    repo_settings = settings.model_copy(update={"language": "en"})
    seed_order(repo_settings)
    from tests.tui.helpers import open_repo

    repo = open_repo(repo_settings)
    customer = repo.upsert_customer(
        "0099999",
        name="A customer with a rather long name",
        community="A community with a very long name indeed",
        building="12",
        unit="3",
        floor="17",
        room="1702",
        address_detail="next to the north gate, behind the bicycle shed",
    )
    repo.create_work_order(
        order_no="WO-LONG-0002",
        visit_type="inspection",
        customer_id=customer.id,
        assigned_to="T001",
        scheduled_for=date.today(),
    )
    repo.database.close()
    app = make_app(repo_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        lines = text.splitlines()
        assert "^q Quit" in lines[-1], lines[-1]
        header = next(line for line in lines if "Order" in line and "Address" in line)
        assert "Date" in header, header
        assert "today" in text  # the date cell of the long row is on screen too
        assert all(len(line) <= 80 for line in lines)
