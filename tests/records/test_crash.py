"""Kill -9 the app at random moments, 50 times; nothing acknowledged is ever lost.

The driver (``python -m fieldkit.records.crashdriver DB --forever``) runs the shipped
ignition procedure through the real engine and prints ``ACK <event_id>`` only after the
commit that saved the event returned. After each kill the test

* runs ``PRAGMA quick_check`` on the file with plain sqlite3,
* checks that every acknowledged event is in the database,
* restores every unfinished run with the engine's replay (which rejects a trail the rules
  would not have produced) and checks that the next driver resumes at that very step,

and at the end checks that every visit the driver completed has exactly the event trail of
an uninterrupted run (nothing skipped, nothing repeated across the resumes).

Two drivers run side by side on two databases (25 kills each) to keep the test short.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fieldkit.procedures.engine import ProcedureRun, VisitContext
from fieldkit.procedures.library import load_procedures
from fieldkit.records.crashdriver import ScriptedClock, reference_trail
from fieldkit.records.db import open_database
from fieldkit.records.repo import VisitRepository

KILLS = 50
WORKERS = 2
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Outcome:
    lines: list[str] = field(default_factory=list)

    def acks(self) -> list[str]:
        return [line.split()[1] for line in self.lines if line.startswith("ACK ")]

    def resumed(self) -> list[tuple[str, str, str]]:
        return [tuple(line.split()[1:4]) for line in self.lines if line.startswith("RESUMED ")]


def _reader(stream: object, out: Outcome) -> None:
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        out.lines.append(raw.decode("utf-8", "replace").strip())


def _run_and_kill(db: Path, rng: random.Random) -> Outcome:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fieldkit.records.crashdriver", str(db), "--forever"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    out = Outcome()
    reader = threading.Thread(target=_reader, args=(proc.stdout, out), daemon=True)
    reader.start()
    if rng.random() < 0.15:
        time.sleep(rng.uniform(0.0, 0.6))  # sometimes while opening / migrating / restoring
    else:
        deadline = time.monotonic() + 20
        while "READY" not in out.lines:
            if proc.poll() is not None:
                break
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError("the driver did not get ready in 20 s")
            time.sleep(0.005)
        # in the middle of the visit (each session call also derives the safety state)
        time.sleep(rng.uniform(0.0, 0.4))
    proc.kill()  # SIGKILL on POSIX: no cleanup, no flush, like pulling the power
    proc.wait(timeout=10)
    reader.join(timeout=10)
    stderr = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    assert proc.returncode != 0, f"the driver ended by itself: {stderr[-2000:]}"
    assert "Traceback" not in stderr, stderr[-3000:]
    return out


def _saved_event_ids(db: Path) -> set[str]:
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA quick_check").fetchall() == [("ok",)]
        return {str(uuid.UUID(hex=row[0])) for row in con.execute("SELECT id FROM step_result")}
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # killed before the first migration committed
            return set()
        raise
    finally:
        con.close()


def _expected_resume_points(db: Path) -> dict[str, str]:
    """Restore every unfinished run with the engine; visit id → the step to do next."""
    procedures, _problems = load_procedures()
    database = open_database(f"sqlite:///{db.as_posix()}")
    try:
        repo = VisitRepository(database)
        points = {}
        for summary in repo.unfinished_visits():
            state = repo.resume(summary.visit_id)
            current = state.current_run
            if current is None:
                continue
            run = ProcedureRun.restore(
                procedures[current.procedure_id],
                current.step_events(),
                context=VisitContext.from_events(
                    state.all_step_events(), visit_id=summary.visit_id
                ),
                clock=ScriptedClock(max(e.at for e in state.all_events())),
            )
            points[str(summary.visit_id)] = run.current.id if run.current else "-"
        return points
    finally:
        database.close()


def _completed_trails(db: Path) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """Every completed run (of a closed visit or one still resumable) with its trail."""
    database = open_database(f"sqlite:///{db.as_posix()}")
    try:
        repo = VisitRepository(database)
        for summary in repo.list_visits(limit=100_000):
            for run in repo.resume(summary.visit_id).runs:
                if summary.closed_at is not None:
                    assert run.status == "completed"
                if run.status == "completed":
                    yield run.procedure_id, [(e.kind, e.step_id) for e in run.events]
    finally:
        database.close()


def _worker(db: Path, kills: int, seed: int) -> tuple[int, int]:
    rng = random.Random(seed)
    acked_total = 0
    expected_points: dict[str, str] = {}
    for _ in range(kills):
        out = _run_and_kill(db, rng)
        for visit_id, _run_id, step_id in out.resumed():
            if visit_id in expected_points:
                assert step_id == expected_points[visit_id], (
                    f"resumed visit {visit_id} at {step_id}, "
                    f"the saved trail says {expected_points[visit_id]}"
                )
        acked = out.acks()
        saved = _saved_event_ids(db)
        missing = [a for a in acked if a not in saved]
        assert not missing, f"{len(missing)} acknowledged events lost: {missing[:3]}"
        acked_total += len(acked)
        if saved:
            expected_points = _expected_resume_points(db)
    return acked_total, len(expected_points)


@pytest.mark.slow
def test_kill_minus_nine_fifty_times_loses_nothing_acknowledged(tmp_path: Path) -> None:
    procedures, problems = load_procedures()
    assert "ignition" in procedures, problems
    seed = random.randrange(1_000_000)
    dbs = [tmp_path / f"crash-{i}.db" for i in range(WORKERS)]
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(
            pool.map(_worker, dbs, [KILLS // WORKERS] * WORKERS, [seed + i for i in range(WORKERS)])
        )
    acked = sum(r[0] for r in results)
    assert acked > KILLS, f"too few steps acknowledged ({acked}) to test anything (seed {seed})"
    references = {p: reference_trail(procedures[p]) for p in ("indoor-purge", "ignition")}
    completed = 0
    for db in dbs:
        for procedure_id, trail in _completed_trails(db):
            assert trail == references[procedure_id]
            completed += 1
    assert completed > 0, f"no run was completed across the kills (seed {seed})"
