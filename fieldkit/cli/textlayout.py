"""Plain-text layout for terminals where CJK characters take two columns.

Display width (:func:`cell_width`), padding, clipping and word wrapping that keeps Chinese
lines intact, and :class:`Printer`, which lays out fields and tables for the lookup
commands. No Textual, no rich: the lookup commands must start fast on an old laptop.
"""

from __future__ import annotations

import shutil
import unicodedata
from collections.abc import Iterable

import click


def cell_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: wide and full-width characters count two.

    East-Asian *ambiguous* characters (①, …, “ ”, ·) count one, as most Western terminals
    draw them; fieldkit's own strings avoid them so nothing depends on that choice.
    """
    width = 0
    for ch in text:
        if unicodedata.combining(ch) or ch in "\u200b\u200d\ufe0f":
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def pad(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` columns (never cut)."""
    return text + " " * max(0, width - cell_width(text))


_CLOSING = set(")]},.;:!?%）」』》〉】，。、；：！？")
_OPENING = set("([{（「『《〈【")


def clip(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` cells, else cut to fit with "..." at the end."""
    if cell_width(text) <= limit:
        return text
    cut, used = "", 0
    for ch in text:
        used += cell_width(ch)
        if used > limit - 3:
            break
        cut += ch
    return cut + "..."


def wrap(text: str, width: int, indent: int = 0, first_indent: int | None = None) -> list[str]:
    """Wrap to ``width`` columns: Chinese may break between any two characters, English
    only at spaces. No line starts with closing punctuation or ends with an opening
    bracket. Continuation lines are indented by ``indent`` columns."""
    lines: list[str] = []
    current = ""
    used = indent if first_indent is None else first_indent
    limit = max(width, indent + 10)
    for token in _tokens(text):
        w = cell_width(token)
        if used + w > limit and current.strip() and token[0] not in _CLOSING:
            lines.append(current.rstrip())
            current, used = "", indent
            if token == " ":
                continue
        current += token
        used += w
    if current.strip() or not lines:
        lines.append(current.rstrip())
    return [lines[0]] + [" " * indent + line for line in lines[1:]]


def _tokens(text: str) -> Iterable[str]:
    """Words (ASCII runs), single spaces and single wide characters; an opening bracket
    sticks to what follows it."""
    word = ""
    opening = ""
    for ch in text:
        if ch in _OPENING:
            if word:
                yield opening + word
                word = opening = ""
            opening += ch
        elif ch == " " or cell_width(ch) == 2:
            if word:
                yield opening + word
                word = opening = ""
            if ch == " ":
                if opening:
                    yield opening
                    opening = ""
                yield ch
            else:
                yield opening + ch
                opening = ""
        else:
            word += ch
    if word or opening:
        yield opening + word


def _terminal_width() -> int:
    return max(40, min(shutil.get_terminal_size((100, 24)).columns, 120))


LAST_COLUMN = 30  # cells a table's last (free-text) column keeps before others are cut
MIN_COLUMN = 10


class Printer:
    """Labelled, wrapped lines with a hanging indent aligned on the label's width."""

    def __init__(self, width: int | None = None):
        self.width = width or _terminal_width()
        self.lines: list[str] = []

    def line(self, text: str = "") -> None:
        self.lines.append(text)

    def field(self, label: str, text: str, indent: int = 0) -> None:
        head = " " * indent + label + ("" if label.endswith("：") else " ")
        self.lines.extend(
            head + part if i == 0 else part
            for i, part in enumerate(
                wrap(text, self.width, indent=cell_width(head), first_indent=cell_width(head))
            )
        )

    def wrapped(self, text: str, indent: int = 0) -> None:
        """A plain line indented by ``indent``, wrapped, continuation lines indented 2 more."""
        first, *rest = wrap(text, self.width, indent=indent + 2, first_indent=indent)
        self.lines.extend([" " * indent + first, *rest])

    def table(self, rows: list[list[str]], indent: int = 2, cut: int | None = None) -> None:
        """Rows of cells; every column but the last is padded to its widest cell.

        The last column wraps under itself. When the line is too narrow to leave it
        ``LAST_COLUMN`` cells, column ``cut`` (never an id a user types) is shortened with
        "...", or left out when even ``MIN_COLUMN`` cells would not fit.
        """
        if not rows:
            return
        widths = [max(cell_width(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        if cut is not None:
            room = self.width - LAST_COLUMN - indent - 2 * len(widths)
            fits = room - (sum(widths) - widths[cut])
            if fits < MIN_COLUMN:
                rows = [row[:cut] + row[cut + 1 :] for row in rows]
                del widths[cut]
            else:
                widths[cut] = min(widths[cut], fits)
        lead = indent + sum(w + 2 for w in widths)
        for row in rows:
            cells = [pad(clip(cell, widths[i]), widths[i]) for i, cell in enumerate(row[:-1])]
            paragraphs = row[-1].split("\n")  # more lines of the last cell, under it
            first, *rest = wrap(paragraphs[0], self.width, indent=lead, first_indent=lead)
            self.lines.append((" " * indent + "  ".join([*cells, first])).rstrip())
            self.lines.extend(rest)
            for more in paragraphs[1:]:
                self.lines.extend(
                    " " * lead + line.lstrip() for line in wrap(more, self.width, lead, lead)
                )

    def echo(self) -> None:
        click.echo("\n".join(self.lines))
