"""A first look at the visit database with the standard library only: the open work orders,
the unfinished visits and the count waiting to sync, read-only, without SQLAlchemy.

The TUI's home screen shows these while SQLAlchemy (about a second to import on a field
laptop) and the migration check load behind it; it then shows what the repository reads
(:class:`fieldkit.records.repo.VisitRepository`), which stays the only writer. The glance
is given only when it is sure: a SQLite file that exists and whose schema is at the
migrations' head; otherwise :func:`glance` returns None and the caller waits for the
repository. ``tests/records/test_glance.py`` checks that both read the same.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import unquote

from fieldkit.records.address import address_text

MIGRATIONS = Path(__file__).resolve().parent / "migrations" / "versions"
MAX_ROWS = 500
_REVISION = re.compile(r"^revision(?::\s*str)?\s*=\s*[\"']([^\"']+)[\"']", re.M)
_DOWN = re.compile(r"^down_revision[^=]*=\s*(.+)$", re.M)


@dataclass(frozen=True)
class OrderGlance:
    order_id: uuid.UUID
    order_no: str
    visit_type: str
    customer_id: uuid.UUID
    customer_no: str
    customer_name: str | None
    address: str
    scheduled_for: date | None


@dataclass(frozen=True)
class VisitGlance:
    visit_id: uuid.UUID
    customer_no: str
    customer_name: str | None
    address: str
    visit_type: str
    started_at: datetime


@dataclass(frozen=True)
class Glance:
    orders: list[OrderGlance]
    visits: list[VisitGlance]
    waiting: int


def head_revision(folder: Path = MIGRATIONS) -> str | None:
    """The newest migration (the one no other migration follows), read from the files."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in folder.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        found = _REVISION.search(text)
        if found is None:
            continue
        revisions.add(found.group(1))
        down = _DOWN.search(text)
        if down:
            parents.update(re.findall(r"[\"']([^\"']+)[\"']", down.group(1)))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _sqlite_path(db_url: str) -> Path | None:
    prefix = "sqlite:///"
    if not db_url.startswith(prefix) or "?" in db_url:
        return None
    return Path(unquote(db_url[len(prefix) :]))


def _uuid(value: str) -> uuid.UUID:
    return uuid.UUID(hex=value)


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def glance(db_url: str, technician_id: str | None) -> Glance | None:
    """What the home screen lists, or None when only the repository can say (no file yet,
    another database, a schema to migrate, anything unexpected)."""
    path = _sqlite_path(db_url)
    if path is None or not path.is_file():
        return None
    try:
        con = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error:
        return None
    try:
        (version,) = con.execute("SELECT version_num FROM alembic_version").fetchone()
        if version != head_revision():
            return None
        address = "c.community, c.building, c.unit, c.floor, c.room, c.address_detail"
        query = (
            "SELECT w.id, w.order_no, w.visit_type, w.customer_id, c.customer_no, c.name, "
            f"{address}, w.scheduled_for FROM work_order w JOIN customer c "
            "ON c.id = w.customer_id WHERE w.status = 'open'"
        )
        params: tuple[str, ...] = ()
        if technician_id is not None:
            query += " AND w.assigned_to = ?"
            params = (technician_id,)
        query += f" ORDER BY w.order_no LIMIT {MAX_ROWS}"
        orders = [
            OrderGlance(
                order_id=_uuid(r[0]),
                order_no=r[1],
                visit_type=r[2],
                customer_id=_uuid(r[3]),
                customer_no=r[4],
                customer_name=r[5],
                address=address_text(*r[6:12]),
                scheduled_for=date.fromisoformat(r[12]) if r[12] else None,
            )
            for r in con.execute(query, params)
        ]
        visits = [
            VisitGlance(
                visit_id=_uuid(r[0]),
                customer_no=r[1],
                customer_name=r[2],
                address=address_text(*r[3:9]),
                visit_type=r[9],
                started_at=_utc(r[10]),
            )
            for r in con.execute(
                f"SELECT v.id, c.customer_no, c.name, {address}, v.visit_type, v.started_at "
                "FROM visit v JOIN customer c ON c.id = v.customer_id "
                f"WHERE v.closed_at IS NULL ORDER BY v.started_at DESC LIMIT {MAX_ROWS}"
            )
        ]
        (waiting,) = con.execute(
            "SELECT count(*) FROM outbox_item WHERE state IN ('pending', 'failed')"
        ).fetchone()
    except (sqlite3.Error, TypeError, ValueError):
        return None
    finally:
        con.close()
    return Glance(orders=orders, visits=visits, waiting=int(waiting))
