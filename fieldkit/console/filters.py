"""The filters of the console's lists, parsed from a query string with clear errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fieldkit.console.errors import UserError
from fieldkit.sync.schema import VISIT_OUTCOMES, VISIT_TYPES

MIN_DATE, MAX_DATE = date(2000, 1, 1), date(2100, 12, 31)
MAX_TEXT = 200


class FilterError(UserError):
    """A filter value that cannot be used."""


@dataclass(frozen=True)
class Filters:
    date_from: date | None = None
    date_to: date | None = None
    technician: str | None = None
    visit_type: str | None = None
    outcome: str | None = None
    status: str | None = None
    kind: str | None = None
    q: str | None = None
    exact: bool = False  # set by the list: ``q`` matches a number exactly (not a parameter)

    def query_items(self) -> list[tuple[str, str]]:
        return [(k, str(v)) for k, v in vars(self).items() if k != "exact" and v not in (None, "")]


def _date(name: str, raw: str) -> date:
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise FilterError(
            "{field}: not a date (YYYY-MM-DD): {value}", field=name, value=raw
        ) from None
    if not MIN_DATE <= value <= MAX_DATE:
        raise FilterError("{field}: out of range: {value}", field=name, value=raw)
    return value


def _text(name: str, raw: str) -> str | None:
    raw = raw.strip()
    if len(raw) > MAX_TEXT or "\x00" in raw:
        raise FilterError("{field}: too long or invalid", field=name)
    return raw or None


def parse(
    params: Mapping[str, str], statuses: tuple[str, ...] = (), kinds: tuple[str, ...] = ()
) -> Filters:
    """Filters from query parameters; unknown enum values are refused, not ignored."""
    values: dict[str, object] = {}
    for name in ("date_from", "date_to"):
        raw = (params.get(name) or "").strip()
        if raw:
            values[name] = _date(name, raw)
    for name in ("technician", "q"):
        values[name] = _text(name, params.get(name) or "")
    for name, allowed in (
        ("visit_type", VISIT_TYPES),
        ("outcome", VISIT_OUTCOMES),
        ("status", statuses),
        ("kind", kinds),
    ):
        raw = (params.get(name) or "").strip()
        if raw and raw not in allowed:
            raise FilterError("{field}: unknown value {value}", field=name, value=raw[:50])
        values[name] = raw or None
    filters = Filters(**values)  # type: ignore[arg-type]
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise FilterError("{field}: the start is after the end", field="date_from")
    return filters


def day_bounds(
    tz: ZoneInfo, start: date | None, end: date | None
) -> tuple[datetime | None, datetime | None]:
    """[start 00:00, end+1 00:00) in the console's time zone, as UTC instants."""
    lo = datetime.combine(start, time(), tz).astimezone(UTC) if start else None
    hi = datetime.combine(end + timedelta(days=1), time(), tz).astimezone(UTC) if end else None
    return lo, hi
