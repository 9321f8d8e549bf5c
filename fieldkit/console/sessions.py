"""Staff sessions: a random cookie value (only its sha256 is stored), an absolute expiry,
an idle timeout, and a CSRF token bound to the session."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fieldkit.console import tables as ct
from fieldkit.console.staff import Staff
from fieldkit.sync.server.db import reading

LIFETIME = timedelta(hours=12)  # a working day, then sign in again
IDLE = timedelta(hours=2)
TOUCH_EVERY = timedelta(minutes=1)
MAX_COOKIE = 128


@dataclass(frozen=True)
class Session:
    staff: Staff
    csrf_token: str
    expires_at: datetime

    def csrf_ok(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(
            self.csrf_token.encode(), str(presented).encode()
        )


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite drops the offset


def start(engine: Engine, staff: Staff) -> tuple[str, Session]:
    """A new session; returns the cookie value (never stored) and the session."""
    value = secrets.token_urlsafe(32)
    now = _now()
    session = Session(staff, secrets.token_urlsafe(32), now + LIFETIME)
    with engine.begin() as conn:
        conn.execute(
            ct.staff_session.delete().where(
                ct.staff_session.c.staff_id == staff.id, ct.staff_session.c.expires_at < now
            )
        )
        conn.execute(
            ct.staff_session.insert().values(
                id_hash=_hash(value),
                staff_id=staff.id,
                csrf_token=session.csrf_token,
                created_at=now,
                expires_at=session.expires_at,
                last_seen_at=now,
            )
        )
    return value, session


def find(engine: Engine, value: str | None) -> Session | None:
    """The live session behind a cookie value, or None (unknown, expired, idle, disabled)."""
    if not value or len(value) > MAX_COOKIE:
        return None
    s, st = ct.staff_session, ct.staff
    with reading(engine) as conn:
        row = conn.execute(
            sa.select(s, st.c.username, st.c.name, st.c.role, st.c.disabled)
            .join(st, st.c.id == s.c.staff_id)
            .where(s.c.id_hash == _hash(value))
        ).first()
    if row is None or row.disabled:
        return None
    now = _now()
    last_seen = _aware(row.last_seen_at)
    if _aware(row.expires_at) <= now or last_seen + IDLE <= now:
        end(engine, value)
        return None
    if now - last_seen >= TOUCH_EVERY:
        with engine.begin() as conn:
            conn.execute(s.update().where(s.c.id_hash == row.id_hash).values(last_seen_at=now))
    staff = Staff(row.staff_id, row.username, row.name, row.role)
    return Session(staff, row.csrf_token, _aware(row.expires_at))


def end(engine: Engine, value: str | None) -> None:
    if not value or len(value) > MAX_COOKIE:
        return
    with engine.begin() as conn:
        conn.execute(ct.staff_session.delete().where(ct.staff_session.c.id_hash == _hash(value)))
