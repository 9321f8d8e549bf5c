"""Keyset pagination: a page is the rows after the last one shown, by an indexed sort key,
so page 20 000 costs what page 1 costs. The ``after`` token is opaque to the browser."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

DEFAULT_SIZE = 50
MAX_SIZE = 200
MAX_TOKEN = 512


class PagingError(ValueError):
    """The ``after`` token is not one this console made."""


@dataclass
class Page:
    rows: list[Any]
    next: str | None = None  # token for the page after this one
    extra: dict[str, Any] = field(default_factory=dict)


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    if value is None or isinstance(value, int | str):
        return value
    raise TypeError(f"cannot page on {type(value).__name__}")


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((tag, text),) = value.items()
        if tag == "t":
            return datetime.fromisoformat(text)
        if tag == "d":
            return date.fromisoformat(text)
        if tag == "u":
            return uuid.UUID(text)
    if value is None or isinstance(value, int | str):
        return value
    raise PagingError("bad page token")


def encode(values: list[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(token: str, width: int) -> list[Any]:
    if len(token) > MAX_TOKEN:
        raise PagingError("bad page token")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != width:
            raise PagingError("bad page token")
        return [_decode_value(v) for v in values]
    except (binascii.Error, ValueError, TypeError) as exc:
        raise PagingError("bad page token") from exc


def keyset(
    conn: Connection,
    query: sa.Select,
    key: tuple[Any, ...],
    after: str | None,
    size: int,
    *,
    descending: bool = False,
    max_size: int = MAX_SIZE,
) -> Page:
    """Run ``query`` ordered by the columns ``key`` (the last one unique), ``size`` rows
    after the token ``after``."""
    size = max(1, min(size, max_size))
    if after:
        values = decode(after, len(key))
        if any(v is None for v in values):
            raise PagingError("bad page token")
        row_key, bound = (
            sa.tuple_(*key),
            sa.tuple_(*[sa.literal(v, type_=c.type) for v, c in zip(values, key, strict=True)]),
        )
        query = query.where(row_key < bound if descending else row_key > bound)
    order = [c.desc() if descending else c.asc() for c in key]
    rows = conn.execute(query.order_by(*order).limit(size + 1)).all()
    more = len(rows) > size
    rows = rows[:size]
    token = encode([rows[-1]._mapping[c] for c in key]) if more and rows else None
    return Page(rows=rows, next=token)


def batches(conn: Connection, query: sa.Select, key: tuple[Any, ...], limit: int, **kw: Any):
    """Every row of ``query`` (at most ``limit``), fetched page by page (for exports)."""
    after: str | None = None
    seen = 0
    while seen < limit:
        page = keyset(conn, query, key, after, min(1000, limit - seen), max_size=1000, **kw)
        yield from page.rows
        seen += len(page.rows)
        if page.next is None:
            return
        after = page.next
