"""The sync action against a real back-office server (uvicorn on loopback, SQLite and
PostgreSQL): the count of records waiting, progress, and a server that is gone."""

from __future__ import annotations

from fieldkit.config import Settings
from fieldkit.tui.screens.sync import SyncScreen
from tests.sync.conftest import Backoffice
from tests.tui.helpers import make_app, repo_for, screen_text, seed_order, settle


def closed_visit(settings: Settings) -> None:
    customer, order = seed_order(settings)
    repo = repo_for(settings)
    visit = repo.start_visit(
        customer_id=customer.id,
        technician_id="T001",
        visit_type="ignition",
        work_order_id=order.id,
    )
    repo.close_visit(visit.id, "not_home", reason="nobody answered the door")
    repo.database.close()


async def wait_finished(pilot, screen: SyncScreen) -> None:  # type: ignore[no-untyped-def]
    for _ in range(200):
        await settle(pilot)
        if not screen.running:
            return
        await pilot.pause(0.05)
    raise AssertionError("the sync did not finish")


async def test_sync_sends_the_waiting_visit(backoffice: Backoffice, settings: Settings) -> None:
    settings = settings.model_copy(
        update={"server_url": backoffice.url, "token": backoffice.tokens["T001"]}
    )
    closed_visit(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "待同步:1" in screen_text(app)
        await pilot.press("f5")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SyncScreen)
        assert "待上传记录:1" in screen_text(app)
        await pilot.press("f5")
        await wait_finished(pilot, screen)
        text = screen_text(app)
        assert "同步完成" in text
        assert "待上传记录:0" in text
    assert repo_for(settings).outbox_count() == 0


async def test_sync_with_the_server_gone_keeps_every_record(settings: Settings) -> None:
    from tests.sync.conftest import free_port

    settings = settings.model_copy(
        update={"server_url": f"http://127.0.0.1:{free_port()}", "token": "x" * 32}
    )
    closed_visit(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        assert isinstance(app.screen, SyncScreen)
        await pilot.press("f5")
        for _ in range(100):
            await pilot.pause(0.05)
            if "服务器无响应" in screen_text(app):
                break
        assert "服务器无响应" in screen_text(app)  # retrying, and saying so
        await pilot.press("escape")  # cancel: stops between attempts
        await settle(pilot)
        assert not isinstance(app.screen, SyncScreen)
        await app.workers.wait_for_complete()
    assert repo_for(settings).outbox_count() == 1
