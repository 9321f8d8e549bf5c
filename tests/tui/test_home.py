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
        assert any("工号" in n or "技师" in n for n in app.notified)
    assert repo_for(settings).unfinished_visits() == []


async def test_todays_and_overdue_orders_come_first_and_are_labelled(settings: Settings) -> None:
    from datetime import date, timedelta

    repo = repo_for(settings)
    customer = repo.upsert_customer("0012345", name="张三", community="幸福小区")
    today = date.today()
    for order_no, when in (
        ("WO-LATER", today + timedelta(days=2)),
        ("WO-NODATE", None),
        ("WO-TODAY", today),
        ("WO-OVERDUE", today - timedelta(days=3)),
    ):
        repo.create_work_order(
            order_no=order_no,
            visit_type="ignition",
            customer_id=customer.id,
            assigned_to="T001",
            scheduled_for=when,
        )
    repo.database.close()
    app = make_app(settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#orders")
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert [r[0] for r in rows] == ["WO-OVERDUE", "WO-TODAY", "WO-LATER", "WO-NODATE"]
        overdue = (today - timedelta(days=3)).strftime("%m-%d")
        assert [r[4] for r in rows] == [
            f"已逾期 {overdue}",
            "今天",
            (today + timedelta(days=2)).isoformat(),
            "-",
        ]
        text = screen_text(app)
        assert "今天到期或已逾期 2 张" in text
        assert text.index("WO-OVERDUE") < text.index("WO-TODAY") < text.index("WO-LATER")
