"""CSV and XLSX downloads of a list (the rows its filters select, at most MAX_EXPORT)."""

from __future__ import annotations

import csv
import io
import json
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any, fmt_dt: Callable[[datetime], str]) -> Any:
    """A value as a spreadsheet cell; text that a spreadsheet would run as a formula is
    prefixed with an apostrophe (the customer's words stay words)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return fmt_dt(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return value
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_chunks(headings: list[str], rows: Iterable[list[Any]]) -> Iterator[bytes]:
    """UTF-8 with a BOM (so Excel opens Chinese correctly), streamed in chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(headings)
    for i, row in enumerate(rows, start=1):
        writer.writerow(row)
        if i % 500 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def xlsx_bytes(title: str, headings: list[str], rows: Iterable[list[Any]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31] or "export")
    sheet.append(headings)
    for row in rows:
        sheet.append(row)
    with tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024) as out:
        book.save(out)
        out.seek(0)
        return out.read()
