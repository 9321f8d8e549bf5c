"""Issue 11 defects 3 and 4, and several server instances: every technician who ever held
an order gets its tombstone; a laptop notices a recreated or restored server database
(the epoch), re-pulls and drops what no longer exists; two server processes on one
PostgreSQL keep exactly-once, tombstones and cursors."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from fieldkit.config import Settings
from fieldkit.records.db import Database, open_database
from fieldkit.records.repo import VisitRepository
from fieldkit.sync.client import sync_once
from fieldkit.sync.schema import Address, CustomerPayload
from fieldkit.sync.server import auth, service
from fieldkit.sync.server.db import create_server_engine, upgrade
from tests.sync.conftest import (
    Backoffice,
    ServerProcess,
    _drop_pg_database,
    _fresh_pg_database,
    close_visit,
)


def _order(assign: str, no: str | None = None) -> service.NewWorkOrder:
    return service.NewWorkOrder(
        order_no=no or f"D-{uuid.uuid4().hex[:10]}",
        visit_type="repair",
        customer=CustomerPayload(customer_no="C-DISPATCH", address=Address(community="小区")),
        assigned_to=assign,
    )


def _open_ids(laptop: Database) -> set[uuid.UUID]:
    return {o.id for o in VisitRepository(laptop).open_work_orders()}


def _laptop(tmp_path: Path, name: str) -> Database:
    return open_database(f"sqlite:///{(tmp_path / f'{name}.db').as_posix()}")


# ---------------------------------------------------------------- defect 3: tombstones
@pytest.mark.parametrize("second", ["P003", "P002"])
def test_every_earlier_holder_gets_the_tombstone(
    backoffice: Backoffice, tmp_path: Path, second: str
) -> None:
    for login in ("P001", "P002", "P003"):
        if login not in backoffice.tokens:
            backoffice.add(login)
    laptops = {login: _laptop(tmp_path, login) for login in ("P001", "P002", "P003")}
    try:
        (order_id,) = service.create_work_orders(backoffice.engine, None, [_order("P001")])
        assert sync_once(backoffice.settings("P001"), laptops["P001"], push=False).ok
        assert order_id in _open_ids(laptops["P001"])
        service.assign_work_order(backoffice.engine, None, str(order_id), "P002")
        service.assign_work_order(backoffice.engine, None, str(order_id), second)
        report = sync_once(backoffice.settings("P001"), laptops["P001"], push=False)
        assert report.ok and report.cancelled == 1, report
        assert order_id not in _open_ids(laptops["P001"])
        holder = laptops[second]
        assert sync_once(backoffice.settings(second), holder, push=False).ok
        assert order_id in _open_ids(holder)
        # and back to the first holder: the order is theirs again
        service.assign_work_order(backoffice.engine, None, str(order_id), "P001")
        assert sync_once(backoffice.settings("P001"), laptops["P001"], push=False).ok
        assert order_id in _open_ids(laptops["P001"])
        assert sync_once(backoffice.settings(second), holder, push=False).ok
        assert order_id not in _open_ids(holder)
    finally:
        for database in laptops.values():
            database.close()


# ------------------------------------------------------------------- defect 4: epoch
@dataclass
class Office:
    kind: str
    url: str
    proc: ServerProcess
    engine: sa.Engine
    tokens: dict[str, str]

    def settings(self, login: str) -> Settings:
        return Settings(server_url=self.proc.url, token=self.tokens[login])

    def enrol(self, *logins: str) -> None:
        for login in logins:
            auth.create_account(self.engine, login, "technician")
            self.tokens[login] = auth.issue_token(self.engine, login)[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def office(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Office]:
    name = None
    if request.param == "sqlite":
        url = f"sqlite:///{(tmp_path / 'office.db').as_posix()}"
    else:
        url, name = _fresh_pg_database(request.getfixturevalue("pg_url"))
    engine = create_server_engine(url)
    upgrade(engine)
    proc = ServerProcess(url, tmp_path)
    proc.start()
    result = Office(request.param, url, proc, engine, {})
    result.enrol("E001")
    try:
        yield result
    finally:
        result.proc.stop()
        result.engine.dispose()
        if name is not None:
            _drop_pg_database(request.getfixturevalue("pg_url"), name)
            _drop_pg_database(request.getfixturevalue("pg_url"), name + "_snap")


def _stop(office: Office) -> None:
    office.proc.stop()
    office.engine.dispose()


def _start(office: Office) -> None:
    office.engine = create_server_engine(office.url)
    upgrade(office.engine)
    office.proc.start()


def _pg_admin(office: Office, pg_url: str) -> sa.Engine:
    url = sa.engine.make_url(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


def test_a_recreated_database_makes_the_laptop_re_pull(office: Office, tmp_path: Path) -> None:
    laptop = _laptop(tmp_path, "laptop")
    try:
        old = service.create_work_orders(office.engine, None, [_order("E001") for _ in range(3)])
        assert sync_once(office.settings("E001"), laptop, push=False).ok
        assert set(old) <= _open_ids(laptop)
        _stop(office)
        if office.kind == "sqlite":
            Path(sa.engine.make_url(office.url).database or "").unlink()
        else:
            pg_url = office.url.rsplit("/", 1)[0] + "/fieldkit_test"
            name = sa.engine.make_url(office.url).database
            admin = _pg_admin(office, pg_url)
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
        _start(office)
        office.tokens.clear()
        office.enrol("E001")
        new = service.create_work_orders(office.engine, None, [_order("E001")])
        report = sync_once(office.settings("E001"), laptop, push=False)
        assert report.ok and report.epoch_changed and report.dropped == 3, report
        assert _open_ids(laptop) == set(new)
    finally:
        laptop.close()


def test_a_restored_backup_makes_the_laptop_re_pull(
    office: Office, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    laptop = _laptop(tmp_path, "laptop")
    try:
        kept = service.create_work_orders(office.engine, None, [_order("E001") for _ in range(2)])
        assert sync_once(office.settings("E001"), laptop, push=False).ok
        # the backup
        _stop(office)
        if office.kind == "sqlite":
            live = sa.engine.make_url(office.url).database or ""
            backup = tmp_path / "backup.db"
            with sqlite3.connect(live) as src, sqlite3.connect(backup) as dst:
                src.backup(dst)
        else:
            name = sa.engine.make_url(office.url).database
            admin = _pg_admin(office, request.getfixturevalue("pg_url"))
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}_snap" TEMPLATE "{name}"'))
        _start(office)
        lost = service.create_work_orders(office.engine, None, [_order("E001")])
        assert sync_once(office.settings("E001"), laptop, push=False).ok
        assert set(lost) <= _open_ids(laptop)
        # disaster: the backup is restored
        _stop(office)
        if office.kind == "sqlite":
            Path(live).unlink()
            for suffix in ("-wal", "-shm"):
                Path(live + suffix).unlink(missing_ok=True)
            with sqlite3.connect(backup) as src, sqlite3.connect(live) as dst:
                src.backup(dst)
        else:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{name}_snap"'))
            admin.dispose()
        _start(office)
        if office.kind == "sqlite":
            # a file copied back keeps its identity: the admin says it was restored
            service.mark_restored(office.engine)
        # (on PostgreSQL the restored database is a new database: the epoch changes alone)
        after = service.create_work_orders(office.engine, None, [_order("E001")])
        report = sync_once(office.settings("E001"), laptop, push=False)
        assert report.ok and report.epoch_changed and report.dropped == 1, report
        assert _open_ids(laptop) == set(kept) | set(after)
        again = sync_once(office.settings("E001"), laptop, push=False)
        assert again.ok and not again.epoch_changed and again.pulled == 0
    finally:
        laptop.close()


# ------------------------------------------------------- several server instances
@pytest.mark.postgres
def test_two_instances_on_one_postgresql(
    pg_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    url, name = _fresh_pg_database(pg_url)
    engine = create_server_engine(url)
    upgrade(engine)
    first, second = ServerProcess(url, tmp_path), ServerProcess(url, tmp_path)
    first.start()
    second.start()
    tokens: dict[str, str] = {}
    for login in ("M001", "M002", "M003"):
        auth.create_account(engine, login, "technician")
        tokens[login] = auth.issue_token(engine, login)[1]
    auth.create_account(engine, "boss", "admin")
    tokens["boss"] = auth.issue_token(engine, "boss")[1]
    laptops = {login: _laptop(tmp_path, login) for login in ("M001", "M002", "M003")}
    servers = [first, second]

    def settings(login: str, n: int) -> Settings:
        return Settings(server_url=servers[n % 2].url, token=tokens[login])

    try:
        # exactly-once: two laptops push, alternating servers, while the same visits are
        # also pushed again through the other server at the same time
        made = {login: [] for login in ("M001", "M002")}
        for round_no in range(3):
            for login in made:
                for i in range(6):
                    made[login].append(
                        close_visit(laptops[login], login, customer_no=f"{login}-{round_no}-{i}")
                    )
            payloads = {
                login: [i.payload for i in VisitRepository(laptops[login]).pending_outbox()]
                for login in made
            }

            def replay(login: str, n: int, payloads: dict = payloads) -> None:
                import httpx

                with httpx.Client(
                    base_url=servers[(n + 1) % 2].url,
                    headers={"Authorization": f"Bearer {tokens[login]}"},
                    timeout=30,
                ) as http:
                    http.post("/api/v1/visits/batch", json={"visits": payloads[login]})

            threads = [
                threading.Thread(target=replay, args=(login, round_no)) for login in made
            ] + [
                threading.Thread(
                    target=sync_once,
                    args=(settings(login, round_no), laptops[login]),
                    kwargs={"pull": False, "batch_size": 4},
                )
                for login in made
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT id, technician_id FROM visit")).all()
        assert len(stored) == 36 and len({r.id for r in stored}) == 36
        for login, ids in made.items():
            assert {r.id for r in stored if r.technician_id == login} == set(ids)
            assert VisitRepository(laptops[login]).outbox_count() == 0

        # cursors: orders created through both servers at once, pulled alternately in
        # small pages, arrive exactly once
        import httpx

        def create(n: int) -> None:
            with httpx.Client(
                base_url=servers[n % 2].url,
                headers={"Authorization": f"Bearer {tokens['boss']}"},
                timeout=30,
            ) as http:
                for _ in range(10):
                    body = {
                        "order_no": f"TWO-{uuid.uuid4().hex[:10]}",
                        "visit_type": "inspection",
                        "customer": {"customer_no": "TWO", "address": {}},
                        "assigned_to": "M001",
                    }
                    assert http.post("/api/v1/work-orders", json=body).status_code == 201

        creators = [threading.Thread(target=create, args=(n,)) for n in range(2)]
        for thread in creators:
            thread.start()
        pulled = 0
        for n in range(6):
            report = sync_once(settings("M001", n), laptops["M001"], push=False, page_size=3)
            assert report.ok, report
            pulled += report.pulled
        for thread in creators:
            thread.join(120)
        pulled += sync_once(settings("M001", 1), laptops["M001"], push=False, page_size=3).pulled
        assert pulled == 20
        assert len(_open_ids(laptops["M001"])) == 20

        # tombstones: reassigned through one server, then the other
        order_id = next(iter(_open_ids(laptops["M001"])))
        with httpx.Client(
            base_url=second.url, headers={"Authorization": f"Bearer {tokens['boss']}"}
        ) as http:
            assert http.post(
                f"/api/v1/work-orders/{order_id}/assign", json={"technician_id": "M002"}
            ).is_success
        assert sync_once(settings("M002", 0), laptops["M002"], push=False).ok
        with httpx.Client(
            base_url=first.url, headers={"Authorization": f"Bearer {tokens['boss']}"}
        ) as http:
            assert http.post(
                f"/api/v1/work-orders/{order_id}/assign", json={"technician_id": "M003"}
            ).is_success
        for n, login in enumerate(("M001", "M002")):
            report = sync_once(settings(login, n), laptops[login], push=False)
            assert report.ok and order_id not in _open_ids(laptops[login]), (login, report)
        assert sync_once(settings("M003", 1), laptops["M003"], push=False).ok
        assert _open_ids(laptops["M003"]) == {order_id}
    finally:
        for database in laptops.values():
            database.close()
        first.stop()
        second.stop()
        engine.dispose()
        _drop_pg_database(pg_url, name)
