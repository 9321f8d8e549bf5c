"""Why the server database could not be opened, said in the user's language.

libpq and SQLite explain a failed connection in English ("Connection refused", "password
authentication failed for user …"). An office administrator reading a Chinese screen needs
the cause in Chinese; the library's own words follow in brackets for whoever fixes the
server. Only the causes an administrator meets when setting up are named; anything else
is shown as the library says it.
"""

from __future__ import annotations

from fieldkit.i18n import N_, _

# (text the library's message contains, the cause in plain words); first match wins
_CAUSES: tuple[tuple[str, str], ...] = (
    (
        "Connection refused",
        N_("nothing answers at that host and port (is PostgreSQL running there?)"),
    ),
    ("password authentication failed", N_("the user name or password was refused")),
    ("no pg_hba.conf entry", N_("the database server does not accept this machine (pg_hba.conf)")),
    ("does not exist", N_("that database or user does not exist on the database server")),
    ("failed to resolve host", N_("the host name cannot be found")),
    ("could not translate host name", N_("the host name cannot be found")),
    ("timeout expired", N_("the database server did not answer in time")),
    ("unable to open database file", N_("the file cannot be opened (does its folder exist?)")),
    ("file is not a database", N_("the file is not a SQLite database")),
)


def explain(error: BaseException) -> str:
    """The cause in the user's language, then the library's words: ``原因（detail）``."""
    detail = " ".join(str(error).split())  # libpq's tab-indented second line on one line
    for needle, cause in _CAUSES:
        if needle in detail:
            return _("{cause} ({detail})").format(cause=_(cause), detail=detail)
    return detail
