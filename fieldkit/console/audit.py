"""The audit log: who did what, when, to which record, with the changed values."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from fieldkit.console import tables as ct


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
