"""The back-office web console: server-rendered pages for dispatchers, customer service
and supervisors, served by ``fieldkit serve`` over the same database and service layer.

Staff sign in with a username and password (not a device token); pages are Jinja2
templates with a little htmx, all shipped inside the package. Page handlers call the query
and action functions of this package and of :mod:`fieldkit.sync.server.service`; they hold
no SQL.
"""

from __future__ import annotations

from typing import Any


def mount_console(app: Any, engine: Any) -> None:
    """Add the console's routes (under ``/console``) to the server's FastAPI app."""
    from fieldkit.console.web import install

    install(app, engine)
