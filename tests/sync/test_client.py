"""Client behaviour against a real server: batches split on 413, a broken record stops the
push and is named, cancel stops waiting, progress counts."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from fieldkit.config import Settings
from fieldkit.records.models import OutboxState
from fieldkit.records.repo import VisitRepository
from fieldkit.sync.client import Backoff, SyncError, SyncProgress, outbox_count, sync_once
from tests.sync.conftest import T0, Backoffice, ServerProcess, close_visit


@pytest.fixture
def small_server(backoffice: Backoffice, tmp_path: Path):
    proc = ServerProcess(backoffice.proc.db_url, tmp_path, "--max-body", "40000")
    proc.start()
    yield proc
    proc.stop()


def test_batches_split_on_413_and_an_oversized_visit_is_set_aside(
    backoffice: Backoffice, laptop, small_server: ServerProcess
) -> None:
    ids = [close_visit(laptop, steps=8, customer_no=f"S{i}") for i in range(12)]
    # alone bigger than 40 kB; closed last, so the others come before it in the outbox
    huge = close_visit(laptop, steps=200, customer_no="HUGE", when=T0 + timedelta(hours=1))
    settings = backoffice.settings("T001").model_copy(update={"server_url": small_server.url})
    seen: list[SyncProgress] = []
    report = sync_once(settings, laptop, seen.append, batch_size=50, pull=False)
    assert report.failed is None
    ((rejected, message),) = report.rejected
    assert rejected == huge and "413" in message
    sent = {i.visit_id for i in VisitRepository(laptop).outbox_items(OutboxState.SENT)}
    assert set(ids) <= sent  # the others got through in smaller batches
    (aside,) = VisitRepository(laptop).outbox_items(OutboxState.REJECTED)
    assert aside.visit_id == huge and "413" in (aside.last_error or "")
    assert report.waiting == 0 and outbox_count(laptop) == 0
    assert next(p.to_push for p in seen if p.phase == "push") == 13


def test_a_broken_record_is_set_aside_and_the_rest_goes_on(backoffice: Backoffice, laptop) -> None:
    first = close_visit(laptop, customer_no="B1")
    broken = close_visit(laptop, customer_no="B2", when=T0 + timedelta(minutes=5))
    after = close_visit(laptop, customer_no="B3", when=T0 + timedelta(minutes=10))
    items = {i.visit_id: i for i in VisitRepository(laptop).pending_outbox()}
    payload = dict(items[broken].payload, outcome="exploded")
    with laptop.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE outbox_item SET payload = :p WHERE visit_id = :v"),
            {"p": json.dumps(payload), "v": broken.hex},
        )
    report = sync_once(backoffice.settings("T001"), laptop, pull=False)
    assert report.failed is None
    ((rejected, message),) = report.rejected
    assert rejected == broken and "invalid" in message
    states = {i.visit_id: i for i in VisitRepository(laptop).outbox_items()}
    assert states[broken].state == OutboxState.REJECTED and states[broken].attempts == 1
    assert states[first].state == OutboxState.SENT  # before the broken one: sent
    assert states[after].state == OutboxState.SENT  # after it: sent too
    again = sync_once(backoffice.settings("T001"), laptop, pull=False)
    assert again.ok and again.pushed == 0  # set aside: not sent again


def test_cancel_stops_the_retry_loop(laptop) -> None:
    close_visit(laptop)
    cancel = threading.Event()
    seen: list[SyncProgress] = []

    def progress(p: SyncProgress) -> None:
        seen.append(p)
        if p.phase == "retry" and p.attempt >= 2:
            cancel.set()

    report = sync_once(
        Settings(server_url="http://127.0.0.1:9", token="fk_x_y"),
        laptop,
        progress,
        cancel=cancel,
        backoff=Backoff(base=0.01, cap=0.05),
    )
    assert report.interrupted and report.waiting == 1
    assert [p.attempt for p in seen if p.phase == "retry"][:2] == [1, 2]


def test_settings_are_checked(laptop) -> None:
    with pytest.raises(SyncError):
        sync_once(Settings(), laptop)
    with pytest.raises(ValidationError, match="http"):
        Settings(server_url="ftp://x", token="t")  # refused where it is set
    unchecked = Settings().model_copy(update={"server_url": "ftp://x", "token": "t"})
    with pytest.raises(SyncError, match="ftp://x"):
        sync_once(unchecked, laptop)  # and again by the client, whatever built the settings


def test_backoff_is_capped_and_jittered() -> None:
    import random

    backoff = Backoff(base=0.5, cap=4.0, rng=random.Random(3))
    delays = [backoff.delay(n) for n in range(1, 30)]
    assert max(delays) <= 4.0 and min(delays) >= 0.25
    assert len({round(d, 6) for d in delays}) > 20  # jitter: not a fixed schedule


def test_unknown_visit_ids_are_not_invented(backoffice: Backoffice, laptop) -> None:
    with backoffice.client("admin") as http:
        assert http.get(f"/api/v1/visits/{uuid.uuid4()}").status_code == 404


def test_an_answer_that_is_not_fieldkits_is_reported_not_raised(laptop) -> None:
    """A captive portal or a wrong URL answering 200 with HTML: the sync stops, keeps
    everything, and says why."""
    import http.server

    class Portal(http.server.BaseHTTPRequestHandler):
        def _page(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            body = b"<html>Welcome to the hotel Wi-Fi</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _page

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        close_visit(laptop)
        url = f"http://127.0.0.1:{server.server_address[1]}"
        report = sync_once(Settings(server_url=url, token="fk_a_b"), laptop, max_attempts=1)
    finally:
        server.shutdown()
        server.server_close()
    assert report.failed is not None and report.failed[0] is None
    assert "does not understand" in report.failed[1]
    assert report.waiting == 1
