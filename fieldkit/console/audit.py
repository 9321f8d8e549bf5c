"""The audit log: who did what, when, to which record, with the changed values."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fieldkit.console import tables as ct
from fieldkit.console.paging import Page, keyset
from fieldkit.sync.server.db import reading


def record(
    conn: Connection, actor: str, action: str, target: str | None, detail: dict[str, Any]
) -> None:
    """Add an entry inside the caller's transaction (it commits with the change itself)."""
    conn.execute(
        ct.audit_log.insert().values(
            id=uuid.uuid4(),
            at=datetime.now(UTC),
            actor=actor[:200],
            action=action,
            target=(target or "")[:200] or None,
            detail=detail,
        )
    )


def entries(engine: Engine, *, actor: str | None, after: str | None, size: int) -> Page:
    a = ct.audit_log
    query = sa.select(a)
    if actor:
        query = query.where(a.c.actor == actor)
    with reading(engine) as conn:
        return keyset(conn, query, (a.c.at, a.c.id), after, size, descending=True)
