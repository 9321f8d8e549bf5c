"""A service error shown on a console page is in the reader's language."""

from __future__ import annotations

from fieldkit.console.errors import UserError
from fieldkit.console.web import translator, user_error_text
from fieldkit.i18n import N_
from fieldkit.sync.server.errors import ServiceError


def test_service_and_auth_errors_are_translated_inside_the_page_message() -> None:
    service = ServiceError(
        "cancelled", N_("work order {ref} is cancelled"), 409, params={"ref": "W1"}
    )
    error = UserError("Cannot do that: {ref}", ref=service)
    assert user_error_text(translator("zh"), error).endswith("工单 W1 已取消")
    assert user_error_text(translator("en"), error) == "Cannot do that: work order W1 is cancelled"
