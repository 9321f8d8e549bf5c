"""Hazards found and moved forward, and a mistaken run discarded, with plain SQL: the same
rows, the same answers and the same errors as the ORM functions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from fieldkit.procedures.engine import ProcedureRun, VisitContext
from fieldkit.procedures.library import load_procedures_strict
from fieldkit.records import hazards, runs
from fieldkit.records.db import Database
from fieldkit.records.errors import (
    EventConflict,
    InvalidHazardTransition,
    NotFound,
    PayloadTooLarge,
    RecordsError,
    VisitClosed,
)
from fieldkit.records.models import Hazard
from fieldkit.records.repo import VisitRepository
from fieldkit.records.safety_facts import hazard_facts

MOMENT = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)
HAZARD_COLUMNS = "description, level, status, found_at, deadline, basis, refusal_code, updated_at"
CHANGE_COLUMNS = "from_status, to_status, note, actor, changed_at"


def _repo(db: Database) -> tuple[VisitRepository, uuid.UUID, uuid.UUID]:
    repo = VisitRepository(db, clock=lambda: MOMENT)
    customer = repo.upsert_customer("P-0002", name="李四")
    first = repo.start_visit(customer_id=customer.id, technician_id="T001", visit_type="ignition")
    second = repo.start_visit(customer_id=customer.id, technician_id="T001", visit_type="recheck")
    return repo, first.id, second.id


def _hazard_rows(db: Database, hazard_id: uuid.UUID) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored column but the ids, as SQLite holds them (text, numbers)."""
    with db.engine.connect() as conn:
        hazard = conn.exec_driver_sql(
            f"SELECT visit_id, {HAZARD_COLUMNS} FROM hazard WHERE id = ?", (hazard_id.hex,)
        ).fetchall()
        changes = conn.exec_driver_sql(
            f"SELECT visit_id, {CHANGE_COLUMNS} FROM hazard_status_change WHERE hazard_id = ? "
            "ORDER BY changed_at, to_status DESC",  # rechecking before fixed
            (hazard_id.hex,),
        ).fetchall()
    return {"hazard": hazard, "changes": changes}


def _orm(db: Database, call: Callable[..., Hazard], *args: Any, **kwargs: Any) -> Hazard:
    with db.session() as session:
        return call(session, *args, now=MOMENT, **kwargs)


def _same_object(plain: Hazard, orm: Hazard) -> None:
    for name in Hazard.model_fields:
        if name != "id":
            assert getattr(plain, name) == getattr(orm, name), name


@pytest.mark.parametrize(
    "found",
    [
        {"level": "general"},
        {"level": "major", "deadline": date(2026, 3, 9), "basis": "GB 50028 第10.2.1条"},
        {"level": "general", "refusal_code": "concealed_piping"},
    ],
)
def test_a_hazard_found_and_fixed_is_stored_as_the_orm_stores_it(
    db: Database, found: dict[str, Any]
) -> None:
    repo, visit, recheck = _repo(db)
    orm = _orm(db, hazards.add_hazard, visit, description=" 燃气管穿卧室 ", **found)
    plain = repo.add_hazard(visit, description=" 燃气管穿卧室 ", **found)
    assert _hazard_rows(db, plain.id) == _hazard_rows(db, orm.id)
    _same_object(plain, orm)
    # pending → rechecking in the visit that found it, → fixed in a later (recheck) visit
    moves: list[dict[str, Any]] = [
        {"status": "rechecking", "note": " 已通知整改 ", "actor": "T001"},
        {"status": "fixed", "note": "已改明管", "actor": "T002", "visit_id": recheck},
    ]
    for move in moves:
        orm = _orm(db, hazards.set_hazard_status, orm.id, **move)
        plain = repo.set_hazard_status(plain.id, **move)
        assert _hazard_rows(db, plain.id) == _hazard_rows(db, orm.id)
        _same_object(plain, orm)
    rows = _hazard_rows(db, plain.id)
    assert rows["hazard"][0][3] == "fixed" and len(rows["changes"]) == 2
    assert rows["changes"][1][0] == recheck.hex  # made in the recheck visit
    # and the safety state reads both alike
    with db.session(readonly=True) as session:
        facts = {h.hazard_id: h for h in hazard_facts(session, visit)}
    assert facts[plain.id].fixed_at == facts[orm.id].fixed_at == MOMENT
    assert repo.hazard_facts(visit) == tuple(facts.values())


REFUSED_HAZARDS: list[tuple[dict[str, Any], type[Exception]]] = [
    ({"description": "  ", "level": "general"}, RecordsError),
    ({"description": "x" * 4001, "level": "general"}, PayloadTooLarge),
    ({"description": "隐患", "level": "general", "basis": "y" * 4001}, PayloadTooLarge),
    ({"description": "隐患", "level": "general", "refusal_code": "gas_smell"}, RecordsError),
    ({"description": "隐患", "level": "catastrophic"}, ValueError),
]


@pytest.mark.parametrize(("found", "error"), REFUSED_HAZARDS)
def test_a_hazard_refused_by_the_orm_is_refused_alike(
    db: Database, found: dict[str, Any], error: type[Exception]
) -> None:
    repo, visit, _recheck = _repo(db)
    with pytest.raises(error) as orm:
        _orm(db, hazards.add_hazard, visit, **found)
    with pytest.raises(error) as plain:
        repo.add_hazard(visit, **found)
    assert type(plain.value) is type(orm.value) and str(plain.value) == str(orm.value)
    assert repo.hazard_facts(visit) == ()
    nowhere = uuid.uuid4()
    with pytest.raises(NotFound) as missing:
        repo.add_hazard(nowhere, description="隐患", level="general")
    with pytest.raises(NotFound) as orm_missing:
        _orm(db, hazards.add_hazard, nowhere, description="隐患", level="general")
    assert str(missing.value) == str(orm_missing.value)


def test_a_status_change_refused_by_the_orm_is_refused_alike(db: Database) -> None:
    repo, visit, recheck = _repo(db)
    hazard = repo.add_hazard(visit, description="无管卡", level="major")
    cases: list[tuple[uuid.UUID, dict[str, Any], type[Exception]]] = [
        (hazard.id, {"status": "fixed", "note": "跳过复查"}, InvalidHazardTransition),
        (hazard.id, {"status": "pending", "note": "退回"}, InvalidHazardTransition),
        (hazard.id, {"status": "rechecking", "note": "  "}, RecordsError),
        (hazard.id, {"status": "done", "note": "好了"}, ValueError),
        (uuid.uuid4(), {"status": "rechecking", "note": "无此隐患"}, NotFound),
        (hazard.id, {"status": "rechecking", "note": "别处", "visit_id": uuid.uuid4()}, NotFound),
    ]
    before = _hazard_rows(db, hazard.id)
    for hazard_id, move, error in cases:
        with pytest.raises(error) as plain:
            repo.set_hazard_status(hazard_id, actor="T001", **move)
        with pytest.raises(error) as orm:
            _orm(db, hazards.set_hazard_status, hazard_id, actor="T001", **move)
        assert str(plain.value) == str(orm.value), move
        assert _hazard_rows(db, hazard.id) == before  # nothing written
    # a closed visit takes no change; the hazard moves on in an open (recheck) visit
    repo.close_visit(visit, "incomplete", "隐患待整改")
    with pytest.raises(VisitClosed):
        repo.set_hazard_status(hazard.id, "rechecking", note="复查", actor="T001")
    with pytest.raises(VisitClosed):
        _orm(db, hazards.set_hazard_status, hazard.id, "rechecking", note="复查", actor="T001")
    with pytest.raises(VisitClosed):
        repo.add_hazard(visit, description="新隐患", level="general")
    moved = repo.set_hazard_status(
        hazard.id, "rechecking", note="复查", actor="T001", visit_id=recheck
    )
    assert moved.status == "rechecking" and moved.visit_id == visit


def _run_rows(db: Database, run_id: uuid.UUID) -> tuple[int, int, int]:
    """How many rows the run has: its own, its events, its readings."""
    with db.engine.connect() as conn:

        def count(table: str, column: str) -> int:
            sql = f"SELECT count(*) FROM {table} WHERE {column} = ?"
            return int(conn.exec_driver_sql(sql, (run_id.hex,)).scalar_one())

        return (
            count("procedure_run", "id"),
            count("step_result", "run_id"),
            count("measurement", "run_id"),
        )


def _open_run(repo: VisitRepository, visit: uuid.UUID) -> ProcedureRun:
    clock = iter(MOMENT + timedelta(seconds=n) for n in range(1000))
    run = ProcedureRun.start(
        load_procedures_strict()["ignition"],
        run_id=uuid.uuid4(),
        actor="T001",
        context=VisitContext.new(visit),
        clock=lambda: next(clock),
    )
    repo.start_run(
        visit,
        procedure_id="ignition",
        procedure_version=run.procedure.version,
        actor="T001",
        run_id=run.run_id,
        events=run.events,
        run_status=run.status.value,
    )
    return run


def test_a_run_is_discarded_as_the_orm_discards_it(db: Database) -> None:
    repo, visit, recheck = _repo(db)
    for discard in (
        repo.discard_run,
        lambda visit_id, run_id: _orm_discard(db, visit_id, run_id),
    ):
        mistaken = _open_run(repo, visit)
        answered = _open_run(repo, visit)
        events = answered.answer("tightness-test", {"unit": "kPa", "start": 5.2})
        repo.record_events(visit, answered.run_id, events)
        assert _run_rows(db, answered.run_id) == (1, 2, 1)  # the start reading is saved
        kept = _run_rows(db, answered.run_id)
        with pytest.raises(RecordsError, match=r"不能删除|cannot be discarded"):
            discard(visit, answered.run_id)
        with pytest.raises(EventConflict):
            discard(recheck, mistaken.run_id)
        with pytest.raises(NotFound):
            discard(visit, uuid.uuid4())
        assert _run_rows(db, answered.run_id) == kept and _run_rows(db, mistaken.run_id)[0] == 1
        discard(visit, mistaken.run_id)
        assert _run_rows(db, mistaken.run_id) == (0, 0, 0)
    repo.close_visit(visit, "incomplete", "客户要求改期")
    last = _run_rows(db, answered.run_id)
    with pytest.raises(VisitClosed):
        repo.discard_run(visit, answered.run_id)
    assert _run_rows(db, answered.run_id) == last


def _orm_discard(db: Database, visit_id: uuid.UUID, run_id: uuid.UUID) -> None:
    with db.session() as session:
        runs.discard_run(session, visit_id, run_id)
