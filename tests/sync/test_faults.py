"""Fault injection: the server dies mid-batch, connections are cut at random points, and
every batch is sent twice at once. At the end every visit is on the server exactly once
and identical to the laptop's copy."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
import pytest
import sqlalchemy as sa

from fieldkit.records.db import Database
from fieldkit.records.models import OutboxState
from fieldkit.records.repo import VisitRepository
from fieldkit.sync.client import Backoff, SyncProgress, sync_once
from fieldkit.sync.server import tables
from tests.sync.conftest import Backoffice, ServerProcess, close_visit
from tests.sync.proxy import FaultyProxy

pytestmark = pytest.mark.slow

STEPS = 6


def _make_visits(laptop: Database, n: int) -> list[uuid.UUID]:
    return [close_visit(laptop, steps=STEPS, customer_no=f"F{i:04d}") for i in range(n)]


def _assert_exactly_once_and_identical(office: Backoffice, laptop: Database, ids) -> None:
    items = {i.visit_id: i for i in VisitRepository(laptop).outbox_items()}
    assert {i for i, item in items.items() if item.state != OutboxState.SENT} & set(ids) == set()
    with office.engine.connect() as conn:
        rows = conn.execute(
            sa.select(tables.visit.c.id, tables.visit.c.content_hash, tables.visit.c.payload).where(
                tables.visit.c.id.in_(ids)
            )
        ).all()
        steps = dict(
            conn.execute(
                sa.select(tables.step_result.c.visit_id, sa.func.count())
                .where(tables.step_result.c.visit_id.in_(ids))
                .group_by(tables.step_result.c.visit_id)
            ).all()
        )
        follow_ups = conn.execute(
            sa.select(sa.func.count()).where(tables.follow_up.c.visit_id.in_(ids))
        ).scalar_one()
    assert sorted(r.id for r in rows) == sorted(ids)  # each exactly once (primary key)
    for row in rows:
        assert row.content_hash == items[row.id].content_hash
        assert row.payload == items[row.id].payload
        assert steps[row.id] == STEPS
    assert follow_ups == len(ids)


def test_server_killed_mid_batch_and_restarted(backoffice: Backoffice, laptop, tmp_path) -> None:
    ids = _make_visits(laptop, 40)
    proc = ServerProcess(backoffice.proc.db_url, tmp_path)
    proc.start()
    settings = backoffice.settings("T001").model_copy(update={"server_url": proc.url})
    seen: list[SyncProgress] = []
    first_batch = threading.Event()

    def progress(p: SyncProgress) -> None:
        seen.append(p)
        if p.phase == "push" and p.pushed > 0:
            first_batch.set()

    result = {}
    worker = threading.Thread(
        target=lambda: result.setdefault(
            "report",
            sync_once(
                settings,
                laptop,
                progress,
                backoff=Backoff(base=0.05, cap=0.3),
                batch_size=3,
            ),
        )
    )
    worker.start()
    try:
        assert first_batch.wait(30)
        proc.kill()  # mid-batch: no graceful shutdown
        time.sleep(0.5)
        proc.start()
        worker.join(120)
        assert not worker.is_alive()
    finally:
        proc.stop()
    report = result["report"]
    assert report.failed is None and report.conflicts == []
    assert report.waiting == 0
    assert report.pushed + report.duplicates == len(ids)
    assert any(p.phase == "retry" for p in seen)  # it really had to retry
    _assert_exactly_once_and_identical(backoffice, laptop, ids)


def test_connections_cut_at_random_points(backoffice: Backoffice, laptop) -> None:
    ids = _make_visits(laptop, 40)
    proxy = FaultyProxy(backoffice.proc.port, fault_rate=1.0, max_cut=5000, seed=7)
    try:
        settings = backoffice.settings("T001").model_copy(
            update={"server_url": f"http://127.0.0.1:{proxy.port}"}
        )
        report = sync_once(
            settings, laptop, backoff=Backoff(base=0.01, cap=0.1), batch_size=4, timeout=10
        )
    finally:
        proxy.close()
    assert proxy.cuts["up"] >= 2 and proxy.cuts["down"] >= 2, proxy.cuts
    assert report.failed is None and report.conflicts == [], report
    assert report.waiting == 0
    _assert_exactly_once_and_identical(backoffice, laptop, ids)


def test_each_batch_sent_twice_at_once(backoffice: Backoffice, laptop, tmp_path) -> None:
    ids = _make_visits(laptop, 30)
    payloads = [i.payload for i in VisitRepository(laptop).pending_outbox()]
    # a second server process (two workers) on the same database: two hosts, one database
    second = ServerProcess(backoffice.proc.db_url, tmp_path, "--workers", "2")
    second.start()
    statuses: list[str] = []
    lock = threading.Lock()
    try:
        for start in range(0, len(payloads), 5):
            batch = {"visits": payloads[start : start + 5]}
            barrier = threading.Barrier(4)

            def send(url: str, batch=batch, barrier=barrier) -> None:
                with httpx.Client(
                    base_url=url,
                    headers={"Authorization": f"Bearer {backoffice.tokens['T001']}"},
                    timeout=60,
                ) as http:
                    barrier.wait()
                    r = http.post("/api/v1/visits/batch", json=batch)
                assert r.status_code == 200, r.text
                with lock:
                    statuses.extend(x["status"] for x in r.json()["results"])

            threads = [
                threading.Thread(target=send, args=(url,))
                for url in (backoffice.url, second.url, backoffice.url, second.url)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        # and two sync clients of the same laptop at once (a retry racing the original)
        reports = []
        clients = [
            threading.Thread(
                target=lambda url=url: reports.append(
                    sync_once(
                        backoffice.settings("T001").model_copy(update={"server_url": url}),
                        laptop,
                        pull=False,
                    )
                )
            )
            for url in (backoffice.url, second.url)
        ]
        for t in clients:
            t.start()
        for t in clients:
            t.join(60)
    finally:
        second.stop()
    assert statuses.count("stored") == len(ids)
    assert statuses.count("duplicate") == 3 * len(ids)
    assert all(r.failed is None and r.conflicts == [] for r in reports)
    assert sum(r.pushed for r in reports) == 0  # already there: duplicates only
    _assert_exactly_once_and_identical(backoffice, laptop, ids)
