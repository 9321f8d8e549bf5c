"""Fault lookup, service conduct, settings, keymap and the footer, through the pilot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fieldkit.config import Settings, load_settings
from fieldkit.tui.screens.conduct import ConductScreen
from fieldkit.tui.screens.home import HomeScreen
from fieldkit.tui.screens.lookup import LookupScreen
from fieldkit.tui.screens.settings import SettingsScreen
from tests.tui.helpers import make_app, open_settings, screen_text, seed_order, settle


async def test_fault_lookup_searches_as_you_type_and_links_tool_cards(
    settings: Settings,
) -> None:
    app = make_app(settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        assert isinstance(app.screen, LookupScreen)
        await pilot.press(*"err1")  # the code typed loosely
        await settle(pilot)
        text = screen_text(app)
        assert "ERR-1" in text
        assert "美华" in text  # the device is named
        # and the source, worded as the CLI words it (page and item number)
        assert "手册：美华智能燃气表常见故障与排除方法，第8页，第8条" in text
        cards = app.screen._cards
        assert cards, "ERR-1 links to the 美华 fault (repair) card"
        await pilot.press("f7")
        await settle(pilot)
        assert cards[0].name.zh in screen_text(app)

        # Chinese symptom words find entries too; nonsense finds nothing and says so.
        app.screen.query_one("#search").value = ""
        await pilot.press("ctrl+f", *"zzzzqqq")
        await settle(pilot)
        assert "未找到" in screen_text(app)


async def test_service_conduct_shows_the_five_ones_and_forbidden_phrases(
    settings: Settings,
) -> None:
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        assert isinstance(app.screen, ConductScreen)
        text = screen_text(app)
        assert "五个一" in text
        assert "戴上一副手套" in text
        sections = app.screen._sections
        forbidden = next(i for i, s in enumerate(sections) if s.kind == "forbidden_phrases")
        app.screen.query_one("#sections").highlighted = forbidden
        await settle(pilot)
        text = screen_text(app)
        assert "绝不能对用户说" in text
        assert "谁办的事你找谁去" in text


async def test_fault_lookup_names_an_unbranded_device_and_an_outside_source(
    settings: Settings,
) -> None:
    app = make_app(settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press(*"绿色指示灯熄灭")
        await settle(pilot)
        text = screen_text(app)
        assert "居民燃气报警器" in text
        assert "未注明" not in text  # a table naming no brand shows the family alone
        assert "手册：常见报警器故障及判断方法(居民)，第7页，第1条" in text

        app.screen.query_one("#search").value = ""
        await pilot.press("ctrl+f", *"AL 01")
        await settle(pilot)
        app.screen.query_one("#lookup-detail").scroll_end(animate=False)
        await settle(pilot)
        # An entry from outside the manual carries its citation and confidence.
        text = "".join(screen_text(app).split())  # the line wraps in the detail pane
        assert "可信度：S（二手资料）" in text and "service04.ru" in text


def test_the_tui_and_the_cli_word_a_source_alike() -> None:
    from fieldkit.cli.lookup import source_line as cli_source_line
    from fieldkit.textmodel import Confidence, Source
    from fieldkit.tui.screens.lookup import source_line as tui_source_line
    from fieldkit.tui.text import narrow

    manual = Source(kind="manual", section="美华工具卡使用说明", page=12)
    outside = Source(kind="external", citation="a web page", confidence=Confidence.SECONDARY)
    for source in (manual, outside):
        assert tui_source_line(source, 3) == narrow(cli_source_line(source, 3))
    assert tui_source_line(manual, 3) == "手册：美华工具卡使用说明，第12页，第3条"
    assert tui_source_line(None) == ""


async def test_settings_switch_language_and_save_to_the_config_file(
    settings: Settings, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    app = make_app(settings, config_path=config)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_settings(pilot)
        form.query_one("#language").value = "en"
        field = form.query_one("#technician-id")
        field.value = ""
        field.focus()
        await pilot.press(*"T042")
        await pilot.press("ctrl+s")
        await settle(pilot)
        # The screens are rebuilt in English, with the new technician.
        assert isinstance(app.screen, HomeScreen)
        text = screen_text(app)
        assert "Home" in text and "T042" in text
        assert "Faults" in text  # the footer follows the language
    saved = load_settings(config)
    assert saved.language == "en"
    assert saved.technician_id == "T042"
    # The session's --db was not made permanent.
    assert saved.db_url is None


@pytest.mark.parametrize(
    ("address", "problem"),
    [("http://office:99999", "端口必须是 1 到 65535"), ("office.local", "必须以 http://")],
)
async def test_settings_refuse_a_server_address_sync_could_not_use(
    settings: Settings, tmp_path: Path, address: str, problem: str
) -> None:
    config = tmp_path / "config.toml"
    app = make_app(settings, config_path=config)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_settings(pilot)
        field = form.query_one("#server-url")
        field.value = ""
        field.focus()
        await pilot.press(*address)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, SettingsScreen)  # still on the form, the field kept
        text = screen_text(app)
        assert "未保存" in text and "同步服务器地址" in text and problem in text
        assert "Value error" not in text and "pydantic" not in text
        assert field.value == address
    assert not config.exists()


async def test_broken_settings_file_is_reported_and_never_overwritten(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('language = "fr"\ntechnician_id = "T9"\n', encoding="utf-8")

    def loader() -> Settings:
        return load_settings(config)

    from fieldkit.tui.app import FieldkitApp

    app = FieldkitApp(settings_loader=loader, cursor_blink=False, config_path=config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "设置有问题" in text and "language" in text
        await pilot.press("f9")
        await settle(pilot)
        assert "无法读取设置文件" in screen_text(app)
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert config.read_text(encoding="utf-8") == 'language = "fr"\ntechnician_id = "T9"\n'


async def test_keymap_setting_moves_a_binding(settings: Settings) -> None:
    app = make_app(settings.model_copy(update={"keymap": {"app.lookup": "f8"}}))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f3")  # no longer bound
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("f8")
        await settle(pilot)
        assert isinstance(app.screen, LookupScreen)


def test_every_binding_has_an_id_and_a_windows_safe_key() -> None:
    import importlib

    modules = ["app", "screens.home", "screens.visit", "screens.procedure", "screens.lookup"]
    modules += ["screens.conduct", "screens.settings", "screens.sync", "screens.close_visit"]
    modules += ["screens.handover", "screens.meter_swap", "screens.hazards"]
    allowed = {f"f{n}" for n in range(1, 11)} | {"enter", "escape"}
    for name in modules:
        module = importlib.import_module(f"fieldkit.tui.{name}")
        own = [o for o in vars(module).values() if getattr(o, "__module__", "") == module.__name__]
        for obj in own:
            for binding in obj.__dict__.get("BINDINGS", []) if isinstance(obj, type) else []:
                if binding.id is None or not binding.id.split(".")[0]:
                    raise AssertionError(f"{name}: binding {binding.key} has no id")
                key = binding.key
                assert key in allowed or (key.startswith("ctrl+") and len(key) == 6), key
                assert key not in {"ctrl+x", "ctrl+e", "ctrl+a", "ctrl+k", "ctrl+u", "ctrl+w"}, (
                    f"{binding.id}: {key} is taken by text inputs"
                )
                assert key != "ctrl+b", "tmux's prefix"


async def test_80x24_footer_shows_the_current_steps_keys(settings: Settings) -> None:
    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#orders").focus()
        await pilot.press("enter")
        await settle(pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "执行流程" in footer and "结束上门" in footer
        options = app.screen.query_one("#procedures")
        options.highlighted = app.screen._procedure_ids.index("indoor-purge")
        await pilot.press("f7")
        await settle(pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "是/完成" in footer and "否" in footer
        assert "记录维修" not in footer  # offered only while a gate holds the job


async def test_settings_read_after_the_first_paint_can_change_the_language(
    tmp_path: Path, db_url: str
) -> None:
    from fieldkit.tui.app import FieldkitApp

    config = tmp_path / "config.toml"
    config.write_text(f'language = "en"\ndb_url = "{db_url}"\n', encoding="utf-8")
    app = FieldkitApp(
        settings_loader=lambda: load_settings(config), language="zh", cursor_blink=False
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await settle(pilot)
        assert app.loaded_settings is not None
        text = screen_text(app)
        assert "Work orders" in text and "Faults" in text


def footer_keys(app: Any) -> list[tuple[str, str]]:
    """(key as the footer shows it, description) of every binding the footer should list."""
    return [
        (app.get_key_display(binding), binding.description)
        for (_node, binding, _enabled, _tooltip) in app.screen.active_bindings.values()
        if binding.show
    ]


async def test_80x24_visit_footer_shows_every_key_of_the_screen(settings: Settings) -> None:
    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#orders").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "VisitScreen"
        footer = screen_text(app).splitlines()[-1]
        keys = footer_keys(app)
        assert len(keys) >= 7  # the visit screen's own keys, esc and quit
        for key, description in keys:
            assert f"{key} {description}" in footer, (key, description, footer)
        assert "f3" not in footer  # the global F-keys are listed on the home screen only
        await pilot.press("f3")  # and still work here
        await settle(pilot)
        assert isinstance(app.screen, LookupScreen)


async def test_80x24_home_footer_lists_the_global_f_keys(settings: Settings) -> None:
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        footer = screen_text(app).splitlines()[-1]
        for key, description in footer_keys(app):
            assert f"{key} {description}" in footer, (key, description, footer)
        for label in ("f3 故障", "f4 规范", "f5 同步", "f6 设备", "f9 设置", "^q 退出"):
            assert label in footer


@pytest.mark.parametrize("key", ["f3", "f4", "f5", "f6", "f9"])
async def test_80x24_every_global_screen_footer_fits(settings: Settings, key: str) -> None:
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        home = app.screen
        await pilot.press(key)
        await settle(pilot)
        assert app.screen is not home
        footer = screen_text(app).splitlines()[-1]
        keys = footer_keys(app)
        assert keys
        for shown, description in keys:
            assert f"{shown} {description}" in footer, (shown, description, footer)
