"""The engine's events saved with plain SQL (SQLite's own driver, one transaction).

Every answer of a visit goes through here: the ORM's unit of work cost several times the
statements. The rows are exactly those :func:`fieldkit.records.runs.save_events` writes
(``tests/records/test_plain_save.py`` compares them column by column). The cases the ORM
path handles richer are left to it: an event saved again (a retry: compared with what is
stored) and an answer carrying handover data or a customer name (it updates the visit
and the signature). :func:`save` returns None for those, before writing anything.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from fieldkit.i18n import _
from fieldkit.records.db import Database, count_write
from fieldkit.records.errors import EventConflict, NotFound, VisitClosed, aware
from fieldkit.records.queries import FINISHED_RUN_STATUSES
from fieldkit.records.runs import (
    _TERMINAL_KINDS,
    StepEventLike,
    StoredEvent,
    _check_value_size,
    _kind,
    measurements_from_value,
)

CAPTURED = frozenset({"meter_no", "seal_nos", "meter_reading", "remaining_gas", "customer_name"})

_INSERT_EVENT = (
    "INSERT INTO step_result (id, run_id, seq, step_id, kind, value, passed, at, actor, "
    "saved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_MEASUREMENT = (
    "INSERT INTO measurement (id, step_result_id, run_id, step_id, quantity, value, unit, "
    "taken_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_RUN = (
    "INSERT INTO procedure_run (id, visit_id, procedure_id, procedure_version, actor, status, "
    "started_at, ended_at, content_hash, override) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)"
)
_PENDING = (
    "SELECT kind, value FROM step_result WHERE run_id = ? AND step_id = ? "
    "AND kind IN ('answered', 'reading_started') ORDER BY seq DESC LIMIT 1"
)


def stamp(moment: datetime) -> str:
    """A timestamp as the ORM stores it (naive UTC, microseconds)."""
    return aware(moment).astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


@contextmanager
def writing(database: Database) -> Iterator[sqlite3.Connection]:
    """A write transaction (``BEGIN IMMEDIATE``) committed when the block ends, rolled back
    on an exception."""
    proxy = database.engine.raw_connection()
    try:
        connection = proxy.driver_connection
        assert isinstance(connection, sqlite3.Connection)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        count_write()
    finally:
        proxy.close()


def open_visit(connection: sqlite3.Connection, visit_id: uuid.UUID) -> None:
    row = connection.execute("SELECT closed_at FROM visit WHERE id = ?", (visit_id.hex,)).fetchone()
    if row is None:
        raise NotFound(_("No {what} with id {id}").format(what=_("visit"), id=visit_id))
    if row[0] is not None:
        raise VisitClosed(
            _(
                "Visit {id} is closed and cannot be changed; "
                "a correction is recorded as a new visit."
            ).format(id=visit_id)
        )


def plain_enough(events: Sequence[StepEventLike]) -> bool:
    """Events this module saves (no handover data, no customer name)."""
    return not any(_kind(e.kind) == "answered" and CAPTURED & e.value.keys() for e in events)


def save(
    connection: sqlite3.Connection,
    visit_id: uuid.UUID,
    run_id: uuid.UUID,
    events: Sequence[StepEventLike],
    run_status: str | None,
    *,
    now: datetime,
) -> list[StoredEvent] | None:
    """Save one engine action's events in the caller's transaction; None (nothing
    written) when an event is already stored: the ORM path compares it."""
    open_visit(connection, visit_id)
    run = connection.execute(
        "SELECT visit_id, status, ended_at FROM procedure_run WHERE id = ?", (run_id.hex,)
    ).fetchone()
    if run is None:
        raise NotFound(_("No {what} with id {id}").format(what=_("run"), id=run_id))
    if run[0] != visit_id.hex:
        raise EventConflict(_("Run {run} belongs to another visit").format(run=run_id))
    ids = [e.event_id.hex for e in events]
    marks = ",".join("?" * len(ids))
    if (
        ids
        and connection.execute(f"SELECT 1 FROM step_result WHERE id IN ({marks})", ids).fetchone()
    ):
        return None
    last = connection.execute(
        "SELECT max(seq) FROM step_result WHERE run_id = ?", (run_id.hex,)
    ).fetchone()[0]
    seq = -1 if last is None else int(last)
    stored: list[StoredEvent] = []
    saved_at = stamp(now)
    status = run_status
    for event in events:
        if event.run_id != run_id:
            raise EventConflict(
                _("Event {event} belongs to run {other}, not {run}").format(
                    event=event.event_id, other=event.run_id, run=run_id
                )
            )
        kind = _kind(event.kind)
        value = dict(event.value)
        _check_value_size(value)
        at = aware(event.at)
        already = _pending_reading(connection, run_id, event.step_id, kind)
        seq += 1
        connection.execute(
            _INSERT_EVENT,
            (
                event.event_id.hex,
                run_id.hex,
                seq,
                event.step_id,
                kind,
                json.dumps(value),
                None if event.passed is None else int(event.passed),
                stamp(at),
                event.actor,
                saved_at,
            ),
        )
        readings = [
            (uuid.uuid4().hex, event.event_id.hex, run_id.hex, event.step_id, *m.row(), stamp(at))
            for m in measurements_from_value(value)
            if already.get(m.quantity) != m.value  # a held test's start, saved when taken
        ]
        if readings:
            connection.executemany(_INSERT_MEASUREMENT, readings)
        if status is None and kind in _TERMINAL_KINDS:
            status = _TERMINAL_KINDS[kind]
        stored.append(
            StoredEvent(
                event.event_id,
                run_id,
                seq,
                event.step_id,
                kind,
                value,
                event.passed,
                at,
                event.actor,
            )
        )
    status = None if status is None else str(getattr(status, "value", status))
    if status is not None and status != run[1]:
        ended = run[2]
        if status in FINISHED_RUN_STATUSES and ended is None:
            ended = stamp(max((s.at for s in stored), default=now))
        connection.execute(
            "UPDATE procedure_run SET status = ?, ended_at = ? WHERE id = ?",
            (status, ended, run_id.hex),
        )
    return stored


def _pending_reading(
    connection: sqlite3.Connection, run_id: uuid.UUID, step_id: str, kind: str
) -> dict[str, float]:
    """For the answer that ends a held measurement: the start reading already saved."""
    if kind != "answered":
        return {}
    last = connection.execute(_PENDING, (run_id.hex, step_id)).fetchone()
    if last is None or last[0] != "reading_started":
        return {}
    return {m.quantity: m.value for m in measurements_from_value(json.loads(last[1]))}


def insert_run(
    connection: sqlite3.Connection,
    visit_id: uuid.UUID,
    run_id: uuid.UUID,
    *,
    procedure_id: str,
    procedure_version: int,
    actor: str,
    started_at: datetime,
    started: dict[str, Any] | None,
) -> None:
    """The run's row (its ``started`` event's file hash and override kept beside it)."""
    open_visit(connection, visit_id)
    info = started or {}
    content_hash = info.get("content_hash") if isinstance(info.get("content_hash"), str) else None
    override = info.get("override") if isinstance(info.get("override"), dict) else None
    connection.execute(
        _INSERT_RUN,
        (
            run_id.hex,
            visit_id.hex,
            procedure_id,
            int(procedure_version),
            actor,
            "in_progress",
            stamp(started_at),
            content_hash,
            json.dumps(override),  # as the ORM writes it (JSON null when none)
        ),
    )
