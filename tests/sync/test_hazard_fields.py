"""A hazard's 不予通气 class, its 整改期限 and its fix time travel to the back office (issue 8),
so the server's safety re-derivation sees the same facts as the laptop: a pushed visit with
an open refusal-class hazard and a gas-in step done is flagged; fixed before, it is not."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import get_args

import pytest
import sqlalchemy as sa

from fieldkit.procedures.library import load_procedures_strict
from fieldkit.procedures.models import RefusalCondition
from fieldkit.records.db import Database
from fieldkit.records.repo import VisitRepository
from fieldkit.session import VisitSession
from fieldkit.sync.client import sync_once
from fieldkit.sync.schema import HazardPayload, RefusalClass, content_hash
from fieldkit.sync.server import tables
from tests.session.helpers import FakeClock, complete
from tests.sync.conftest import Backoffice
from tests.sync.test_safety_flags import start_bare_run

SHIPPED = load_procedures_strict()


def _utc(value: datetime) -> datetime:
    """SQLite (the server's test backend) gives naive UTC back; PostgreSQL aware."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def test_the_wire_refusal_classes_are_the_manuals() -> None:
    assert set(get_args(RefusalClass)) == {c.value for c in RefusalCondition}


def test_a_payload_without_the_new_fields_keeps_its_hash() -> None:
    found = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    old = {
        "hazard_id": str(uuid.uuid4()),
        "description": "包管",
        "level": "general",
        "status": "pending",
        "found_at": found.isoformat(),
        "deadline": None,
        "basis": None,
    }
    hazard = HazardPayload.model_validate(old)
    assert hazard.model_dump(mode="json").keys() == old.keys()  # same dump, same hash
    bad = {**old, "fixed_at": found.isoformat()}
    with pytest.raises(ValueError, match="only for a fixed hazard"):
        HazardPayload.model_validate(bad)
    with pytest.raises(ValueError, match="before found_at"):
        HazardPayload.model_validate(
            {**bad, "status": "fixed", "fixed_at": (found - timedelta(days=1)).isoformat()}
        )
    with pytest.raises(ValueError):
        HazardPayload.model_validate({**old, "refusal_code": "not_a_class"})
    assert content_hash  # imported for the hash identity above


def _visit(database: Database, hazard: str) -> tuple[uuid.UUID, uuid.UUID]:
    """Purge done through the session; then a 包管 hazard (refusal class, 整改期限) and the
    ignition run on the bare engine (an old laptop): its gas-in step is done with the hazard
    ``open``, ``fixed_before`` or ``fixed_after`` that step."""
    clock = FakeClock()
    repo = VisitRepository(database, clock=clock, local_tz=UTC)
    customer = repo.upsert_customer(f"H-{uuid.uuid4().hex[:6]}", name="张三")
    visit = repo.start_visit(customer_id=customer.id, technician_id="T001", visit_type="ignition")
    session = VisitSession(repo, SHIPPED, visit.id, actor="T001", clock=clock)
    complete(session, "indoor-purge", clock)
    clock.advance(minutes=1)
    found = repo.add_hazard(
        visit.id,
        description="燃气表被包在橱柜内",
        level="general",
        deadline=date(2026, 3, 9),
        refusal_code="concealed_piping",
    )

    def fix() -> None:
        clock.advance(minutes=1)
        for status in ("rechecking", "fixed"):
            repo.set_hazard_status(found.id, status, note="已拆除包管", actor="T001")

    if hazard == "fixed_before":
        fix()
    procedure = SHIPPED["ignition"]
    clock.advance(minutes=1)
    run, save = start_bare_run(repo, visit.id, procedure, clock)

    clock.advance(minutes=1)
    save(run.answer("tightness-test", {"unit": "kPa", "start": 5.2}))
    clock.advance(minutes=15)
    save(run.answer("tightness-test", {"unit": "kPa", "end": 5.2}))
    clock.advance(minutes=1)
    save(run.answer("alarm-cutoff-test", "yes"))  # a gas-in step of ignition
    if hazard == "fixed_after":
        fix()
    repo.close_visit(visit.id, "incomplete", "客户改期")
    return visit.id, found.id


@pytest.mark.parametrize("hazard", ["open", "fixed_before", "fixed_after"])
def test_a_refusal_class_hazard_reaches_the_server_and_is_judged(
    backoffice: Backoffice, laptop: Database, hazard: str
) -> None:
    visit_id, hazard_id = _visit(laptop, hazard)
    report = sync_once(backoffice.settings("T001"), laptop, lambda _p: None, pull=False)
    assert report.failed is None and report.pushed == 1
    laptop_hazard = VisitRepository(laptop).visit_hazards(visit_id)[0]
    trail = VisitRepository(laptop).hazard_trail(hazard_id)
    with backoffice.engine.connect() as conn:
        row = conn.execute(sa.select(tables.hazard).where(tables.hazard.c.id == hazard_id)).one()
        flags = conn.execute(
            sa.select(tables.visit_safety_flag).where(
                tables.visit_safety_flag.c.visit_id == visit_id
            )
        ).all()
    # the round trip: the same class, deadline and fix time as on the laptop
    assert row.refusal_code == laptop_hazard.refusal_code == "concealed_piping"
    assert row.deadline == laptop_hazard.deadline == date(2026, 3, 9)
    if hazard == "open":
        assert row.status == "pending" and row.fixed_at is None
    else:
        assert row.status == "fixed"
        assert _utc(row.fixed_at) == trail[-1].changed_at
    with backoffice.client("admin") as http:
        listed = http.get("/api/v1/hazards", params={"status": "all", "limit": 500}).json()
    mine = [h for h in listed["items"] if h["hazard_id"] == str(hazard_id)]
    assert mine and mine[0]["refusal_code"] == "concealed_piping"
    # judged as the laptop would: open at the gas-in step → flagged; fixed before → not
    kinds = {(f.kind, "hazard_open" in f.detail) for f in flags}
    if hazard == "fixed_before":
        assert ("ignition_without_gates", True) not in kinds, flags
    else:
        assert ("ignition_without_gates", True) in kinds, flags
        detail = next(f.detail for f in flags if "hazard_open" in f.detail)
        assert "alarm-cutoff-test" in detail and "purge_missing" not in detail
