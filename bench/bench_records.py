"""Saving one step result durably: fieldkit's ``record_event`` against a bare sqlite3 INSERT.

Both run in the same process on the same disk, in WAL mode with ``synchronous=FULL`` (every
commit is fsynced). Target: p99 of ``VisitRepository.record_event`` ≤ 15 ms.

    python bench/run.py records
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

N = 400
WARMUP = 20
TARGET_P99_MS = 15.0


def _event(run_id: uuid.UUID, i: int) -> Any:
    from fieldkit.procedures.engine import StepEvent

    return StepEvent(
        event_id=uuid.uuid4(),
        run_id=run_id,
        step_id=f"step-{i}",
        kind="answered",
        value={"unit": "kPa", "start": 5.0 + i / 1000, "end": 5.0 + i / 1000},
        passed=True,
        at=datetime.now(UTC),
        actor="T001",
    )


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def baseline(folder: Path) -> list[float]:
    """A bare INSERT + COMMIT with sqlite3, WAL, synchronous=FULL."""
    con = sqlite3.connect(folder / "baseline.db", isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE step (id TEXT PRIMARY KEY, run_id TEXT, seq INT, value TEXT)")
    run = uuid.uuid4().hex
    times = []
    for i in range(N + WARMUP):
        started = time.perf_counter()
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO step VALUES (?, ?, ?, ?)", (uuid.uuid4().hex, run, i, '{"a": 1}'))
        con.execute("COMMIT")
        if i >= WARMUP:
            times.append((time.perf_counter() - started) * 1000)
    con.close()
    return times


def fieldkit_record_event(folder: Path) -> list[float]:
    from fieldkit.records.db import open_database
    from fieldkit.records.models import VisitType
    from fieldkit.records.repo import VisitRepository

    database = open_database(f"sqlite:///{(folder / 'fieldkit.db').as_posix()}")
    repo = VisitRepository(database)
    customer = repo.upsert_customer("BENCH-1", name="bench")
    visit = repo.start_visit(
        customer_id=customer.id, technician_id="T001", visit_type=VisitType.IGNITION
    )
    run = repo.start_run(visit.id, procedure_id="ignition", procedure_version=1, actor="T001")
    events = [_event(run.id, i) for i in range(N + WARMUP)]
    times = []
    for i, event in enumerate(events):
        started = time.perf_counter()
        repo.record_event(visit.id, run.id, event)
        if i >= WARMUP:
            times.append((time.perf_counter() - started) * 1000)
    assert len(repo.run_events(run.id)) == N + WARMUP
    database.close()
    return times


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="fieldkit-bench-") as tmp:
        folder = Path(tmp)
        base = baseline(folder)
        ours = fieldkit_record_event(folder)
    rows = []
    for name, samples in (("sqlite3 INSERT+COMMIT", base), ("record_event", ours)):
        rows.append((name, statistics.median(samples), _pct(samples, 0.99), max(samples)))
    print(f"{'':24s} {'p50 ms':>8s} {'p99 ms':>8s} {'max ms':>8s}   (n={N}, WAL, FULL)")
    for name, p50, p99, worst in rows:
        print(f"{name:24s} {p50:8.2f} {p99:8.2f} {worst:8.2f}")
    p99_base, p99_ours = rows[0][2], rows[1][2]
    print(
        f"ratio record_event / baseline: p50 x{rows[1][1] / rows[0][1]:.2f}, "
        f"p99 x{p99_ours / p99_base:.2f}"
    )
    ok = p99_ours <= TARGET_P99_MS
    print(f"target p99 <= {TARGET_P99_MS:g} ms: {'met' if ok else 'MISSED'} ({p99_ours:.2f} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
