"""The back office re-derives each pushed visit's safety state and flags violations
(issue 8): the visit is stored (evidence), the flag is queryable by an admin token."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from fieldkit.procedures.engine import ProcedureRun, VisitContext
from fieldkit.procedures.library import load_procedures_strict
from fieldkit.records.db import Database
from fieldkit.records.repo import VisitRepository
from fieldkit.sync.client import sync_once
from fieldkit.sync.server import tables
from tests.sync.conftest import Backoffice


def start_bare_run(
    repo: VisitRepository, visit_id: uuid.UUID, procedure: Any, clock: Any
) -> tuple[ProcedureRun, Callable[[list], None]]:
    """A run driven by the bare engine (no visit session, so no safety check): what an
    old or tampered laptop could push. Returns the run and a function saving its events."""
    run = ProcedureRun.start(
        procedure,
        run_id=uuid.uuid4(),
        actor="T001",
        context=VisitContext.new(visit_id),
        clock=clock,
    )
    repo.start_run(
        visit_id,
        procedure_id=procedure.id,
        procedure_version=procedure.version,
        actor="T001",
        run_id=run.run_id,
        events=run.events,
    )

    def save(events: list) -> None:
        repo.record_events(visit_id, run.run_id, events, run_status=run.status.value)

    return run, save


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=20)
        return self.now


def _ignition_without_purge(database: Database) -> uuid.UUID:
    """An old-style visit: the bare engine runs ignition with no purge (the bug of issue 8)."""
    clock = Clock()
    repo = VisitRepository(database, clock=clock, local_tz=UTC)
    procedure = load_procedures_strict()["ignition"]
    customer = repo.upsert_customer(f"S-{uuid.uuid4().hex[:6]}", name="张三")
    visit = repo.start_visit(customer_id=customer.id, technician_id="T001", visit_type="ignition")
    run, save = start_bare_run(repo, visit.id, procedure, clock)

    save(run.answer("tightness-test", {"unit": "kPa", "start": 5.2}))
    clock.now += timedelta(minutes=15)
    save(run.answer("tightness-test", {"unit": "kPa", "end": 5.2}))
    for step_id, value in [
        ("alarm-cutoff-test", "yes"),
        ("meter-closed-valve", "yes"),
        ("battery-valve-open", "yes"),
        ("counter-turns", "yes"),
        ("leak-recheck", "no"),
        ("load-card-gas", True),
        (
            "handover-data",
            {"meter_no": "M1", "seal_nos": ["F1"], "meter_reading": 1.0, "remaining_gas": 2.0},
        ),
        ("customer-sign-off", {"customer_name": "张三"}),
    ]:
        save(run.answer(step_id, value))
    repo.close_visit(visit.id, "completed")
    return visit.id


def _ignition_after_refusal(database: Database) -> uuid.UUID:
    """Gas refused (私改) in the purge, then ignition run anyway by the bare engine."""
    clock = Clock()
    repo = VisitRepository(database, clock=clock, local_tz=UTC)
    library = load_procedures_strict()
    customer = repo.upsert_customer(f"R-{uuid.uuid4().hex[:6]}", name="李四")
    visit = repo.start_visit(customer_id=customer.id, technician_id="T001", visit_type="ignition")
    purge, save_purge = start_bare_run(repo, visit.id, library["indoor-purge"], clock)
    save_purge(purge.answer("private-alteration", "yes"))  # 不予通气
    run, save = start_bare_run(repo, visit.id, library["ignition"], clock)
    save(run.answer("tightness-test", {"unit": "kPa", "start": 5.2}))
    clock.now += timedelta(minutes=15)
    save(run.answer("tightness-test", {"unit": "kPa", "end": 5.2}))
    save(run.answer("alarm-cutoff-test", "yes"))  # a gas-in step while the refusal stands
    repo.close_visit(visit.id, "refused_gas")
    return visit.id


def test_a_visit_violating_an_invariant_is_stored_and_flagged(
    backoffice: Backoffice, laptop: Database
) -> None:
    visit_id = _ignition_without_purge(laptop)
    refused_id = _ignition_after_refusal(laptop)
    report = sync_once(backoffice.settings("T001"), laptop, lambda _p: None, pull=False)
    assert report.failed is None and report.pushed == 2
    with backoffice.engine.connect() as conn:
        stored = conn.execute(sa.select(tables.visit.c.id).where(tables.visit.c.id == visit_id))
        assert stored.one()  # stored, never dropped
    flags: list[dict] = []
    after = None
    with backoffice.client("admin") as http:
        while True:
            params = {"limit": 1, **({"after": after} if after else {})}
            response = http.get("/api/v1/safety-flags", params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            flags += page["items"]
            after = page["next_after"]
            if after is None:
                break
        mine = [f for f in flags if f["visit_id"] == str(visit_id)]
        assert [f["kind"] for f in mine] == ["ignition_without_gates"]
        assert "purge_missing" in mine[0]["detail"]
        assert "alarm-cutoff-test" in mine[0]["detail"]
        refused = [f for f in flags if f["visit_id"] == str(refused_id)]
        assert [f["kind"] for f in refused] == ["gas_in_after_refusal"], refused
        assert "refusal_stands" in refused[0]["detail"]
        assert "alarm-cutoff-test" in refused[0]["detail"]
        assert http.get("/api/v1/safety-flags", params={"limit": 0}).status_code == 422
        assert http.get("/api/v1/safety-flags", params={"limit": 10_000}).status_code == 422
        assert http.get("/api/v1/safety-flags", params={"after": "x"}).status_code == 422
    with backoffice.client("T001") as http:
        assert http.get("/api/v1/safety-flags").status_code == 403
    with backoffice.client(None) as http:
        assert http.get("/api/v1/safety-flags").status_code == 401


def test_the_servers_step_events_are_what_pydantic_would_build() -> None:
    """The push path builds each step result's ``StepEvent`` without pydantic's
    ``model_construct`` (a fifth of its cost): the object is the same in every slot,
    compares equal, dumps the same and validates back to an equal event."""
    from fieldkit.procedures.engine import EventKind, StepEvent
    from fieldkit.sync.server.safety_flags import _event

    fields = {
        "event_id": uuid.uuid4(),
        "run_id": uuid.uuid4(),
        "step_id": "tightness-test",
        "kind": EventKind.ANSWERED,
        "value": {"unit": "kPa", "start": 5.2, "end": 5.2},
        "passed": True,
        "at": datetime(2026, 11, 23, 1, 30, tzinfo=UTC),
        "actor": "T001",
    }
    fast, slow = _event(dict(fields)), StepEvent.model_construct(**fields)
    for slot in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__"):
        assert getattr(fast, slot) == getattr(slow, slot), slot
    assert fast.__pydantic_private__ == slow.__pydantic_private__
    assert type(fast) is StepEvent and fast == slow
    assert fast.model_dump() == slow.model_dump() == fields
    assert StepEvent.model_validate(fast.model_dump()) == fast
