"""Display helpers for text that will be drawn in a terminal with CJK fonts.

Some characters are "ambiguous width" in Unicode: Textual and Rich count them as one cell,
but terminals in CJK locales draw them two cells wide, which shifts every following column
(Textualize/rich#4197; research/anchors.md section 3.1). The manual's text carries a few of
them (the ellipsis, curly quotes, the dash in ``ERR—1``, circled numbers, ``m³``). Before
drawing data text the TUI swaps them for narrow equivalents with the same meaning. The
stored text is never changed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_REPLACEMENTS = {
    "…": "...",
    "“": '"',
    "”": '"',
    "‘": "'",
    "’": "'",
    "—": "-",
    "–": "-",
    "·": ".",
    "×": "x",
    "°": " deg",
    "±": "+/-",
    "³": "3",
    "²": "2",
    "※": "*",
    "→": "->",
    "←": "<-",
    "√": "v",
    "■": "#",
    "□": "[]",
    "●": "*",
    "○": "o",
    "★": "*",
    "☆": "*",
    "≥": ">=",
    "≤": "<=",
    "§": "sec. ",
    "÷": "/",
    "‰": "o/oo",
}
_CIRCLED = {chr(0x2460 + i): f"({i + 1})" for i in range(20)}  # ① .. ⑳


@lru_cache(maxsize=4096)
def narrow(text: str) -> str:
    """``text`` with ambiguous-width characters replaced by narrow ones (for display only)."""
    if text.isascii():
        return text
    out = []
    for ch in text:
        if ch in _REPLACEMENTS:
            out.append(_REPLACEMENTS[ch])
        elif ch in _CIRCLED:
            out.append(_CIRCLED[ch])
        else:
            out.append(ch)
    return "".join(out)


def ambiguous_characters(text: str) -> set[str]:
    """The East Asian ambiguous-width characters in ``text`` (used by the tests)."""
    return {ch for ch in text if unicodedata.east_asian_width(ch) == "A"}


# What technicians type between numbers in a list: ASCII and full-width commas, the
# enumeration comma 、, semicolons and spaces (full-width too).
_LIST_SEPARATORS = re.compile(r"[,，、;；\s\u3000]+")


def split_list(raw: str) -> list[str]:
    """``"QF21、QF22"``, ``"QF21，QF22"``, ``"QF21 QF22"`` → ``["QF21", "QF22"]``."""
    return [item for item in _LIST_SEPARATORS.split(raw.strip()) if item]


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal cells (CJK characters count two), ending in "..."
    when cut."""
    from rich.cells import cell_len

    if cell_len(text) <= width:
        return text
    if width <= 3:
        return "." * max(width, 0)
    out, used = [], 0
    for ch in text:
        w = cell_len(ch)
        if used + w > width - 3:
            break
        out.append(ch)
        used += w
    return "".join(out) + "..."
