"""Real parts for the sync tests: ``fieldkit serve`` as a subprocess on a free loopback
port, on SQLite and on a fresh PostgreSQL database per module; the laptop side is the real
records layer on a SQLite file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fieldkit.config import Settings
from fieldkit.i18n import set_language
from fieldkit.records.db import Database, open_database
from fieldkit.records.repo import MeasurementInput, VisitRepository
from fieldkit.sync.server import auth
from fieldkit.sync.server.db import create_server_engine, upgrade

T0 = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def english_messages() -> Iterator[None]:
    """Assertions read English messages; Chinese (the default) is tested in test_i18n."""
    set_language("en")
    yield
    set_language("zh")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``python -m fieldkit serve`` on loopback; start, stop, kill and restart."""

    def __init__(self, db_url: str, log_dir: Path, *extra: str):
        self.db_url = db_url
        self.port = free_port()
        self.extra = extra
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.scheme = "https" if "--ssl-certfile" in extra else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        log = open(self.log_dir / f"server-{self.port}.log", "ab")  # noqa: SIM115
        env = {**os.environ, "FIELDKIT_SERVER_DB": self.db_url}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fieldkit",
                "serve",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                *self.extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1, verify=False).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready after {timeout} s: {self.log()}")

    def log(self) -> str:
        path = self.log_dir / f"server-{self.port}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def kill(self) -> None:
        """Power cut: no graceful shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _fresh_pg_database(pg_url: str) -> tuple[str, str]:
    url = sa.engine.make_url(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"fk_sync_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False), name


def _drop_pg_database(pg_url: str, name: str) -> None:
    url = sa.engine.make_url(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh server database URL per test module: SQLite, then PostgreSQL."""
    yield from fresh_server_db(request, lambda: tmp_path_factory.mktemp("server"))


def fresh_server_db(request: pytest.FixtureRequest, folder: Callable[[], Path]) -> Iterator[str]:
    """The body of a fixture parametrised ``["sqlite", "postgresql"]``: a new SQLite file in
    ``folder()``, or a new PostgreSQL database (dropped afterwards) on ``pg_url``."""
    if request.param == "sqlite":
        yield f"sqlite:///{(folder() / 'server.db').as_posix()}"
        return
    pg_url = request.getfixturevalue("pg_url")
    url, name = _fresh_pg_database(pg_url)
    try:
        yield url
    finally:
        _drop_pg_database(pg_url, name)


@dataclass
class Backoffice:
    """A running server plus its accounts."""

    proc: ServerProcess
    engine: sa.Engine
    tokens: dict[str, str] = field(default_factory=dict)
    token_ids: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.proc.url

    def client(self, login: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[login]}"} if login else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def settings(self, login: str, **kw: Any) -> Settings:
        return Settings(server_url=self.url, token=self.tokens[login], **kw)

    def add(self, login: str, role: auth.Role = "technician") -> None:
        auth.create_account(self.engine, login, role, name=login)
        self.token_ids[login], self.tokens[login] = auth.issue_token(self.engine, login)


@pytest.fixture(scope="module")
def backoffice(server_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backoffice]:
    engine = create_server_engine(server_db)
    upgrade(engine)
    proc = ServerProcess(server_db, tmp_path_factory.mktemp("logs"))
    proc.start()
    office = Backoffice(proc, engine)
    office.add("admin", "admin")
    office.add("T001")
    office.add("T002")
    try:
        yield office
    finally:
        proc.stop()
        engine.dispose()


@dataclass(frozen=True)
class Event:
    """The StepEvent fields the records layer stores."""

    run_id: uuid.UUID
    step_id: str
    kind: str = "answered"
    value: dict[str, Any] = field(default_factory=dict)
    passed: bool | None = None
    at: datetime = T0
    actor: str = "T001"
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)


@pytest.fixture
def laptop(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{(tmp_path / 'laptop.db').as_posix()}")
    yield database
    database.close()


def close_visit(
    database: Database,
    technician: str = "T001",
    *,
    steps: int = 4,
    hazard: bool = True,
    customer_no: str = "0012345",
    work_order_id: uuid.UUID | None = None,
    when: datetime = T0,
) -> uuid.UUID:
    """A closed visit made through the real records API; returns its visit id."""
    repo = VisitRepository(database, clock=lambda: when, local_tz=UTC)
    customer = repo.upsert_customer(
        customer_no, name="张三", community="幸福小区", building="3", unit="2", room="502"
    )
    visit = repo.start_visit(
        customer_id=customer.id,
        technician_id=technician,
        visit_type="ignition",
        work_order_id=work_order_id,
    )
    run = repo.start_run(visit.id, procedure_id="ignition", procedure_version=1, actor=technician)
    for i in range(steps):
        value: dict[str, Any] = {"answer": "yes", "i": i}
        if i % 2:
            value = {"measurements": [{"quantity": "pressure", "value": 2.0 + i, "unit": "kPa"}]}
        repo.record_event(
            visit.id,
            run.id,
            Event(
                run_id=run.id,
                step_id=f"s{i}",
                value=value,
                passed=True,
                at=when + timedelta(seconds=i),
                actor=technician,
            ),
        )
    # An ignition visit closes as completed only with a completed ignition run
    # (fieldkit.records.closing): these made-up steps stand for one.
    repo.set_run_status(run.id, "completed")
    if hazard:
        repo.add_hazard(visit.id, description="软管老化", level="general")
    repo.sign(visit.id, "张三")
    repo.close_visit(visit.id, "completed")
    return visit.id


__all__ = ["T0", "Backoffice", "Event", "MeasurementInput", "ServerProcess", "close_visit"]
