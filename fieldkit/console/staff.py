"""Staff accounts: username + argon2id password hash, a role, and login throttling.

Separate from the device accounts and tokens of :mod:`fieldkit.sync.server.auth`: a
technician's token never opens the console, and a staff session never reaches the API.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine

from fieldkit.console import tables as ct
from fieldkit.console.audit import record
from fieldkit.sync.server.db import reading

MIN_PASSWORD = 10
MAX_PASSWORD = 256
MAX_FAILURES_PER_USER = 5  # within THROTTLE_WINDOW, then refused until the window passes
MAX_FAILURES_PER_ADDRESS = 30
THROTTLE_WINDOW = timedelta(minutes=15)

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both cases take the same time.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class StaffError(Exception):
    """A staff account operation that cannot be done (message in English; code stable)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Staff:
    id: uuid.UUID
    username: str
    name: str | None
    role: str


def _now() -> datetime:
    return datetime.now(UTC)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise StaffError("weak_password", f"the password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise StaffError("long_password", f"the password has more than {MAX_PASSWORD} characters")
    if password.strip() != password or "\x00" in password:
        raise StaffError("bad_password", "the password must not start or end with spaces")


def create_staff(
    engine: Engine, username: str, role: str, password: str, name: str | None = None
) -> uuid.UUID:
    username = username.strip()
    if not username or len(username) > 200 or any(c.isspace() for c in username):
        raise StaffError("bad_username", "the username must be 1-200 characters without spaces")
    if role not in ct.ROLES:
        raise StaffError("bad_role", f"unknown role {role!r}; use one of {', '.join(ct.ROLES)}")
    check_password(password)
    staff_id = uuid.uuid4()
    with engine.begin() as conn:
        taken = conn.execute(
            sa.select(ct.staff.c.id).where(ct.staff.c.username == username)
        ).first()
        if taken is not None:
            raise StaffError("exists", f"a staff account {username!r} already exists")
        conn.execute(
            ct.staff.insert().values(
                id=staff_id,
                username=username,
                name=name,
                role=role,
                password_hash=_hasher.hash(password),
                created_at=_now(),
                disabled=False,
            )
        )
        record(conn, "(cli)", "staff.create", username, {"role": role})
    return staff_id


def throttled(engine: Engine, username: str, address: str) -> bool:
    """Too many recent failed logins for this username or from this address."""
    since = _now() - THROTTLE_WINDOW
    f = ct.login_failure
    with reading(engine) as conn:
        per_user = conn.execute(
            sa.select(sa.func.count()).where(f.c.username == username, f.c.at >= since)
        ).scalar_one()
        per_address = conn.execute(
            sa.select(sa.func.count()).where(f.c.address == address, f.c.at >= since)
        ).scalar_one()
    return per_user >= MAX_FAILURES_PER_USER or per_address >= MAX_FAILURES_PER_ADDRESS


def authenticate(engine: Engine, username: str, password: str, address: str) -> Staff | None:
    """The staff member if the password is right; a failure is recorded (for throttling and
    the audit log). The caller checks :func:`throttled` first."""
    username = username.strip()[:200]
    with reading(engine) as conn:
        row = conn.execute(sa.select(ct.staff).where(ct.staff.c.username == username)).first()
    ok = False
    try:
        ok = _hasher.verify(row.password_hash if row is not None else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if row is None or row.disabled or not ok:
        with engine.begin() as conn:
            conn.execute(
                ct.login_failure.insert().values(
                    id=uuid.uuid4(), username=username, address=address[:64], at=_now()
                )
            )
            record(conn, username or "?", "login.failed", None, {"address": address[:64]})
        return None
    with engine.begin() as conn:
        if _hasher.check_needs_rehash(row.password_hash):
            conn.execute(
                ct.staff.update()
                .where(ct.staff.c.id == row.id)
                .values(password_hash=_hasher.hash(password))
            )
        conn.execute(
            ct.login_failure.delete().where(
                ct.login_failure.c.username == username,
                ct.login_failure.c.at < _now() - THROTTLE_WINDOW,
            )
        )
        record(conn, row.username, "login", None, {"address": address[:64]})
    return Staff(row.id, row.username, row.name, row.role)


def list_staff(engine: Engine) -> list[dict[str, object]]:
    with reading(engine) as conn:
        rows = conn.execute(
            sa.select(
                ct.staff.c.username,
                ct.staff.c.name,
                ct.staff.c.role,
                ct.staff.c.created_at,
                ct.staff.c.disabled,
            ).order_by(ct.staff.c.username)
        ).all()
    return [dict(r._mapping) for r in rows]
