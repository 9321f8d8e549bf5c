"""Errors a console user can fix, carried as an English msgid plus its arguments so the
page shows them in the reader's language."""

from __future__ import annotations


class UserError(ValueError):
    status = 400

    def __init__(self, msgid: str, status: int | None = None, **args: object):
        super().__init__(msgid.format(**args))
        self.msgid, self.args_ = msgid, args
        if status is not None:
            self.status = status
