"""Accounts and device tokens.

A token is ``fk_<id>_<secret>``: the id is public (listed, used to revoke), the secret is
32 random bytes. Only the sha256 of the whole token is stored — the token is high-entropy,
so a fast hash is enough (no password stretching needed) and lookup is one indexed query.
An admin command prints the token once; it cannot be shown again.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fieldkit.i18n import N_
from fieldkit.sync.server import tables as t
from fieldkit.sync.server.db import reading
from fieldkit.sync.server.texterror import TextError

Role = Literal["admin", "technician"]
ROLES: tuple[str, ...] = ("admin", "technician")


class AuthError(TextError):
    """A back-office account or token operation that cannot be done (a msgid + params)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: an admin (sees everything) or a technician (sees their own)."""

    account_id: uuid.UUID
    login: str
    role: str
    token_id: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def create_account(engine: Engine, login: str, role: Role, name: str | None = None) -> uuid.UUID:
    login = login.strip()
    if not login:
        raise AuthError(N_("the login (technician id) must not be empty"))
    if len(login) > 64:
        raise AuthError(N_("the login (technician id) is longer than 64 characters"))
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in login):
        raise AuthError(
            N_("the login (technician id) must not contain spaces or control characters")
        )
    if role not in ROLES:
        raise AuthError(
            N_("unknown role {role!r}; use one of {roles}"),
            {"role": role, "roles": ", ".join(ROLES)},
        )
    with engine.begin() as conn:
        exists = conn.execute(sa.select(t.account.c.id).where(t.account.c.login == login)).first()
        if exists is not None:
            raise AuthError(N_("an account {login!r} already exists"), {"login": login})
        account_id = uuid.uuid4()
        conn.execute(
            t.account.insert().values(
                id=account_id,
                login=login,
                name=name,
                role=role,
                created_at=_now(),
                disabled=False,
            )
        )
    return account_id


def issue_token(engine: Engine, login: str, label: str | None = None) -> tuple[str, str]:
    """A new token for ``login``: returns (token id, token). The token is never stored."""
    with engine.begin() as conn:
        row = conn.execute(sa.select(t.account.c.id).where(t.account.c.login == login)).first()
        if row is None:
            raise AuthError(N_("no account {login!r}"), {"login": login})
        token_id = secrets.token_hex(4)
        token = f"fk_{token_id}_{secrets.token_urlsafe(32)}"
        conn.execute(
            t.token.insert().values(
                id=token_id,
                account_id=row.id,
                token_hash=hash_token(token),
                label=label,
                created_at=_now(),
                revoked_at=None,
            )
        )
    return token_id, token


def revoke_token(engine: Engine, token_id: str) -> None:
    with engine.begin() as conn:
        done = conn.execute(
            t.token.update()
            .where(t.token.c.id == token_id, t.token.c.revoked_at.is_(None))
            .values(revoked_at=_now())
        )
        if done.rowcount == 0:
            raise AuthError(N_("no active token with id {id!r}"), {"id": token_id})


def revoke_all(engine: Engine, login: str) -> int:
    """Revoke every token of an account (a lost laptop); returns how many."""
    with engine.begin() as conn:
        row = conn.execute(sa.select(t.account.c.id).where(t.account.c.login == login)).first()
        if row is None:
            raise AuthError(N_("no account {login!r}"), {"login": login})
        done = conn.execute(
            t.token.update()
            .where(t.token.c.account_id == row.id, t.token.c.revoked_at.is_(None))
            .values(revoked_at=_now())
        )
        return int(done.rowcount)


def list_accounts(engine: Engine) -> list[dict[str, object]]:
    with reading(engine) as conn:
        accounts = conn.execute(sa.select(t.account).order_by(t.account.c.login)).all()
        tokens = conn.execute(sa.select(t.token).order_by(t.token.c.created_at)).all()
    out = []
    for a in accounts:
        out.append(
            {
                "login": a.login,
                "name": a.name,
                "role": a.role,
                "tokens": [
                    {
                        "id": tk.id,
                        "label": tk.label,
                        "created_at": tk.created_at,
                        "revoked": tk.revoked_at is not None,
                    }
                    for tk in tokens
                    if tk.account_id == a.id
                ],
            }
        )
    return out


def authenticate(conn: Connection, token_value: str) -> Principal | None:
    """The principal behind a token, or None when the token is unknown or revoked."""
    row = conn.execute(
        sa.select(t.token.c.id, t.token.c.revoked_at, t.account.c.id.label("account_id"))
        .add_columns(t.account.c.login, t.account.c.role, t.account.c.disabled)
        .join(t.account, t.account.c.id == t.token.c.account_id)
        .where(t.token.c.token_hash == hash_token(token_value))
    ).first()
    if row is None or row.revoked_at is not None or row.disabled:
        return None
    return Principal(account_id=row.account_id, login=row.login, role=row.role, token_id=row.id)
