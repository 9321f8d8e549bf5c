"""Hazards of a visit and their note trail (备注留痕): session-taking queries.

Called by :class:`fieldkit.records.repo.VisitRepository` inside its transaction; each
function works in the caller's session and never commits. Finding a hazard and moving its
status go through :mod:`fieldkit.records.plain_hazards` (plain SQL) in the product;
:func:`add_hazard` and :func:`set_hazard_status` here are the ORM definitions those are
checked against row by row (tests/records/test_plain_hazards.py, bench/bench_stateful.py).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlmodel import Session, col, select

from fieldkit.i18n import _
from fieldkit.records.errors import (
    MAX_LONG_TEXT,
    InvalidHazardTransition,
    RecordsError,
    checked_text,
    get_row,
    open_visit,
)
from fieldkit.records.models import Hazard, HazardLevel, HazardStatus, HazardStatusChange, Visit

HAZARD_NEXT = {
    HazardStatus.PENDING: HazardStatus.RECHECKING,
    HazardStatus.RECHECKING: HazardStatus.FIXED,
}


def check_transition(current: HazardStatus, target: HazardStatus) -> None:
    """A hazard's status only moves one step forward (待整改 → 复查中 → 已整改)."""
    if HAZARD_NEXT.get(current) != target:
        raise InvalidHazardTransition(
            _(
                "A hazard's status only moves forward "
                "(pending → rechecking → fixed): {old} → {new} is not allowed"
            ).format(old=current.value, new=target.value)
        )


def new_hazard(
    visit_id: uuid.UUID,
    *,
    now: datetime,
    description: str,
    level: HazardLevel | str,
    deadline: date | None = None,
    basis: str | None = None,
    hazard_id: uuid.UUID | None = None,
    refusal_code: str | None = None,
) -> Hazard:
    """A hazard found in this visit, checked, as 待整改 (pending); not yet stored (the ORM
    path adds it to its session, :mod:`fieldkit.records.plain_hazards` inserts it)."""
    if not description.strip():
        raise RecordsError(_("Describe the hazard"))
    checked_text("hazard description", description, MAX_LONG_TEXT)
    checked_text("basis", basis, MAX_LONG_TEXT)
    if refusal_code is not None:
        from fieldkit.procedures.models import RefusalCondition

        try:
            refusal_code = RefusalCondition(refusal_code).value
        except ValueError as exc:
            raise RecordsError(_("Unknown refusal class {code}").format(code=refusal_code)) from exc
    return Hazard(
        id=hazard_id or uuid.uuid4(),
        visit_id=visit_id,
        description=description.strip(),
        level=HazardLevel(level),
        status=HazardStatus.PENDING,
        found_at=now,
        deadline=deadline,
        basis=basis,
        refusal_code=refusal_code,
        updated_at=now,
    )


def add_hazard(
    session: Session,
    visit_id: uuid.UUID,
    *,
    now: datetime,
    description: str,
    level: HazardLevel | str,
    deadline: date | None = None,
    basis: str | None = None,
    hazard_id: uuid.UUID | None = None,
    refusal_code: str | None = None,
) -> Hazard:
    """A hazard found in this visit; it starts as 待整改 (pending)."""
    hazard = new_hazard(
        visit_id,
        now=now,
        description=description,
        level=level,
        deadline=deadline,
        basis=basis,
        hazard_id=hazard_id,
        refusal_code=refusal_code,
    )
    open_visit(session, visit_id)
    session.add(hazard)
    return hazard


def set_hazard_status(
    session: Session,
    hazard_id: uuid.UUID,
    status: HazardStatus | str,
    *,
    now: datetime,
    note: str,
    actor: str,
    visit_id: uuid.UUID | None = None,
) -> Hazard:
    """Move a hazard one step forward (待整改 → 复查中 → 已整改) with a note.

    ``visit_id`` is the (open) visit in which the change is made — by default the visit
    that found the hazard; a hazard of a closed visit is rechecked in a new visit (e.g.
    a 复查 visit), which then carries the hazard's new status in its record.
    """
    target = HazardStatus(status)
    if not note.strip():
        raise RecordsError(_("A note is required when a hazard's status changes"))
    hazard: Hazard = get_row(session, Hazard, hazard_id, _("hazard"))
    open_visit(session, visit_id or hazard.visit_id)
    check_transition(hazard.status, target)
    session.add(
        HazardStatusChange(
            hazard_id=hazard.id,
            visit_id=visit_id or hazard.visit_id,
            from_status=hazard.status,
            to_status=target,
            note=note.strip(),
            actor=actor,
            changed_at=now,
        )
    )
    hazard.status = target
    hazard.updated_at = now
    session.add(hazard)
    return hazard


def visit_hazards(session: Session, visit_id: uuid.UUID) -> list[Hazard]:
    """The hazards found in this visit, in the order they were found."""
    get_row(session, Visit, visit_id, _("visit"))
    return list(
        session.exec(
            select(Hazard)
            .where(Hazard.visit_id == visit_id)
            .order_by(col(Hazard.found_at), col(Hazard.id))
        ).all()
    )


def hazard_trail(session: Session, hazard_id: uuid.UUID) -> list[HazardStatusChange]:
    return list(
        session.exec(
            select(HazardStatusChange)
            .where(HazardStatusChange.hazard_id == hazard_id)
            .order_by(col(HazardStatusChange.changed_at))
        ).all()
    )


def open_hazards(session: Session) -> list[Hazard]:
    """Hazards not yet fixed, oldest first."""
    return list(
        session.exec(
            select(Hazard).where(Hazard.status != HazardStatus.FIXED).order_by(col(Hazard.found_at))
        ).all()
    )
