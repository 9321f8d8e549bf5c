"""Hazards found and moved forward, and a mistaken run discarded, with plain SQL.

The same checks, in the same order, with the same errors as the ORM functions
(:func:`fieldkit.records.hazards.add_hazard`, :func:`~fieldkit.records.hazards.set_hazard_status`,
:func:`fieldkit.records.runs.discard_run`), and the same rows
(``tests/records/test_plain_hazards.py`` compares them column by column); a technician
records hazards and opens runs many times a visit, and the ORM's unit of work cost ten times
the statements. Each function works in the caller's transaction
(:func:`fieldkit.records.plain_save.writing`).
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import date, datetime

from fieldkit.i18n import _
from fieldkit.records.errors import (
    EventConflict,
    NotFound,
    RecordsError,
)
from fieldkit.records.hazards import check_transition, new_hazard
from fieldkit.records.models import Hazard, HazardLevel, HazardStatus
from fieldkit.records.plain import _time
from fieldkit.records.plain_save import open_visit, stamp

_INSERT_HAZARD = (
    "INSERT INTO hazard (id, visit_id, description, level, status, found_at, deadline, basis, "
    "refusal_code, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_CHANGE = (
    "INSERT INTO hazard_status_change (id, hazard_id, visit_id, from_status, to_status, note, "
    "actor, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_HAZARD = (
    "SELECT visit_id, description, level, status, found_at, deadline, basis, refusal_code "
    "FROM hazard WHERE id = ?"
)


def add_hazard(
    connection: sqlite3.Connection,
    visit_id: uuid.UUID,
    *,
    now: datetime,
    description: str,
    level: HazardLevel | str,
    deadline: date | None = None,
    basis: str | None = None,
    refusal_code: str | None = None,
) -> Hazard:
    """A new hazard (a fresh id) found in this visit; it starts as 待整改 (pending)."""
    hazard = new_hazard(
        visit_id,
        now=now,
        description=description,
        level=level,
        deadline=deadline,
        basis=basis,
        refusal_code=refusal_code,
    )
    open_visit(connection, visit_id)
    connection.execute(
        _INSERT_HAZARD,
        (
            hazard.id.hex,
            visit_id.hex,
            hazard.description,
            hazard.level.value,
            hazard.status.value,
            stamp(now),
            None if deadline is None else deadline.isoformat(),
            basis,
            hazard.refusal_code,
            stamp(now),
        ),
    )
    return hazard


def set_hazard_status(
    connection: sqlite3.Connection,
    hazard_id: uuid.UUID,
    status: HazardStatus | str,
    *,
    now: datetime,
    note: str,
    actor: str,
    visit_id: uuid.UUID | None = None,
) -> Hazard:
    """Move a hazard one step forward (待整改 → 复查中 → 已整改) with a note, in ``visit_id``
    (open; by default the visit that found the hazard)."""
    target = HazardStatus(status)
    if not note.strip():
        raise RecordsError(_("A note is required when a hazard's status changes"))
    row = connection.execute(_HAZARD, (hazard_id.hex,)).fetchone()
    if row is None:
        raise NotFound(_("No {what} with id {id}").format(what=_("hazard"), id=hazard_id))
    found_in, description, level, old, found_at, deadline, basis, refusal_code = row
    where = visit_id or uuid.UUID(found_in)
    open_visit(connection, where)
    current = HazardStatus(old)
    check_transition(current, target)
    connection.execute(
        _INSERT_CHANGE,
        (
            uuid.uuid4().hex,
            hazard_id.hex,
            where.hex,
            current.value,
            target.value,
            note.strip(),
            actor,
            stamp(now),
        ),
    )
    connection.execute(
        "UPDATE hazard SET status = ?, updated_at = ? WHERE id = ?",
        (target.value, stamp(now), hazard_id.hex),
    )
    return Hazard(
        id=hazard_id,
        visit_id=uuid.UUID(found_in),
        description=description,
        level=HazardLevel(level),
        status=target,
        found_at=_time(found_at),
        deadline=None if deadline is None else date.fromisoformat(deadline),
        basis=basis,
        refusal_code=refusal_code,
        updated_at=now,
    )


def discard_run(connection: sqlite3.Connection, visit_id: uuid.UUID, run_id: uuid.UUID) -> None:
    """Delete a run opened by mistake with its derived events; refused once it holds an
    action (an answer, reading, timer, repair, correction or abandonment)."""
    from fieldkit.procedures.engine import ACTION_KINDS

    open_visit(connection, visit_id)
    run = connection.execute(
        "SELECT visit_id FROM procedure_run WHERE id = ?", (run_id.hex,)
    ).fetchone()
    if run is None:
        raise NotFound(_("No {what} with id {id}").format(what=_("run"), id=run_id))
    if run[0] != visit_id.hex:
        raise EventConflict(_("Run {run} belongs to another visit").format(run=run_id))
    kinds = sorted(k.value for k in ACTION_KINDS)
    marks = ", ".join("?" * len(kinds))
    acted = connection.execute(
        f"SELECT 1 FROM step_result WHERE run_id = ? AND kind IN ({marks}) LIMIT 1",
        (run_id.hex, *kinds),
    ).fetchone()
    if acted is not None:
        raise RecordsError(_("A run with answers cannot be discarded"))
    connection.execute("DELETE FROM measurement WHERE run_id = ?", (run_id.hex,))
    connection.execute("DELETE FROM step_result WHERE run_id = ?", (run_id.hex,))
    connection.execute("DELETE FROM procedure_run WHERE id = ?", (run_id.hex,))
