"""Sync throughput on PostgreSQL, and pulling work orders on the laptop.

1. Push 10,000 visits (each with 20 step results and 10 measurements, a hazard and a
   follow-up) through a real ``fieldkit serve`` process on PostgreSQL, in batches the way
   the client sends them; in the same run, insert the same rows straight into another
   PostgreSQL database with SQLAlchemy bulk inserts (executemany, same batch size).
   Target: sync rate ≥ 30 % of the direct insert rate.
2. Pull 10,000 work orders into a fresh laptop database with ``sync_once`` (time, and the
   tracemalloc peak in a second run), against fetching the same pages without storing them.

Needs PostgreSQL: ``FIELDKIT_TEST_PG_URL`` (``eval "$(bash scripts/start-postgres)"``).

    python bench/run.py sync
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

VISITS = int(os.environ.get("FIELDKIT_BENCH_VISITS", "10000"))
ORDERS = int(os.environ.get("FIELDKIT_BENCH_ORDERS", "10000"))
STEPS, MEASUREMENTS = 20, 10
BATCH = 200
TARGET_RATIO = 0.30
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _visit(i: int, technician: str) -> dict[str, Any]:
    t0 = datetime(2026, 11, 1, 1, 0, tzinfo=UTC) + timedelta(minutes=i)
    at = lambda s: (t0 + timedelta(seconds=s)).isoformat().replace("+00:00", "Z")  # noqa: E731
    run_id = str(uuid.uuid4())
    return {
        "schema_version": 1,
        "visit_id": str(uuid.uuid4()),
        "work_order_id": None,
        "technician_id": technician,
        "visit_type": "inspection",
        "customer": {
            "customer_no": f"{i:08d}",
            "name": "张三",
            "phone": "13800000000",
            "address": {"community": "幸福小区", "building": "3", "unit": "2", "room": "502"},
        },
        "meter": {"meter_no": f"M{i:08d}", "seal_nos": ["S1"], "reading": 123.4},
        "outcome": "completed",
        "outcome_reason": None,
        "started_at": at(0),
        "ended_at": at(1800),
        "procedure_runs": [
            {
                "run_id": run_id,
                "procedure_id": "inspection",
                "procedure_version": 1,
                "status": "completed",
                "started_at": at(0),
                "ended_at": at(1700),
                "steps": [
                    {
                        "result_id": str(uuid.uuid4()),
                        "step_id": f"s{k}",
                        "kind": "answered",
                        "value": {"answer": "yes", "note": "正常"},
                        "passed": True,
                        "at": at(10 + k),
                        "actor": technician,
                    }
                    for k in range(STEPS)
                ],
                "measurements": [
                    {
                        "measurement_id": str(uuid.uuid4()),
                        "step_id": f"s{k}",
                        "quantity": "pressure",
                        "value": 2.0 + k / 10,
                        "unit": "kPa",
                        "taken_at": at(10 + k),
                    }
                    for k in range(MEASUREMENTS)
                ],
            }
        ],
        "meter_swaps": [],
        "hazards": [
            {
                "hazard_id": str(uuid.uuid4()),
                "description": "软管老化",
                "level": "general",
                "status": "pending",
                "found_at": at(600),
                "deadline": None,
                "basis": None,
            }
        ],
        "signature": {"signer_name": "张三", "signed_at": at(1790), "image_png_base64": None},
        "device_readings": [],
        "follow_up_due": (t0.date() + timedelta(days=3)).isoformat(),
        "notes": None,
    }


def _pg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _fresh_db(pg_url: str, name: str) -> str:
    import sqlalchemy as sa

    url = sa.engine.make_url(_pg(pg_url))
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_db(pg_url: str, name: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(_pg(pg_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _start_server(db_url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    sys.path.insert(0, str(ROOT))
    from tests.sync.conftest import free_port

    port = free_port()
    out = open(log, "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "fieldkit", "serve", "--port", str(port), "--db", db_url,
         "--log-level", "warning"],
        stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    out.close()
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("server not ready")


def bench_push(pg_url: str, work: Path) -> float:
    import httpx
    import sqlalchemy as sa

    from fieldkit.sync.schema import VisitPayload
    from fieldkit.sync.server import auth, service, tables
    from fieldkit.sync.server.db import create_server_engine, upgrade

    visits = [_visit(i, "T001") for i in range(VISITS)]
    bodies = [
        json.dumps({"visits": visits[i : i + BATCH]}, ensure_ascii=False).encode()
        for i in range(0, VISITS, BATCH)
    ]

    # --- direct bulk inserts (baseline): rows prepared before the clock starts
    now = datetime.now(UTC)
    prepared = []
    for i in range(0, VISITS, BATCH):
        payloads = [VisitPayload.model_validate(v) for v in visits[i : i + BATCH]]
        rows = service.child_rows(payloads)
        rows["visit"] = [service.visit_row(p, now) for p in payloads]
        prepared.append(rows)
    order = ["visit", "procedure_run", "step_result", "measurement", "hazard", "follow_up"]

    def direct_run() -> float:
        direct_url = _fresh_db(pg_url, "fk_bench_direct")
        direct = create_server_engine(direct_url)
        upgrade(direct)
        started = time.perf_counter()
        for rows in prepared:
            with direct.begin() as conn:
                for name in order:
                    conn.execute(tables.metadata.tables[name].insert(), rows[name])
        seconds = time.perf_counter() - started
        direct.dispose()
        _drop_db(pg_url, "fk_bench_direct")
        return seconds

    direct_times = [direct_run()]

    # --- through the server
    sync_url = _fresh_db(pg_url, "fk_bench_sync")
    engine = create_server_engine(sync_url)
    upgrade(engine)
    auth.create_account(engine, "T001", "technician")
    _tid, token = auth.issue_token(engine, "T001")
    proc, url = _start_server(sync_url, work / "server.log")
    try:
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120
        ) as http:
            warm = http.post("/api/v1/visits/batch", json={"visits": [_visit(-1, "T001")]})
            warm.raise_for_status()
            started = time.perf_counter()
            for body in bodies:
                r = http.post(
                    "/api/v1/visits/batch",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
                r.raise_for_status()
            sync_s = time.perf_counter() - started
        with engine.connect() as conn:
            stored = conn.execute(sa.select(sa.func.count()).select_from(tables.visit)).scalar_one()
            steps = conn.execute(
                sa.select(sa.func.count()).select_from(tables.step_result)
            ).scalar_one()
        assert stored == VISITS + 1, stored
        assert steps == (VISITS + 1) * STEPS, steps
    finally:
        proc.terminate()
        proc.wait(10)
        engine.dispose()
        _drop_db(pg_url, "fk_bench_sync")

    direct_times.append(direct_run())  # once before and once after: the best one counts
    direct_s = min(direct_times)
    sync_rate, direct_rate = VISITS / sync_s, VISITS / direct_s
    ratio = sync_rate / direct_rate
    print(f"push {VISITS} visits ({STEPS} step results + {MEASUREMENTS} measurements each)")
    print(
        f"  direct SQLAlchemy bulk insert: {direct_rate:8.0f} visits/s ({direct_s:.2f} s; "
        f"best of {', '.join(f'{t:.2f}' for t in direct_times)} s)"
    )
    print(f"  sync server (HTTP, batch {BATCH}): {sync_rate:8.0f} visits/s ({sync_s:.2f} s)")
    print(f"  ratio sync/direct: {ratio:.2f} (target ≥ {TARGET_RATIO:.2f})")
    return ratio


def bench_pull(pg_url: str, work: Path) -> None:
    import httpx

    from fieldkit.config import Settings
    from fieldkit.records.db import open_database
    from fieldkit.sync.client import sync_once
    from fieldkit.sync.schema import Address, CustomerPayload
    from fieldkit.sync.server import auth, service
    from fieldkit.sync.server.db import create_server_engine, upgrade

    url_db = _fresh_db(pg_url, "fk_bench_pull")
    engine = create_server_engine(url_db)
    upgrade(engine)
    auth.create_account(engine, "T001", "technician")
    _tid, token = auth.issue_token(engine, "T001")
    orders = [
        service.NewWorkOrder(
            order_no=f"WO-{i:06d}",
            visit_type="inspection",
            customer=CustomerPayload(
                customer_no=f"{i:08d}",
                name="李四",
                address=Address(community="幸福小区", building=str(i % 40), room=str(i % 700)),
            ),
            assigned_to="T001",
            scheduled_for=date(2026, 11, 25),
        )
        for i in range(ORDERS)
    ]
    for i in range(0, ORDERS, 1000):
        service.create_work_orders(engine, None, orders[i : i + 1000])
    proc, url = _start_server(url_db, work / "server-pull.log")
    try:
        settings = Settings(server_url=url, token=token)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
            started = time.perf_counter()
            since, pages = 0, 0
            while True:
                page = http.get("/api/v1/work-orders", params={"since": since, "limit": 500}).json()
                pages += 1
                since = page["next_cursor"]
                if not page["has_more"]:
                    break
            fetch_s = time.perf_counter() - started

        laptop = open_database(f"sqlite:///{(work / 'laptop1.db').as_posix()}")
        started = time.perf_counter()
        report = sync_once(settings, laptop, push=False)
        pull_s = time.perf_counter() - started
        laptop.close()
        assert report.failed is None and report.pulled == ORDERS, report

        laptop = open_database(f"sqlite:///{(work / 'laptop2.db').as_posix()}")
        tracemalloc.start()
        report = sync_once(settings, laptop, push=False)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        laptop.close()
        assert report.pulled == ORDERS
    finally:
        proc.terminate()
        proc.wait(10)
        engine.dispose()
        _drop_db(pg_url, "fk_bench_pull")
    print(f"pull {ORDERS} work orders into a fresh laptop database ({pages} pages of 500)")
    print(f"  fetch pages only (baseline): {fetch_s:.2f} s")
    print(
        f"  sync_once pull (fetch + store): {pull_s:.2f} s ({ORDERS / pull_s:.0f} orders/s, "
        f"{pull_s / fetch_s:.1f}× the fetch alone)"
    )
    print(f"  tracemalloc peak during the pull: {peak / 1e6:.1f} MB")


def main() -> int:
    pg_url = os.environ.get("FIELDKIT_TEST_PG_URL")
    if not pg_url:
        print('needs PostgreSQL: eval "$(bash scripts/start-postgres)" first')
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ratio = bench_push(pg_url, work)
        bench_pull(pg_url, work)
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
