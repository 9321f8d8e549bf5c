"""Real parts for the console tests: ``fieldkit serve`` on loopback over SQLite or a fresh
PostgreSQL database, staff accounts made with the real staff module, and an httpx client
that signs in through the login form like a browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import sqlalchemy as sa

from fieldkit.console.staff import create_staff
from fieldkit.sync.server import auth
from fieldkit.sync.server.db import create_server_engine, upgrade
from tests.sync.conftest import ServerProcess, fresh_server_db

PASSWORD = "correct horse battery"
STAFF = {
    "boss": "admin",
    "disp": "dispatcher",
    "cs": "service",
    "sup": "supervisor",
}


@dataclass
class Console:
    proc: ServerProcess
    engine: sa.Engine
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.proc.url

    def login(self, username: str, password: str = PASSWORD) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=30, follow_redirects=False)
        response = sign_in(client, username, password)
        assert response.status_code == 303, response.text[:500]
        return client


def sign_in(client: httpx.Client, username: str, password: str) -> httpx.Response:
    page = client.get("/console/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token is not None
    return client.post(
        "/console/login",
        data={"login_token": token.group(1), "username": username, "password": password},
    )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def console_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    yield from fresh_server_db(request, lambda: tmp_path_factory.mktemp("console"))


def start_console(db_url: str, log_dir) -> Console:
    engine = create_server_engine(db_url)
    upgrade(engine)
    for username, role in STAFF.items():
        create_staff(engine, username, role, PASSWORD, name=username)
    office = Console(ServerProcess(db_url, log_dir), engine)
    for login in ("T001", "T002"):
        auth.create_account(engine, login, "technician", name=login)
        _id, office.tokens[login] = auth.issue_token(engine, login, "laptop")
    office.proc.start()
    return office


@pytest.fixture(scope="session")
def console(console_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    office = start_console(console_db, tmp_path_factory.mktemp("logs"))
    try:
        yield office
    finally:
        office.proc.stop()
        office.engine.dispose()
