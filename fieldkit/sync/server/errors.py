"""The error every back-office operation raises, and the admin check."""

from __future__ import annotations

from typing import Any

from fieldkit.i18n import N_
from fieldkit.sync.server.auth import Principal
from fieldkit.sync.server.texterror import TextError


class ServiceError(TextError):
    """An operation the back office asked for that cannot be done; ``code`` is stable.

    ``message`` is an English msgid (marked with ``N_()``) filled from ``params``: API
    clients get it in English, ``localized()`` gives it in the user's language.
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 400,
        detail: Any = None,
        *,
        params: dict[str, Any] | None = None,
    ):
        super().__init__(message, params)
        self.code = code
        self.message = str(self)
        self.status = status
        self.detail = detail


def require_admin(principal: Principal | None) -> None:
    """``None`` is the ``fieldkit admin`` command line (local database access)."""
    if principal is not None and not principal.is_admin:
        raise ServiceError("forbidden", N_("this needs a back-office (admin) account"), 403)
