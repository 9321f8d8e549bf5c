"""Console list pages at scale on PostgreSQL, through a real ``fieldkit serve``.

Generates visits (with their follow-ups), hazards (1 per 10 visits), complaint cases
(1 per 20 visits), work orders (1 per 2 visits), safety flags (1 per 100 visits) and 200
technicians straight in SQL, then
times each list page — first pages, filtered pages and a page deep in the list (keyset
pagination) — as a signed-in staff member. Baseline, measured in the same run: ``/healthz``
on the same server. Target: p95 ≤ 300 ms for every page (issue 11: 200 ms for hazards).

Then the index check: a technician's open hazards when that technician has none open
(T020's are all 已整改 in this data), the page that scanned every hazard before
``ix_console_hazard_technician_found``, timed in-process with the index and without it
(dropped for the measurement, then rebuilt) — the ratio is the index's gain.

The default run is small (50 000 visits); ``--full`` (or FIELDKIT_BENCH_CONSOLE_VISITS)
generates the issue's scale: 1 000 000 visits, 100 000 hazards, 50 000 complaints.

Needs PostgreSQL: ``FIELDKIT_TEST_PG_URL`` (``eval "$(bash scripts/start-postgres)"``).

    python bench/run.py console
    python bench/bench_console.py --full
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_sync import _drop_db, _fresh_db, _start_server  # noqa: E402

FULL = 1_000_000
TARGET_MS = 300.0
REPEAT = 15
PASSWORD = "bench password 1"

VISIT_TYPES = "ARRAY['community_gas_on','ignition','inspection','repair','recheck']"
OUTCOMES = (
    "ARRAY['completed','refused_gas','stopped_unsafe','not_home','customer_refused','incomplete']"
)

GENERATE = [
    # 200 technicians
    """INSERT INTO account (id, login, name, role, created_at, disabled)
       SELECT md5('a' || i)::uuid, 'T' || lpad(i::text, 3, '0'), '技师' || i, 'technician',
              now(), false FROM generate_series(0, 199) i""",
    # visits: one a minute from 2024-01-01, technician i % 200
    f"""INSERT INTO visit (id, content_hash, payload, technician_id, work_order_id, visit_type,
              outcome, customer_no, started_at, ended_at, visit_date, received_at)
       SELECT md5('v' || i)::uuid, md5(i::text),
              jsonb_build_object('customer', jsonb_build_object(
                  'customer_no', lpad(i::text, 8, '0'), 'name', '张三' || (i % 1000),
                  'address', jsonb_build_object('community', '幸福小区' || (i % 300),
                                                'building', (i % 20)::text,
                                                'room', (i % 600)::text))),
              'T' || lpad((i % 200)::text, 3, '0'), NULL,
              ({VISIT_TYPES})[1 + i % 5], ({OUTCOMES})[1 + i % 6], lpad(i::text, 8, '0'),
              ts, ts + interval '30 minutes', (ts AT TIME ZONE 'UTC')::date,
              ts + interval '1 hour'
       FROM generate_series(1, :n) i,
            LATERAL (SELECT timestamptz '2024-01-01 00:00+00' + i * interval '1 minute' AS ts) t""",
    # a follow-up per visit; all but the last 2 000 were called
    """INSERT INTO follow_up (visit_id, technician_id, customer_no, due_date, called_at,
              called_by, result, satisfaction)
       SELECT id, technician_id, customer_no, visit_date + 3,
              CASE WHEN rn <= :n - 2000 THEN started_at + interval '2 days' END,
              CASE WHEN rn <= :n - 2000 THEN 'cs' END,
              CASE WHEN rn <= :n - 2000 THEN '已回访' END,
              CASE WHEN rn <= :n - 2000 THEN 'satisfied' END
       FROM (SELECT v.*, row_number() OVER (ORDER BY started_at) rn FROM visit v) s""",
    """INSERT INTO hazard (id, visit_id, last_visit_id, technician_id, customer_no, description,
              level, status, found_at, deadline, basis, updated_at)
       SELECT md5('h' || i)::uuid, md5('v' || (i * 10))::uuid, md5('v' || (i * 10))::uuid,
              'T' || lpad(((i * 10) % 200)::text, 3, '0'), lpad((i * 10)::text, 8, '0'),
              '软管老化' || i, (ARRAY['major','general'])[1 + i % 2],
              (ARRAY['pending','rechecking','fixed','fixed','fixed'])[1 + i % 5],
              timestamptz '2024-01-01 00:00+00' + i * 10 * interval '1 minute',
              date '2024-01-15' + (i / 100), NULL, now()
       FROM generate_series(1, :n / 10) i""",
    """INSERT INTO complaint_case (id, case_no, stage, customer_no, visit_id, complainant,
              channel, content, assigned_to, deadline, handling, confirmation, created_at,
              created_by, updated_at, closed_at)
       SELECT md5('c' || i)::uuid, 'TS' || lpad(i::text, 8, '0'),
              (ARRAY['accepted','dispatched','handled','confirmed','closed','closed'])[1 + i % 6],
              lpad((i * 20)::text, 8, '0'), md5('v' || (i * 20))::uuid, '李四', 'phone',
              '投诉内容' || i, 'T' || lpad((i % 200)::text, 3, '0'),
              date '2024-01-10' + (i / 50), NULL, NULL,
              timestamptz '2024-01-01 00:00+00' + i * 20 * interval '1 minute', 'cs', now(), NULL
       FROM generate_series(1, :n / 20) i""",
    """INSERT INTO work_order (id, order_no, visit_type, customer_no, customer, assigned_to,
              previous_assignee, scheduled_for, notes, status, deleted, cursor, created_at,
              updated_at, created_by)
       SELECT md5('w' || i)::uuid, 'WO' || lpad(i::text, 8, '0'), 'repair',
              lpad((i * 2)::text, 8, '0'),
              jsonb_build_object('customer_no', lpad((i * 2)::text, 8, '0'), 'name', '王五',
                                 'address', jsonb_build_object('community', '幸福小区' || (i % 300))),
              'T' || lpad((i % 200)::text, 3, '0'), NULL, date '2024-01-01' + (i / 500), NULL,
              (ARRAY['open','done','done','cancelled'])[1 + i % 4], i % 4 = 3, i, now(), now(), 'disp'
       FROM generate_series(1, :n / 2) i""",
    "UPDATE counter SET value = :n WHERE name = 'work_order'",
    # a safety flag for 1 visit in 100
    """INSERT INTO visit_safety_flag (id, visit_id, kind, detail, flagged_at)
       SELECT md5('f' || i)::uuid, md5('v' || (i * 100))::uuid,
              (ARRAY['ignition_without_gates','gas_in_after_refusal','local_override'])[1 + i % 3],
              'ignition run ' || md5('r' || i)::uuid || ': step step-1 (ignition) done at '
                  || '2024-01-01T00:00:00+00:00 while closed by: purge_missing',
              timestamptz '2024-01-01 01:00+00' + i * 100 * interval '1 minute'
       FROM generate_series(1, :n / 100) i""",
]


def generate(db_url: str, n: int) -> float:
    import sqlalchemy as sa

    from fieldkit.console.staff import create_staff
    from fieldkit.sync.server.db import create_server_engine, upgrade

    engine = create_server_engine(db_url)
    upgrade(engine)
    started = time.perf_counter()
    with engine.begin() as conn:
        for statement in GENERATE:
            conn.execute(sa.text(statement), {"n": n})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    create_staff(engine, "bench", "admin", PASSWORD)
    engine.dispose()
    return time.perf_counter() - started


def _deep_token(db_url: str, n: int) -> str:
    """The ``after`` token of the visit half way down the list (a page far from the top)."""
    import sqlalchemy as sa

    from fieldkit.console.paging import encode
    from fieldkit.sync.server.db import create_server_engine

    engine = create_server_engine(db_url)
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT started_at, id FROM visit ORDER BY started_at DESC, id DESC OFFSET :k LIMIT 1"
            ),
            {"k": n // 2},
        ).one()
    engine.dispose()
    return encode([row.started_at, row.id])


def _timed(client, path: str) -> list[float]:
    client.get(path)  # warm
    out = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        response = client.get(path)
        out.append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {response.status_code} {response.text[-300:]}")
    return out


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 2 else values[0]


def _index_check(engine, scope) -> None:
    """p95 of a technician's open hazards (none open) with and without the index."""
    import sqlalchemy as sa

    from fieldkit.console import filters, lists

    f = filters.parse({"status": "open", "technician": "T020"}, lists.HAZARDS.statuses)

    def p95() -> float:
        out = []
        for _ in range(REPEAT):
            t0 = time.perf_counter()
            lists.page(engine, lists.HAZARDS, f, scope, None, 50)
            out.append((time.perf_counter() - t0) * 1000)
        return _p95(out)

    with_index = p95()
    ddl = "CREATE INDEX ix_console_hazard_technician_found ON hazard (technician_id, found_at, id)"
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_console_hazard_technician_found"))
    try:
        without = p95()
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(ddl))
    print(
        f"index check (/console/hazards?technician=T020, none open): p95 {with_index:.1f} ms "
        f"with ix_console_hazard_technician_found, {without:.1f} ms without: "
        f"{without / max(with_index, 0.001):.1f}x"
    )


def main(argv: list[str] | None = None) -> int:
    import httpx

    from fieldkit.console import filters, lists
    from fieldkit.console.lists import Scope
    from fieldkit.sync.server.db import create_server_engine

    argv = sys.argv[1:] if argv is None else argv
    pg_url = os.environ.get("FIELDKIT_TEST_PG_URL")
    if not pg_url:
        print('FIELDKIT_TEST_PG_URL is not set (eval "$(bash scripts/start-postgres)")')
        return 1
    n = int(os.environ.get("FIELDKIT_BENCH_CONSOLE_VISITS", FULL if "--full" in argv else 50_000))
    db_url = _fresh_db(pg_url, "fk_bench_console")
    work = Path(tempfile.mkdtemp(prefix="fk-bench-console-"))
    proc = None
    try:
        seconds = generate(db_url, n)
        print(
            f"generated {n:,} visits, {n // 10:,} hazards, {n // 20:,} complaints, "
            f"{n // 2:,} work orders in {seconds:.1f} s"
        )
        deep = _deep_token(db_url, n)
        proc, url = _start_server(db_url, work / "server.log")
        client = httpx.Client(base_url=url, timeout=60)
        page = client.get("/console/login")
        token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
        signed = client.post(
            "/console/login",
            data={"login_token": token, "username": "bench", "password": PASSWORD},
        )
        assert signed.status_code in (200, 303), signed.text[-300:]
        baseline = statistics.median(_timed(client, "/healthz"))
        lists_by_path = {
            "visits": "VISITS",
            "hazards": "HAZARDS",
            "follow-ups": "FOLLOW_UPS",
            "complaints": "COMPLAINTS",
            "work-orders": "WORK_ORDERS",
            "technicians": "TECHNICIANS",
            "audit": "AUDIT",
            "safety": "SAFETY",
        }
        defaults = {"hazards": "open", "complaints": "open"}
        pages = [
            "/console/visits",
            "/console/visits?technician=T007",
            "/console/visits?date_from=2024-03-01&date_to=2024-03-31",
            "/console/visits?visit_type=repair&outcome=not_home",
            f"/console/visits?after={deep}",
            "/console/hazards",
            "/console/hazards?status=fixed&technician=T010",
            "/console/hazards?technician=T020",
            "/console/safety",
            "/console/safety?technician=T000&kind=local_override",
            "/console/safety?date_from=2024-03-01&date_to=2024-03-31",
            "/console/follow-ups",
            "/console/follow-ups?status=overdue",
            "/console/follow-ups?status=done",
            "/console/complaints",
            "/console/complaints?status=overdue",
            "/console/work-orders",
            "/console/work-orders?technician=T007",
            f"/console/work-orders?q={2 * (n // 4):08d}",
            "/console/work-orders?q=幸福小区17",
            "/console/technicians",
            "/console/audit",
        ]
        engine = create_server_engine(db_url)
        scope = Scope(ZoneInfo("Asia/Shanghai"), date(2026, 11, 30))
        print(f"baseline /healthz: median {baseline:.1f} ms")
        print(
            "HTTP: through the server, rendering included; query: the page's query "
            "in-process (database + rows)"
        )
        print(f"{'page':<62} {'p50 ms':>8} {'p95 ms':>8} {'p95/base':>9} {'query p95':>10}")
        missed = 0
        for path in pages:
            times = _timed(client, path)
            p95 = _p95(times)
            name, _, raw = path.removeprefix("/console/").partition("?")
            params = dict(parse_qsl(raw))
            params.setdefault("status", defaults.get(name, ""))
            spec = getattr(lists, lists_by_path[name])
            f = filters.parse(params, spec.statuses, spec.kinds)
            query_ms = []
            for _ in range(REPEAT):
                t0 = time.perf_counter()
                lists.page(engine, spec, f, scope, params.get("after"), 50)
                query_ms.append((time.perf_counter() - t0) * 1000)
            flag = "" if p95 <= TARGET_MS else "  > 300 ms"
            missed += bool(flag)
            shown = path if len(path) <= 60 else path[:57] + "..."
            print(
                f"{shown:<62} {statistics.median(times):8.1f} {p95:8.1f} "
                f"{p95 / baseline:9.1f} {_p95(query_ms):10.1f}{flag}"
            )
        _index_check(engine, scope)
        engine.dispose()
        print(
            f"target: p95 ≤ {TARGET_MS:.0f} ms on every page — {'met' if not missed else f'{missed} missed'}"
        )
        return 1 if missed else 0
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        _drop_db(pg_url, "fk_bench_console")


if __name__ == "__main__":
    sys.exit(main())
