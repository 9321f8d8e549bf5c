"""One language at a time on screen: walking the TUI in Chinese (home, lookup, conduct,
sync, device, settings, a visit, a procedure with its unit menu open, hazards, end visit,
handover), no screen shows an untranslated English sentence — the footer of a Textual
widget (the Select menu's "Dismiss menu") included."""

from __future__ import annotations

from typing import Any

from fieldkit import i18n
from fieldkit.config import Settings
from tests.test_one_language import english_sentences
from tests.tui.helpers import make_app, open_procedure, screen_text, seed_order, settle


async def look(pilot: Any, seen: dict[str, list[str]], where: str) -> None:
    await settle(pilot)
    found = english_sentences(screen_text(pilot.app))
    if found:
        seen[where] = found


async def test_chinese_screens_show_no_english_sentence(settings: Settings) -> None:
    i18n.set_language("zh")
    seed_order(settings)
    app = make_app(settings.model_copy(update={"language": "zh"}))
    seen: dict[str, list[str]] = {}
    async with app.run_test(size=(100, 40)) as pilot:
        await look(pilot, seen, "home")
        for key in ("f3", "f4", "f5", "f6", "f9"):
            await pilot.press(key)
            await look(pilot, seen, key)
            await pilot.press("escape")
            await settle(pilot)
        screen = await open_procedure(pilot, "ignition")
        await look(pilot, seen, "ignition")
        screen.query_one("#unit").focus()
        await pilot.press("enter")  # the unit menu opens; its footer key is Textual's own
        await look(pilot, seen, "unit menu")
        await pilot.press("escape")
        await pilot.press("escape")
        await settle(pilot)
        for key, where in (("ctrl+l", "hazards"), ("ctrl+g", "end visit"), ("f8", "handover")):
            await pilot.press(key)
            await look(pilot, seen, where)
            await pilot.press("escape")
            await settle(pilot)
    assert not seen, seen
