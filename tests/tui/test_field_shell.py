"""The field shell's ergonomics through the pilot: the device token in Settings, an Enter
pressed while home loads, the step column, seal numbers, lookup hits naming their device."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from fieldkit.config import Settings, load_settings
from fieldkit.tui.screens.meter_swap import MeterSwapScreen
from fieldkit.tui.screens.settings import TokenFileError, token_from_file
from fieldkit.tui.text import split_list
from tests.tui.helpers import (
    make_app,
    open_procedure,
    open_settings,
    open_visit,
    screen_text,
    seed_order,
    settle,
    type_into,
)

TOKEN = "fk_0a1b2c3d_" + "Zq9-xY_" * 6  # shaped as the back office issues them


# -- the device token -------------------------------------------------------------------


def test_token_is_found_in_the_admin_commands_output(tmp_path: Path) -> None:
    file = tmp_path / "token.txt"
    file.write_text(f"Token for T001 (id 0a1b2c3d), shown once:\n{TOKEN}\n", encoding="utf-8")
    assert token_from_file(file) == TOKEN
    file.write_text(f"\ufeff  {TOKEN}  \r\n", encoding="utf-8")  # Notepad's BOM, CRLF
    assert token_from_file(file) == TOKEN


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("", "没有找到设备令牌"),
        ("two words here", "没有找到设备令牌"),
        (f"{TOKEN}\n{TOKEN[:-1]}A", "多个令牌"),
    ],
)
def test_a_file_without_one_token_is_refused_in_chinese(
    tmp_path: Path, content: str, error: str
) -> None:
    file = tmp_path / "token.txt"
    file.write_text(content, encoding="utf-8")
    with pytest.raises(TokenFileError, match=error):
        token_from_file(file)
    with pytest.raises(TokenFileError, match="没有这个文件"):
        token_from_file(tmp_path / "missing.txt")


async def test_token_read_from_a_usb_file_is_masked_and_saved(
    settings: Settings, tmp_path: Path
) -> None:
    usb = tmp_path / "usb"
    usb.mkdir()
    (usb / "token.txt").write_text(f"shown once:\n{TOKEN}\n", encoding="utf-8")
    config = tmp_path / "config.toml"
    app = make_app(settings, config_path=config)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_settings(pilot)
        app.screen.query_one("#settings-form").scroll_end(animate=False)
        await settle(pilot)
        assert "[keymap]" in "".join(screen_text(app).split())  # brackets shown as typed
        await type_into(pilot, "#token-file", str(usb / "token.txt"))
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert app.screen.query_one("#token").value == TOKEN
        text = screen_text(app)
        assert "已从文件读取令牌" in text
        assert TOKEN[:12] not in text  # masked
        await pilot.press("ctrl+t")  # shown on request, to check it
        await settle(pilot)
        app.screen.query_one("#token").scroll_visible(animate=False)
        await settle(pilot)
        assert TOKEN[:12] in screen_text(app)
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert load_settings(config).token == TOKEN


async def test_token_can_be_pasted(settings: Settings, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    app = make_app(settings, config_path=config)
    async with app.run_test(size=(60, 20)) as pilot:
        await open_settings(pilot)
        field = app.screen.query_one("#token")
        field.focus()
        app.copy_to_clipboard(TOKEN)
        await pilot.press("ctrl+v")
        await settle(pilot)
        assert field.value == TOKEN
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert load_settings(config).token == TOKEN


async def test_a_bad_token_file_says_why_and_keeps_the_field(
    settings: Settings, tmp_path: Path
) -> None:
    app = make_app(settings.model_copy(update={"token": "old-token-value-123456"}))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_settings(pilot)
        await pilot.press("ctrl+o")  # no path yet
        await settle(pilot)
        assert "请先输入令牌文件的路径" in screen_text(app)
        await type_into(pilot, "#token-file", str(tmp_path / "nope.txt"))
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert "没有这个文件" in screen_text(app)
        assert app.screen.query_one("#token").value == "old-token-value-123456"


# -- keys are never lost --------------------------------------------------------------------


async def test_an_enter_pressed_while_home_loads_opens_the_work_order(
    settings: Settings,
) -> None:
    """The list takes seconds on a loaded laptop; an Enter pressed meanwhile is done
    when it arrives (here the settings load is held until the key was pressed)."""
    seed_order(settings)
    release = threading.Event()

    def slow_settings() -> Settings:
        release.wait(timeout=30)
        return settings

    app = make_app(settings_loader=slow_settings, language="zh")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        home = app.screen
        assert app.focused is not None and app.focused.id == "orders"
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is home and not home.loaded
        assert "列表一出现" in screen_text(app)
        release.set()
        await settle(pilot)
        await settle(pilot)
        assert type(app.screen).__name__ == "VisitScreen", screen_text(app)


# -- home: where each unfinished visit stands ----------------------------------------------


async def test_home_step_column_shows_the_current_step_of_the_run(settings: Settings) -> None:
    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await open_procedure(pilot, "indoor-purge")
        total = len(screen.run.procedure.steps)
        for _ in range(2):  # "no" to the first two refusal checks (altered? concealed?)
            await pilot.press("f8")
            await settle(pilot)
        current = screen.run.procedure.steps.index(screen.run.current) + 1
        assert current == 3
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "HomeScreen"
        table = app.screen.query_one("#visits")
        assert table.row_count == 1
        assert str(table.get_row_at(0)[-1]) == f"{current}/{total}"
        assert f"{current}/{total}" in screen_text(app)


# -- seal numbers as technicians type them ------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "seals"),
    [
        ("QF21、QF22", ["QF21", "QF22"]),
        ("QF21，QF22, QF23", ["QF21", "QF22", "QF23"]),
        ("QF21 QF22\u3000QF23;QF24；QF25", ["QF21", "QF22", "QF23", "QF24", "QF25"]),
        (" QF21 ", ["QF21"]),
        ("、，", []),
    ],
)
def test_seal_numbers_split_on_every_separator(typed: str, seals: list[str]) -> None:
    assert split_list(typed) == seals


async def test_meter_swap_stores_seals_typed_with_the_enumeration_comma(
    settings: Settings, repo: object
) -> None:
    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        visit = await open_visit(pilot)
        await pilot.press("ctrl+y")
        await settle(pilot)
        assert isinstance(app.screen, MeterSwapScreen)
        await type_into(pilot, "#swap-new_meter_no", "QF-NEW-9")
        # Typed with a Chinese input method (the pilot presses ASCII keys only).
        seals = app.screen.query_one("#swap-seal_nos")
        seals.focus()
        seals.insert_text_at_cursor("QF21、QF22")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, MeterSwapScreen), screen_text(app)
    swaps = repo.visit_meter_swaps(visit.visit_id)  # type: ignore[attr-defined]
    assert [s.seal_nos for s in swaps] == [["QF21", "QF22"]]


# -- fault lookup ---------------------------------------------------------------------------


async def test_lookup_hits_say_which_device_they_are_for(settings: Settings) -> None:
    app = make_app(settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press(*"baojing")  # 报警: hits on alarms and on a boiler
        await settle(pilot)
        results = app.screen.query_one("#results")
        labels = [str(results.get_option_at_index(i).prompt) for i in range(results.option_count)]
        assert len(labels) >= 2
        devices = {label.rsplit("(", 1)[1].rstrip(")") for label in labels}
        assert {"居民燃气报警器", "美的 壁挂炉"} <= devices, labels


async def test_work_orders_are_listed_before_the_settings_are_loaded(
    settings: Settings,
) -> None:
    """The first glance (standard library only) lists the orders while pydantic and
    SQLAlchemy load; settings that turn out broken take the list away again."""
    from fieldkit.config import ConfigError

    seed_order(settings, "WO-GLANCE")
    release = threading.Event()

    def broken_settings() -> Settings:
        release.wait(timeout=30)
        raise ConfigError("config.toml: language: Input should be 'zh' or 'en'")

    app = make_app(
        settings_loader=broken_settings,
        language="zh",
        first_look=(settings.resolved_db_url(), "T001"),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            if "WO-GLANCE" in screen_text(app):
                break
        assert "WO-GLANCE" in screen_text(app)
        assert app.loaded_settings is None  # still loading
        release.set()
        await settle(pilot)
        text = screen_text(app)
        assert "设置有问题" in text and "WO-GLANCE" not in text
        await pilot.press("enter")  # nothing to open, and no crash
        await settle(pilot)
        assert type(app.screen).__name__ == "HomeScreen"
