"""The stateful safety test's cost: its sequences against hypothesis's own, and the hazard
writes (plain SQL against the ORM path they replaced), each against a baseline measured in
the same run.

    python bench/run.py stateful

- sequences: ``tests/safety/test_stateful.py``'s machine, 300 examples from a fixed seed,
  CPU time per sequence; the baseline is a machine with the same rules and strategies whose
  bodies do nothing (what hypothesis itself costs per sequence). Target: the machine's
  whole sequence ≤ 4 × hypothesis's own (so 2 × 1000 examples stay ~10 s per xdist worker).
- hazard writes, in memory as in the test (CPU, not fsync): a hazard found and moved to
  已整改 (three transactions), and a run opened and discarded, by ``VisitRepository`` (plain
  SQL) against the ORM functions in ``fieldkit.records.hazards`` / ``runs``. Target: the
  plain path ≤ 0.5 × the ORM's.

Returns 1 if a target is missed.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EXAMPLES = 300
SEED = 20261201
ROUNDS = 300
SEQUENCE_TARGET = 4.0
WRITE_TARGET = 0.5


def _null_machine() -> type:
    from hypothesis import strategies as st
    from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

    from tests.safety import test_stateful as t

    class Idle(RuleBasedStateMachine):
        """The rules and strategies of VisitMachine, doing nothing."""

        @initialize(
            override=st.booleans(),
            kind=st.sampled_from(t.START_KINDS),
            first=st.sampled_from(t.PROCEDURES),
        )
        def start(self, override: bool, kind: str, first: str) -> None:
            t.STATS["sequences"] += 1

        @rule(procedure_id=st.sampled_from(t.PROCEDURES))
        def open_run(self, procedure_id: str) -> None:
            pass

        @rule(data=st.data())
        def work(self, data: st.DataObject) -> None:
            for _ in range(data.draw(t.BURST)):
                data.draw(t.INDEXES[3])

        @rule(data=st.data(), how=st.sampled_from(["pass", "fail", "low"]))
        def act(self, data: st.DataObject, how: str) -> None:
            data.draw(t.INDEXES[3])

        @rule()
        def correct_a_mistaken_refusal(self) -> None:
            pass

        @rule(data=st.data(), end=st.sampled_from([5.2, 5.0]))
        def correct_a_reading(self, data: st.DataObject, end: float) -> None:
            data.draw(t.INDEXES[3])

        @rule()
        def record_refusal_correction(self) -> None:
            pass

        @rule(level=st.sampled_from(["major", "general"]), refusal=st.booleans())
        def find_hazard(self, level: str, refusal: bool) -> None:
            pass

        @rule(data=st.data())
        def fix_hazard(self, data: st.DataObject) -> None:
            data.draw(t.INDEXES[2])

        @rule(data=st.data())
        def discard_or_abandon(self, data: st.DataObject) -> None:
            data.draw(t.INDEXES[3])

        @rule()
        def crash_and_restore(self) -> None:
            pass

        @invariant()
        def derived_from_what_is_stored(self) -> None:
            pass

    return Idle


def _per_sequence(machine: type) -> float:
    from hypothesis import seed, settings
    from hypothesis.stateful import get_state_machine_test

    from tests.safety import test_stateful as t

    t.STATS.clear()
    start = time.process_time()
    test = get_state_machine_test(machine, settings=settings(t.SETTINGS, max_examples=EXAMPLES))
    seed(SEED)(test)()
    return (time.process_time() - start) / t.STATS["sequences"]


def _median_cpu(action: Callable[[], None]) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.process_time()
        action()
        times.append(time.process_time() - start)
    return statistics.median(times)


def _writes() -> tuple[float, float, float, float]:
    from fieldkit.procedures.engine import ProcedureRun, VisitContext
    from fieldkit.procedures.library import load_procedures_strict
    from fieldkit.records import hazards, runs
    from fieldkit.records.db import open_database
    from fieldkit.records.repo import VisitRepository

    database = open_database("sqlite://")
    moment = [datetime(2026, 3, 2, 8, 0, tzinfo=UTC)]

    def clock() -> datetime:
        moment[0] += timedelta(milliseconds=1)
        return moment[0]

    repo = VisitRepository(database, clock=clock)
    customer = repo.upsert_customer("B-0001", name="王五")
    visit = repo.start_visit(customer_id=customer.id, technician_id="T001", visit_type="ignition")
    purge = load_procedures_strict()["indoor-purge"]

    def plain_hazard() -> None:
        hazard = repo.add_hazard(visit.id, description="包管", level="major")
        for status in ("rechecking", "fixed"):
            repo.set_hazard_status(hazard.id, status, note="已整改", actor="T001")

    def orm_hazard() -> None:
        with database.session() as session:
            hazard = hazards.add_hazard(
                session, visit.id, now=clock(), description="包管", level="major"
            )
        for status in ("rechecking", "fixed"):
            with database.session() as session:
                hazards.set_hazard_status(
                    session, hazard.id, status, now=clock(), note="已整改", actor="T001"
                )

    def opened() -> uuid.UUID:
        run = ProcedureRun.start(
            purge,
            run_id=uuid.uuid4(),
            actor="T001",
            context=VisitContext.new(visit.id),
            clock=clock,
        )
        repo.start_run(
            visit.id,
            procedure_id=purge.id,
            procedure_version=purge.version,
            actor="T001",
            run_id=run.run_id,
            events=run.events,
            run_status=run.status.value,
        )
        return run.run_id

    def plain_discard() -> None:
        repo.discard_run(visit.id, opened())

    def orm_discard() -> None:
        run_id = opened()
        with database.session() as session:
            runs.discard_run(session, visit.id, run_id)

    def open_only() -> None:
        opened()

    result = (
        _median_cpu(plain_hazard),
        _median_cpu(orm_hazard),
        _median_cpu(plain_discard) - _median_cpu(open_only),
        _median_cpu(orm_discard) - _median_cpu(open_only),
    )
    database.close()
    return result


def main() -> int:
    from tests.safety import test_stateful as t

    idle = _per_sequence(_null_machine())
    machine = _per_sequence(t.VisitMachine)
    plain_hazard, orm_hazard, plain_discard, orm_discard = _writes()
    print(f"stateful: {EXAMPLES} examples, seed {SEED}, CPU time per sequence")
    print(f"  hypothesis alone (baseline)   {idle * 1e3:7.2f} ms")
    print(
        f"  the machine, every check      {machine * 1e3:7.2f} ms   "
        f"{machine / idle:5.2f} × baseline (target ≤ {SEQUENCE_TARGET:.0f} ×)"
    )
    print("hazard writes in memory, median CPU per action (ORM path = baseline)")
    print(
        f"  found + 2 moves   ORM {orm_hazard * 1e6:7.0f} µs   plain {plain_hazard * 1e6:7.0f} µs"
        f"   {plain_hazard / orm_hazard:5.2f} × (target ≤ {WRITE_TARGET})"
    )
    print(
        f"  discard           ORM {orm_discard * 1e6:7.0f} µs   plain {plain_discard * 1e6:7.0f} µs"
        f"   {plain_discard / orm_discard:5.2f} × (target ≤ {WRITE_TARGET})"
    )
    missed = (
        machine / idle > SEQUENCE_TARGET
        or plain_hazard / orm_hazard > WRITE_TARGET
        or plain_discard / orm_discard > WRITE_TARGET
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
