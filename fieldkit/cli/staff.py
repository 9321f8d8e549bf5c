"""``fieldkit admin add-staff``: a back-office console account (not a device token).

The password is prompted twice and never echoed, logged or taken from the command line
(where it would land in the shell history and the process list).
"""

from __future__ import annotations

import click

from fieldkit.cli.common import fail
from fieldkit.i18n import _

ROLES = ("admin", "dispatcher", "service", "supervisor")


@click.command("add-staff")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the account may do.")
@click.option("--name", default=None, help="The person's name, shown in the console.")
@click.pass_context
def add_staff(ctx: click.Context, username: str, role: str, name: str | None) -> None:
    """Create a console account for dispatchers, customer service or supervisors."""
    from fieldkit.cli.backoffice import _engine
    from fieldkit.console.staff import StaffError, check_password, create_staff

    password = click.prompt(
        _("Password"),
        hide_input=True,
        confirmation_prompt=_("Repeat the password"),
        show_default=False,
    )
    try:
        check_password(password)
    except StaffError as exc:
        fail(_("Error: {error}").format(error=_console_message(exc)))
    engine = _engine(ctx, create=True)  # the first account may set the server up
    try:
        create_staff(engine, username, role, password, name)
    except StaffError as exc:
        fail(_("Error: {error}").format(error=_console_message(exc)))
    click.echo(
        _("Console account {username} ({role}) created; sign in at /console/login.").format(
            username=username.strip(), role=role
        )
    )


def _console_message(exc: Exception) -> str:
    code = getattr(exc, "code", "")
    return {
        "weak_password": _("the password needs at least 10 characters"),
        "long_password": _("the password is too long"),
        "bad_password": _("the password must not start or end with spaces"),
        "exists": _("that username is already taken"),
        "bad_username": _("the username must be 1-200 characters without spaces"),
    }.get(code, str(exc))
