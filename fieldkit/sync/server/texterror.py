"""Errors whose text is a catalog msgid plus parameters.

The server answers API clients in English (``str(exc)``, ``exc.message``); the command
line and other front ends show :meth:`TextError.localized` — the same sentence in the
user's language, from the catalogs (``sync.po``).
"""

from __future__ import annotations

from typing import Any

from fieldkit.i18n import _


class TextError(Exception):
    """``msgid`` is an English template marked with ``N_()``; ``params`` fill it."""

    def __init__(self, msgid: str, params: dict[str, Any] | None = None):
        self.msgid = msgid
        self.params = dict(params or {})
        super().__init__(msgid.format(**self.params))

    def localized(self) -> str:
        """The message in the current language (English when no translation exists)."""
        return _(self.msgid).format(**self.params)
