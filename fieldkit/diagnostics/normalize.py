"""Turn a fault code as someone typed or read it into one comparison key.

The manual itself writes the same code several ways (``ERR—1``, ``ERR--3``, ``ERR-1``),
technicians type ``err1`` or ``Err-1`` on a laptop, a Chinese IME gives full-width
``ＥＲＲ－１``, and SIME boilers show ``AL 01`` where people type ``AL1``. All of these must
meet the table's code, and only that code: ``ERR-1`` must never match ``ERR-10``.

The key is built in four steps:

1. Unicode NFKC folding: full-width letters, digits, spaces and ``－`` become ASCII.
2. Upper case.
3. Every separator is dropped: white space, any dash (Unicode category ``Pd``: ``-`` ``‐``
   ``–`` ``—`` …), the minus sign ``−``, box-drawing and katakana long-vowel bars that
   look like dashes, ``_``, ``.``, ``/`` and ``:``. Runs of separators count as one, so
   ``ERR--3`` is ``ERR-3``. A separator still splits two digit runs (``1 2`` is not ``12``).
4. The remaining text is cut into letter runs and digit runs; leading zeros of a digit run
   are dropped (``01`` → ``1``, ``00`` → ``0``). Runs are joined with ``-``.

So ``ERR—1``, ``ERR--1``, ``err1``, ``Err-1`` and ``ＥＲＲ－１`` all give ``ERR-1``;
``AL 01``, ``AL1`` and ``al 01`` give ``AL-1``; ``e0`` gives ``E-0``; ``EA`` stays ``EA``.
Anything else (CJK characters, symbols) is kept as it is, upper-cased, so such a code can
still only match itself. The key is for comparison only; show users the code as written.
"""

from __future__ import annotations

import re
import unicodedata

# Characters that are not in Unicode's dash category but are used as dashes.
_EXTRA_SEPARATORS = frozenset("\u2212\u2500\u2501\u30fc\uff70_./:\\")

_RUN = re.compile(r"[A-Z]+|[0-9]+|[^A-Z0-9]+")


def _is_separator(ch: str) -> bool:
    return ch.isspace() or ch in _EXTRA_SEPARATORS or unicodedata.category(ch) == "Pd"


def normalize_code(raw: str) -> str:
    """The comparison key of a fault code (see the module docstring); ``""`` for blank input."""
    text = unicodedata.normalize("NFKC", raw).upper()
    runs: list[str] = []
    for chunk in "".join(" " if _is_separator(ch) else ch for ch in text).split():
        for run in _RUN.findall(chunk):
            if run.isdigit() and run.isascii():
                run = run.lstrip("0") or "0"
            runs.append(run)
    return "-".join(runs)


def looks_like_code(raw: str) -> bool:
    """True when the text could be a display code: ASCII letters and/or digits, short.

    Used by search to decide whether to also try the code index; CJK text never is.
    """
    key = normalize_code(raw)
    return bool(key) and len(key) <= 12 and all(part.isascii() for part in key.split("-"))
