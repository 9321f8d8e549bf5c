"""A visit without a work order, the meter fields, and the demo session."""

from __future__ import annotations

from fieldkit.config import Settings
from fieldkit.tui.screens.visit import NewVisitScreen, VisitScreen
from tests.tui.helpers import make_app, repo_for, screen_text, settle


async def test_new_visit_without_work_order_and_meter_saved(settings: Settings) -> None:
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, NewVisitScreen)
        await pilot.press("ctrl+s")  # nothing typed: the customer number is required
        await settle(pilot)
        assert "户号必填" in screen_text(app)
        await pilot.press(*"0099001")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, VisitScreen)
        app.screen.query_one("#meter-no").value = "MH-7"
        app.screen.query_one("#seal-nos").value = "A1，A2"
        app.screen.query_one("#meter-reading").value = "abc"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "表底数必须是数字" in screen_text(app)
        app.screen.query_one("#meter-reading").value = "12.5"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "已保存" in screen_text(app)
        visit_id = app.screen.visit_id
        await pilot.press("f8")  # the handover form, from what is saved
        await settle(pilot)
        text = screen_text(app)
        assert "0099001" in text and "MH-7" in text
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, VisitScreen)
    visit = repo_for(settings).get_visit(visit_id)
    assert visit.work_order_id is None
    assert (visit.meter_no, visit.seal_nos, visit.meter_reading) == ("MH-7", ["A1", "A2"], 12.5)


def test_demo_seeds_work_orders_in_its_own_database(settings: Settings) -> None:
    from fieldkit.tui.demo import DEMO_ORDERS, start_demo

    session = start_demo(settings.model_copy(update={"db_url": None, "technician_id": None}))
    try:
        demo = session.settings
        assert demo.technician_id == "DEMO"
        assert demo.resolved_db_url() != settings.resolved_db_url()
        orders = repo_for(demo).open_work_orders(assigned_to="DEMO")
        assert sorted(o.order_no for o in orders) == sorted(o[0] for o in DEMO_ORDERS)
    finally:
        session.stop()


async def test_the_visit_screen_preselects_the_procedure_of_its_type(settings: Settings) -> None:
    repo = repo_for(settings)
    customer = repo.upsert_customer("0012345", name="张三")
    expected = {
        "ignition": "ignition",
        "community_gas_on": "community-gas-connection",
        "repair": None,  # a repair may be any symptom: nothing is implied
    }
    visits = {
        kind: repo.start_visit(customer_id=customer.id, technician_id="T001", visit_type=kind).id
        for kind in expected
    }
    repo.database.close()
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for kind, procedure_id in expected.items():
            await app.push_screen(VisitScreen(visits[kind]))
            await settle(pilot)
            screen = app.screen
            chosen = screen._procedure_ids[screen.query_one("#procedures").highlighted]
            if procedure_id is None:
                assert chosen == screen._procedure_ids[0] and chosen != "stove-wont-light"
            else:
                assert chosen == procedure_id, kind
            await pilot.press("escape")
            await settle(pilot)
