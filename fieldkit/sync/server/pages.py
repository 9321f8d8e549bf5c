"""Keyset pagination for every list the server returns.

A page is ordered by a fixed tuple of columns ending with a unique key; the ``next`` token
is the last row's values of those columns, so the next page starts strictly after it (an
index range scan: as fast on page 10 000 as on page 1, and no row is skipped or repeated
when rows are added meanwhile). Tokens are opaque to clients (base64url of JSON).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fieldkit.sync.server.db import reading

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_TOKEN = 600  # characters of a page token


class PageTokenError(ValueError):
    """The ``after`` token is not one this server handed out."""


def _encode_value(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _decode_value(column: sa.ColumnElement[Any], value: Any) -> Any:
    kind = column.type
    if value is None:
        raise PageTokenError("a page token holds no empty values")
    if isinstance(kind, sa.Uuid):
        return uuid.UUID(str(value))
    if isinstance(kind, sa.DateTime):
        return datetime.fromisoformat(str(value))
    if isinstance(kind, sa.Date):
        return date.fromisoformat(str(value))
    if not isinstance(value, str):
        raise PageTokenError("unexpected value in the page token")
    return value


def encode_token(values: Sequence[Any]) -> str:
    text = json.dumps([_encode_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def decode_token(token: str, columns: Sequence[sa.ColumnElement[Any]]) -> list[Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(values, list) or len(values) != len(columns):
            raise PageTokenError("wrong number of values")
        return [_decode_value(c, v) for c, v in zip(columns, values, strict=True)]
    except (ValueError, TypeError, binascii.Error, UnicodeError) as exc:
        raise PageTokenError(f"not a page token of this list ({exc})") from None


def page(
    engine: Engine,
    query: sa.Select[Any],
    order: Sequence[sa.ColumnElement[Any]],
    *,
    after: str | None,
    limit: int,
    row: Callable[[Any], dict[str, Any]],
) -> dict[str, Any]:
    """One page of ``query`` ordered by ``order``: ``{"items": [...], "next": token|None}``."""
    limit = max(1, min(limit, MAX_LIMIT))
    if after:
        values = decode_token(after, order)
        query = query.where(
            sa.tuple_(*order)
            > sa.tuple_(*[sa.literal(v, type_=c.type) for c, v in zip(order, values, strict=True)])
        )
    query = query.order_by(*order).limit(limit + 1)
    with reading(engine) as conn:
        rows = conn.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    token = None
    if more:
        last = rows[-1]._mapping
        token = encode_token([last[c] for c in order])
    return {"items": [row(r) for r in rows], "next": token}
