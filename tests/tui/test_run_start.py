"""Starting a procedure run is atomic: the run row and its "started" event are saved in
one transaction; a run left without events (an old database) is started again cleanly."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from fieldkit.config import Settings
from fieldkit.tui.screens.procedure import ProcedureScreen
from tests.tui.helpers import make_app, repo_for, screen_text, seed_order, settle


def _rows(db_file: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db_file)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


async def _open_first_visit_procedure(pilot: Any, procedure_id: str) -> Any:
    app = pilot.app
    await pilot.press("enter")  # home: the unfinished visit (or the work order)
    await settle(pilot)
    options = app.screen.query_one("#procedures")
    options.highlighted = app.screen._procedure_ids.index(procedure_id)
    await pilot.press("f7")
    await settle(pilot)
    assert isinstance(app.screen, ProcedureScreen)
    return app.screen


async def test_a_run_row_never_exists_without_its_first_event(
    settings: Settings, tmp_path: Path
) -> None:
    db_file = tmp_path / "visits.db"
    seed_order(settings)
    # The disk refuses the step row (a real SQLite trigger aborts the insert): the
    # "started" event cannot be saved, so the run must not be saved either.
    con = sqlite3.connect(db_file)
    con.execute(
        "CREATE TRIGGER refuse_steps BEFORE INSERT ON step_result "
        "BEGIN SELECT RAISE(ABORT, 'disk refused the write'); END"
    )
    con.commit()
    con.close()
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#orders").focus()
        screen = await _open_first_visit_procedure(pilot, "ignition")
        assert screen.run is None
        text = screen_text(app)
        assert "无法开始" in text and "disk refused the write" in text
    assert _rows(db_file, "SELECT id FROM procedure_run") == []
    # Every run row that exists has its started event (checked again after a good start).
    con = sqlite3.connect(db_file)
    con.execute("DROP TRIGGER refuse_steps")
    con.commit()
    con.close()
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await _open_first_visit_procedure(pilot, "ignition")
        assert screen.run.current.id == "tightness-test"
    orphans = _rows(
        db_file,
        "SELECT r.id FROM procedure_run r WHERE NOT EXISTS (SELECT 1 FROM step_result s "
        "WHERE s.run_id = r.id AND s.kind = 'started')",
    )
    assert orphans == []
    assert len(_rows(db_file, "SELECT id FROM procedure_run")) == 1


async def test_a_run_without_events_from_an_old_database_is_left_and_a_new_one_started(
    settings: Settings,
) -> None:
    customer, order = seed_order(settings)
    repo = repo_for(settings)
    visit = repo.start_visit(
        customer_id=customer.id, technician_id="T001", visit_type="ignition", work_order_id=order.id
    )
    # What the old two-transaction start left behind after a crash: a run with no events.
    legacy = repo.start_run(visit.id, procedure_id="ignition", procedure_version=2, actor="T001")
    repo.database.close()
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await _open_first_visit_procedure(pilot, "ignition")
        assert screen.run is not None, screen_text(app)
        assert screen.run.current.id == "tightness-test"
        assert "第 1/" in screen_text(app)
        started = screen.run.run_id
    # The session keeps the empty run in the record (evidence, never rewritten) and runs
    # the procedure in a new run whose row and first event were saved together.
    state = repo_for(settings).resume(visit.id)
    runs = {r.run_id: r for r in state.runs}
    assert set(runs) == {legacy.id, started}
    assert runs[legacy.id].events == []
    assert [e.kind for e in runs[started].events] == ["started"]
