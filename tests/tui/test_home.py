"""Home screen: work orders and unfinished visits from the real database."""

from __future__ import annotations

from fieldkit.config import Settings
from fieldkit.tui.screens.home import HomeScreen
from tests.tui.helpers import make_app, repo_for, screen_text, seed_order, settle


async def test_home_lists_open_work_orders_in_chinese(settings: Settings) -> None:
    seed_order(settings, "WO-0042")
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        text = screen_text(app)
        assert "WO-0042" in text
        assert "张三" in text
        assert "通气点火" in text  # the visit type, in Chinese by default
        assert "工单" in text


async def test_home_in_english_when_set(settings: Settings) -> None:
    seed_order(settings)
    app = make_app(settings.model_copy(update={"language": "en"}))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "Work orders" in text
        assert "Gas-on and ignition" in text


async def test_start_visit_from_work_order_records_it(settings: Settings) -> None:
    _customer, order = seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#orders").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "VisitScreen"
        text = screen_text(app)
        assert "0012345" in text
        assert "幸福小区" in text
    repo = repo_for(settings)
    visits = repo.unfinished_visits()
    assert len(visits) == 1
    assert repo.get_visit(visits[0].visit_id).work_order_id == order.id


async def test_no_technician_means_no_visit(settings: Settings) -> None:
    seed_order(settings)
    app = make_app(settings.model_copy(update={"technician_id": None}))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        app.screen.query_one("#orders").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        assert any("工号" in n.message or "技师" in n.message for n in app._notifications)
    assert repo_for(settings).unfinished_visits() == []
