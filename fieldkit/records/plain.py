"""Plain-SQL reads on the visit session's hot path (SQLite's own driver, no ORM).

The session service reads the visit's facts on every restore and its hazards on every
call; the ORM's identity map and type processing cost ten times the query. These read the
same rows the ORM writes (UUIDs as 32 hex digits, timestamps as naive UTC text, JSON as
text) in one transaction. A row is decoded once per distinct content: the decoded event
is kept keyed by the whole raw row, so a changed row is decoded afresh and nothing is read
from anywhere but the database.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from fieldkit.procedures.engine import EventKind, StepEvent
from fieldkit.records.db import Database
from fieldkit.records.models import HazardLevel, HazardStatus
from fieldkit.safety import HazardFacts, RunFacts, VisitFacts

# the visit's runs (oldest first, ties by id) with their events in engine order
_EVENTS_OF_VISIT = """
SELECT r.id, r.procedure_id, e.id, e.step_id, e.kind, e.value, e.passed, e.at, e.actor
FROM procedure_run AS r LEFT OUTER JOIN step_result AS e ON e.run_id = r.id
WHERE r.visit_id = ? ORDER BY r.started_at, r.id, e.seq
"""
# the visit's hazards (oldest first) with the time of their latest move to 已整改
_HAZARDS_OF_VISIT = f"""
SELECT h.id, h.level, h.status, h.refusal_code, h.found_at, h.updated_at, h.description,
  (SELECT max(c.changed_at) FROM hazard_status_change AS c
   WHERE c.hazard_id = h.id AND c.to_status = '{HazardStatus.FIXED.value}')
FROM hazard AS h WHERE h.visit_id = ? ORDER BY h.found_at, h.id
"""
_RUN_VERSIONS = "SELECT id, procedure_version FROM procedure_run WHERE visit_id = ?"
_VISIT_EXISTS = "SELECT 1 FROM visit WHERE id = ?"
_VISIT_TYPE = "SELECT visit_type FROM visit WHERE id = ?"
_RUN_HEADS = (
    "SELECT id, procedure_id, status FROM procedure_run WHERE visit_id = ? ORDER BY started_at, id"
)
_SIGNED = "SELECT 1 FROM customer_signature WHERE visit_id = ?"


@contextmanager
def reading(database: Database, *, snapshot: bool = True) -> Iterator[sqlite3.Connection]:
    """The driver's connection: one consistent snapshot (a deferred transaction) for
    several queries; ``snapshot=False`` for one query (a statement is atomic by itself)."""
    proxy = database.engine.raw_connection()
    try:
        connection = proxy.driver_connection
        assert isinstance(connection, sqlite3.Connection)
        if not snapshot:
            yield connection
            return
        connection.execute("BEGIN")
        try:
            yield connection
        finally:
            connection.execute("COMMIT")  # read only: nothing to keep or undo
    finally:
        proxy.close()


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@lru_cache(maxsize=16384)
def _event(row: tuple[object, ...]) -> StepEvent:
    run, _procedure, event, step, kind, value, passed, at, actor = row
    assert isinstance(value, str) and isinstance(at, str)
    # saved by this layer from validated engine events: built without validating again
    return StepEvent.model_construct(
        event_id=uuid.UUID(str(event)),
        run_id=uuid.UUID(str(run)),
        step_id=str(step),
        kind=EventKind(str(kind)),
        value=json.loads(value),
        passed=None if passed is None else bool(passed),
        at=_time(at),
        actor=str(actor),
    )


@lru_cache(maxsize=4096)
def _hazard(row: tuple[object, ...]) -> HazardFacts:
    hazard, level, status, refusal_code, found_at, updated_at, description, fixed_at = row
    fixed = status == HazardStatus.FIXED.value
    return HazardFacts(
        hazard_id=uuid.UUID(str(hazard)),
        major=level == HazardLevel.MAJOR.value,
        refusal_code=None if refusal_code is None else str(refusal_code),
        found_at=_time(str(found_at)),
        # the latest move to 已整改 (its status change), or the row's last update
        fixed_at=_time(str(fixed_at or updated_at)) if fixed else None,
        description=str(description),
    )


def hazards_of(connection: sqlite3.Connection, visit_id: uuid.UUID) -> tuple[HazardFacts, ...]:
    return tuple(_hazard(tuple(r)) for r in connection.execute(_HAZARDS_OF_VISIT, (visit_id.hex,)))


def facts_of(connection: sqlite3.Connection, visit_id: uuid.UUID) -> VisitFacts:
    runs: list[RunFacts] = []
    current: str | None = None
    procedure = ""
    events: list[StepEvent] = []
    for row in connection.execute(_EVENTS_OF_VISIT, (visit_id.hex,)):
        if row[0] != current:
            if current is not None:
                runs.append(RunFacts(uuid.UUID(current), procedure, tuple(events), len(runs)))
            current, procedure, events = row[0], row[1], []
        if row[2] is not None:  # a run saved without events yet
            events.append(_event(tuple(row)))
    if current is not None:
        runs.append(RunFacts(uuid.UUID(current), procedure, tuple(events), len(runs)))
    return VisitFacts(visit_id, tuple(runs), hazards_of(connection, visit_id))


def visit_exists(connection: sqlite3.Connection, visit_id: uuid.UUID) -> bool:
    return connection.execute(_VISIT_EXISTS, (visit_id.hex,)).fetchone() is not None


def run_versions(connection: sqlite3.Connection, visit_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """The procedure file version each run of the visit was started with."""
    return {
        uuid.UUID(run): int(version)
        for run, version in connection.execute(_RUN_VERSIONS, (visit_id.hex,))
    }


@dataclass(frozen=True)
class RunHead:
    id: uuid.UUID
    procedure_id: str
    status: str


def closing_inputs(
    connection: sqlite3.Connection, visit_id: uuid.UUID
) -> tuple[str, list[RunHead], bool] | None:
    """The visit's type, its runs (oldest first) and whether the customer signed; None
    when there is no such visit."""
    visit = connection.execute(_VISIT_TYPE, (visit_id.hex,)).fetchone()
    if visit is None:
        return None
    heads = [
        RunHead(uuid.UUID(run), procedure, status)
        for run, procedure, status in connection.execute(_RUN_HEADS, (visit_id.hex,))
    ]
    signed = connection.execute(_SIGNED, (visit_id.hex,)).fetchone() is not None
    return str(visit[0]), heads, signed


def run_status(connection: sqlite3.Connection, run_id: uuid.UUID) -> str:
    row = connection.execute("SELECT status FROM procedure_run WHERE id = ?", (run_id.hex,))
    return str(row.fetchone()[0])
