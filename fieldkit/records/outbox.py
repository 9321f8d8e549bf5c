"""The outbox: closed visits waiting for the back office, read in pages.

The sync client streams the outbox with :func:`iter_pending` (keyset pages by creation
time), so its memory does not grow with the number of visits waiting, and records each
batch's answers in one transaction with :func:`record_results`.

States: ``pending`` → ``sent`` (the server confirmed it; the row stays as history);
``failed`` (a send failed; retried next time); ``conflict`` (the server holds different
content under this id: kept, waits for a person); ``rejected`` (the server refused the
record, 4xx: set aside with the server's message, not retried, shown to the technician).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Uuid, func, literal, tuple_
from sqlmodel import Session, col, select

from fieldkit.i18n import _
from fieldkit.records.db import Database
from fieldkit.records.models import OutboxItem, OutboxState, UTCDateTime, utcnow

WAITING = (OutboxState.PENDING, OutboxState.FAILED)
DEFAULT_PAGE = 200


class OutboxNotFound(LookupError):
    pass


def pending_outbox(database: Database, limit: int | None = None) -> list[OutboxItem]:
    """Outbox rows still to send (pending, or failed attempts to retry), oldest first.
    Conflicts and rejected rows are not retried: they wait for a person."""
    with database.session(readonly=True) as session:
        query = (
            select(OutboxItem)
            .where(col(OutboxItem.state).in_(WAITING))
            .order_by(col(OutboxItem.created_at), col(OutboxItem.id))
        )
        if limit is not None:
            query = query.limit(limit)
        return list(session.exec(query).all())


def iter_pending(database: Database, page_size: int = DEFAULT_PAGE) -> Iterator[OutboxItem]:
    """The waiting rows, oldest first, read ``page_size`` at a time (each page in its own
    short read transaction): a row confirmed meanwhile is simply not seen again."""
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        with database.session(readonly=True) as session:
            query = select(OutboxItem).where(col(OutboxItem.state).in_(WAITING))
            if after is not None:
                last = tuple_(literal(after[0], UTCDateTime()), literal(after[1], Uuid()))
                query = query.where(tuple_(col(OutboxItem.created_at), col(OutboxItem.id)) > last)
            query = query.order_by(col(OutboxItem.created_at), col(OutboxItem.id))
            rows = list(session.exec(query.limit(page_size)).all())
        if not rows:
            return
        yield from rows
        if len(rows) < page_size:
            return
        after = (rows[-1].created_at, rows[-1].id)


def outbox_items(database: Database, state: OutboxState | str | None = None) -> list[OutboxItem]:
    with database.session(readonly=True) as session:
        query = select(OutboxItem).order_by(col(OutboxItem.created_at))
        if state is not None:
            query = query.where(OutboxItem.state == OutboxState(state))
        return list(session.exec(query).all())


def outbox_count(database: Database) -> int:
    """How many closed visits are waiting to reach the back office."""
    with database.session(readonly=True) as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(OutboxItem)
                .where(col(OutboxItem.state).in_(WAITING))
            ).one()
        )


def _item(session: Session, item_id: uuid.UUID) -> OutboxItem:
    item = session.get(OutboxItem, item_id)
    if item is None:
        raise OutboxNotFound(_("No {what} with id {id}").format(what=_("outbox item"), id=item_id))
    return item


def _sent(item: OutboxItem, ack: Mapping[str, Any] | None, now: datetime) -> None:
    item.state = OutboxState.SENT
    item.server_ack = dict(ack) if ack is not None else None
    item.sent_at = now
    item.updated_at = now
    item.last_error = None


def _flagged(item: OutboxItem, state: OutboxState, detail: str, now: datetime) -> None:
    if item.state == OutboxState.SENT:
        return  # a late failure report never un-sends a confirmed record
    item.state = state
    item.last_error = detail
    item.attempts += 1
    item.updated_at = now


def mark_sent(
    database: Database,
    item_id: uuid.UUID,
    server_ack: Mapping[str, Any] | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> OutboxItem:
    """The server confirmed the record: it leaves the queue (the row stays as history)."""
    with database.session() as session:
        item = _item(session, item_id)
        _sent(item, server_ack, clock())
        session.add(item)
        return item


def _mark(
    database: Database,
    item_id: uuid.UUID,
    state: OutboxState,
    detail: str,
    clock: Callable[[], datetime],
) -> OutboxItem:
    with database.session() as session:
        item = _item(session, item_id)
        _flagged(item, state, detail, clock())
        session.add(item)
        return item


def mark_conflict(
    database: Database, item_id: uuid.UUID, detail: str, clock: Callable[[], datetime] = utcnow
) -> OutboxItem:
    """The server holds different content under this visit id (409): keep ours, flag it."""
    return _mark(database, item_id, OutboxState.CONFLICT, detail, clock)


def mark_failed_attempt(
    database: Database, item_id: uuid.UUID, error: str, clock: Callable[[], datetime] = utcnow
) -> OutboxItem:
    """A send failed (network, 5xx): count it and keep the row for the next sync."""
    return _mark(database, item_id, OutboxState.FAILED, error, clock)


def mark_rejected(
    database: Database, item_id: uuid.UUID, error: str, clock: Callable[[], datetime] = utcnow
) -> OutboxItem:
    """The server refused the record (4xx): set it aside with the server's message."""
    return _mark(database, item_id, OutboxState.REJECTED, error, clock)


def record_results(
    database: Database,
    *,
    sent: Mapping[uuid.UUID, Mapping[str, Any]] | None = None,
    flagged: Mapping[uuid.UUID, tuple[OutboxState, str]] | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """The answers for one batch, in one transaction: ``sent`` (id → server ack) and
    ``flagged`` (id → (conflict | failed | rejected, message))."""
    sent, flagged = sent or {}, flagged or {}
    ids = [*sent, *flagged]
    if not ids:
        return
    now = clock()
    with database.session() as session:
        items = session.exec(select(OutboxItem).where(col(OutboxItem.id).in_(ids))).all()
        for item in items:
            if item.id in sent:
                _sent(item, sent[item.id], now)
            else:
                state, detail = flagged[item.id]
                _flagged(item, state, detail, now)
            session.add(item)
