"""The procedure runner through the pilot: gates the user sees, and what the database holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fieldkit.config import Settings
from fieldkit.tui.screens.procedure import ProcedureScreen
from fieldkit.tui.widgets.gate import GatePanel
from tests.tui.helpers import (
    make_app,
    open_visit,
    repo_for,
    screen_text,
    seed_order,
    select_procedure,
    settle,
    type_into,
)

__all__ = ["type_into"]  # other test files import it from here


class FakeClock:
    """A clock the test moves forward (the TUI's timers and the engine's holds read it)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


def clocked_app(settings: Settings) -> tuple[Any, FakeClock]:
    app = make_app(settings)
    clock = FakeClock()
    app.services.clock = clock
    return app, clock


async def open_procedure(pilot: Any, procedure_id: str, *, purged: bool = False) -> ProcedureScreen:
    """Home -> start the work order's visit -> run ``procedure_id`` (after a passed
    置换放散 when ``purged``: ignition needs one in the same visit)."""
    await open_visit(pilot)
    if purged:
        await pass_purge(pilot)
    return await run_from_visit(pilot, procedure_id)


async def run_from_visit(pilot: Any, procedure_id: str) -> ProcedureScreen:
    """On the visit screen: highlight ``procedure_id`` and run it (F7)."""
    app = pilot.app
    select_procedure(app.screen, procedure_id)
    await pilot.press("f7")
    await settle(pilot)
    assert isinstance(app.screen, ProcedureScreen)
    return app.screen


async def answer_passing(pilot: Any, screen: ProcedureScreen) -> None:
    """Answer the current check the passing way (F7 yes / F8 no)."""
    step = screen.run.current
    passing_no = step.kind == "check" and step.pass_answer == "no"
    await pilot.press("f8" if passing_no else "f7")
    await settle(pilot)


async def pass_purge(pilot: Any) -> None:
    """From the visit screen: 户内燃气置换放散 with every check passed, then back."""
    screen = await run_from_visit(pilot, "indoor-purge")
    while screen.run.current is not None:
        await answer_passing(pilot, screen)
    assert str(screen.run.status) == "completed", screen_text(pilot.app)
    await pilot.press("escape")
    await settle(pilot)


def events_of(settings: Settings, step_id: str | None = None) -> list[Any]:
    repo = repo_for(settings)
    visit = repo.list_visits()[0]
    state = repo.resume(visit.visit_id)
    events = state.all_events()
    return [e for e in events if step_id is None or e.step_id == step_id]


async def test_failed_tightness_test_blocks_ignition(settings: Settings) -> None:
    seed_order(settings)
    app, clock = clocked_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await open_procedure(pilot, "ignition", purged=True)
        assert screen.run.current.id == "tightness-test"
        assert "严密性试验" in screen_text(app)

        # Start reading: 6 kPa; the hold starts and the countdown shows.
        screen.query_one("#unit").value = "kPa"
        await type_into(pilot, "#start", "6")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "已保存" in screen_text(app)
        assert [e.kind for e in events_of(settings, "tightness-test")] == ["reading_started"]

        # The end reading before the hold is over is refused by the engine.
        await type_into(pilot, "#end", "5.5")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "时间未到" in screen_text(app)
        assert [e.kind for e in events_of(settings, "tightness-test")] == ["reading_started"]

        clock.advance(16)  # the shipped 15-minute hold, on the injected clock
        await pilot.press("ctrl+s")  # 5.5 kPa after 6: a pressure drop
        await settle(pilot)
        gate = screen.query_one("#gate", GatePanel)
        assert gate.shown
        text = screen_text(app)
        assert "不合格" in text and "点火及之后所有步骤均已禁止" in text

        # Trying to answer the ignition steps does nothing: the job is held.
        await pilot.press("f7")
        await pilot.press("f7")
        await settle(pilot)
        assert screen.run.current.id == "tightness-test"
        assert events_of(settings, "alarm-cutoff-test") == []
        kinds = [e.kind for e in events_of(settings, "tightness-test")]
        assert kinds[-2:] == ["revoked", "gate_triggered"], kinds

        # The way forward the engine offers: record the repair, then test again.
        await pilot.press("ctrl+r")
        await type_into(pilot, "#repair-line", "tightened the union nut")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not gate.shown
        assert screen.run.current.id == "tightness-test"
        repair = [e for e in events_of(settings) if e.kind == "repair_recorded"]
        assert repair and repair[0].value["description"] == "tightened the union nut"

        screen.query_one("#unit").value = "kPa"
        await type_into(pilot, "#start", "6")
        await pilot.press("ctrl+s")
        clock.advance(16)
        await type_into(pilot, "#end", "6")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert screen.run.current.id == "alarm-cutoff-test"
        assert "报警器" in screen_text(app)
    established = [e for e in events_of(settings) if e.kind == "established"]
    assert [e.value["fact"] for e in established] == ["tightness_passed"]


async def test_private_alteration_refuses_gas_and_closes_the_visit(settings: Settings) -> None:
    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await open_procedure(pilot, "indoor-purge")
        assert screen.run.current.id == "private-alteration"
        assert "私自改造" in screen_text(app)
        await type_into(pilot, "#note", "厨房管道改到阳台")
        await pilot.press("f7")  # yes: the piping was altered privately
        await settle(pilot)
        # One key does not refuse gas: the consequence is spelled out first.
        assert type(app.screen).__name__ == "ConfirmScreen"
        assert "不予通气" in screen_text(app)
        await pilot.press("ctrl+s")  # yes, refuse gas
        await settle(pilot)
        assert screen.query_one("#gate", GatePanel).shown
        text = screen_text(app)
        assert "不予通气" in text
        assert "户内燃气管道私自改造" in text

        # Nothing more can be answered; the only way on is closing as 不予通气.
        await pilot.press("f8")
        await settle(pilot)
        assert [e.kind for e in events_of(settings, "concealed-piping")] == []

        await pilot.press("ctrl+g")
        await settle(pilot)
        assert type(app.screen).__name__ == "CloseVisitScreen"
        assert "不予通气" in screen_text(app)
        assert app.screen.outcomes == ("refused_gas",)  # no other way to end this job
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert type(app.screen).__name__ == "HomeScreen"

    repo = repo_for(settings)
    visit = repo.list_visits()[0]
    record = repo.get_visit(visit.visit_id)
    assert str(record.outcome.value) == "refused_gas"
    assert "户内燃气管道私自改造" in (record.outcome_reason or "")
    assert "厨房管道改到阳台" in (record.outcome_reason or "")
    assert repo.outbox_count() == 1
    refused = [e for e in events_of(settings) if e.kind == "refused"]
    assert refused[0].value["refusal_code"] == "private_alteration"


async def test_interrupted_visit_resumes_where_it_stopped(settings: Settings) -> None:
    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await open_procedure(pilot, "indoor-purge")
        await pilot.press("f8")  # not altered
        await settle(pilot)
        assert screen.run.current.id == "concealed-piping"
        assert "已保存" in screen_text(app)
    # The app is gone (lid closed); a new one starts on the same database.
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "未完成的上门" in text and "张三" in text
        app.screen.query_one("#visits").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert "未完成" in screen_text(app)
        await pilot.press("f7")
        await settle(pilot)
        assert isinstance(app.screen, ProcedureScreen)
        assert app.screen.run.current.id == "concealed-piping"
        assert "包管" in screen_text(app)
    answered = [e for e in events_of(settings) if e.kind == "answered"]
    assert [e.step_id for e in answered] == ["private-alteration"]


async def test_every_procedure_in_the_library_opens_at_its_first_step(
    settings: Settings,
) -> None:
    from fieldkit.procedures.library import load_procedures

    procedures, _problems = load_procedures()
    assert {"community-gas-connection", "indoor-purge", "ignition", "stove-wont-light"} <= set(
        procedures
    )
    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#orders").focus()
        await pilot.press("enter")
        await settle(pilot)
        visit_screen = app.screen
        for proc_id, procedure in procedures.items():
            visit_screen.query_one("#procedures").highlighted = visit_screen._procedure_ids.index(
                proc_id
            )
            await pilot.press("f7")
            await settle(pilot)
            assert isinstance(app.screen, ProcedureScreen)
            first = procedure.steps[0]
            assert app.screen.run.current.id == first.id
            text = screen_text(app)
            assert "第 1/" in text, text
            footer = text.splitlines()[-1]
            assert "返回" in footer
            await pilot.press("escape")
            await settle(pilot)


async def test_an_answer_that_cannot_be_saved_is_not_acknowledged(
    settings: Settings, tmp_path: Path
) -> None:
    import sqlite3

    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await open_procedure(pilot, "indoor-purge")
        # Another writer holds the database (a stuck process, a dying disk): the save fails.
        blocker = sqlite3.connect(tmp_path / "visits.db", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            await pilot.press("f8")
            await settle(pilot)
            text = screen_text(app)
            assert "未保存" in text and "已保存" not in text
            assert screen.run.current.id == "private-alteration"  # rebuilt from the disk
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert events_of(settings, "private-alteration") == []
        await pilot.press("f8")
        await settle(pilot)
        assert "已保存" in screen_text(app)
        assert screen.run.current.id == "concealed-piping"
    assert [e.kind for e in events_of(settings, "private-alteration")] == ["answered"]


async def test_a_symptom_finding_opens_its_fault_entry(settings: Settings) -> None:
    from fieldkit.diagnostics.catalog import default_catalog
    from fieldkit.tui.screens.lookup import LookupScreen

    seed_order(settings)
    app = make_app(settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = await open_procedure(pilot, "stove-wont-light")
        await pilot.press("f7")  # the meter has gas left
        await settle(pilot)
        assert screen.run.current.id == "meter-battery"
        await pilot.press("f7")  # the meter shows 低电关阀: low battery
        await settle(pilot)
        text = screen_text(app)
        assert "查明原因" in text and "meihua-ic.06" in text
        await pilot.press("f3")
        await settle(pilot)
        assert isinstance(app.screen, LookupScreen)
        entry = default_catalog().entry("meihua-ic.06")
        assert entry.symptom.zh[:8] in screen_text(app)
