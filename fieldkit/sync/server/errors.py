"""The error every back-office operation raises, and the admin check."""

from __future__ import annotations

from typing import Any

from fieldkit.sync.server.auth import Principal


class ServiceError(Exception):
    """An operation the back office asked for that cannot be done; ``code`` is stable."""

    def __init__(self, code: str, message: str, status: int = 400, detail: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.detail = detail


def require_admin(principal: Principal | None) -> None:
    """``None`` is the ``fieldkit admin`` command line (local database access)."""
    if principal is not None and not principal.is_admin:
        raise ServiceError("forbidden", "this needs a back-office (admin) account", 403)
