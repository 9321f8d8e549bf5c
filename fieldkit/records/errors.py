"""The records layer's errors and the row look-ups every query module shares."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from fieldkit.i18n import _
from fieldkit.records.models import Visit


class RecordsError(Exception):
    """Base of the errors this module raises; the message is for the technician."""


class NotFound(RecordsError):
    pass


class VisitClosed(RecordsError):
    """The visit is closed (final); a correction is a new visit."""


class InvalidHazardTransition(RecordsError):
    """Hazard status only moves forward: 待整改 → 复查中 → 已整改."""


class PayloadTooLarge(RecordsError):
    """A value exceeds a size limit of the wire schema (the back office would refuse it)."""


class EventConflict(RecordsError):
    """An event id already saved with different content, or an event for another run."""


def aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: pass a timezone-aware time")
    return value.astimezone(UTC)


def get_row(session: Session, model: type[Any], ident: uuid.UUID, what: str) -> Any:
    row = session.get(model, ident)
    if row is None:
        raise NotFound(_("No {what} with id {id}").format(what=what, id=ident))
    return row


def open_visit(session: Session, visit_id: uuid.UUID) -> Visit:
    """The visit, if it is still open (a closed visit is final)."""
    visit: Visit = get_row(session, Visit, visit_id, _("visit"))
    if visit.closed_at is not None:
        raise VisitClosed(
            _(
                "Visit {id} is closed and cannot be changed; "
                "a correction is recorded as a new visit."
            ).format(id=visit_id)
        )
    return visit


MAX_SHORT_TEXT = 200  # as fieldkit.sync.schema.MAX_SHORT: numbers, names, address parts
MAX_LONG_TEXT = 4_000  # as fieldkit.sync.schema.MAX_TEXT: reasons, descriptions


def checked_text(label: str, value: str | None, limit: int = MAX_SHORT_TEXT) -> str | None:
    """``value`` unless it is longer than the back office takes (``label`` is the field's
    msgid): refused when typed, not when the visit is closed with pydantic's English."""
    if value is not None and len(value) > limit:
        raise PayloadTooLarge(
            _("{field} is longer than {n} characters").format(field=_(label), n=limit)
        )
    return value
