"""Resuming an interrupted visit: ``ProcedureRun.restore`` against reading the saved events.

Restore replays every saved event through the engine's rules (that is what rejects a forged
trail), so it must stay cheap next to merely loading the events. Baseline, measured in the
same run: parsing the same events from JSON into ``StepEvent`` objects (what the records
layer does anyway; pydantic-core, in Rust). Targets for a long trail (~500 events: a
tightness test that failed and was repaired 100 times, then the whole ignition procedure):
restore ≤ 8× the baseline (replay re-checks every rule for every event in Python; measured
≈ 4× on the development machine) and ≤ 50 ms absolute — a technician resumes at once.
Timings are the best of several repeats, which is the least noisy on a shared machine.

    python bench/run.py procedures
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from fieldkit.procedures.engine import ProcedureRun, StepEvent, VisitContext
from fieldkit.procedures.library import load_procedures

REPEATS = 40
TARGET_RATIO = 8.0
TARGET_MS = 50.0
FAILED_TESTS = 100


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 8, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def long_trail() -> tuple[ProcedureRun, list[str]]:
    procedures, problems = load_procedures()
    if problems:
        raise SystemExit("\n".join(str(p) for p in problems))
    procedure = procedures["ignition"]
    clock = Clock()
    run = ProcedureRun.start(
        procedure,
        run_id=uuid.uuid4(),
        actor="T001",
        context=VisitContext.new(uuid.uuid4()),
        clock=clock,
    )
    for i in range(FAILED_TESTS + 1):
        run.answer("tightness-test", {"unit": "kPa", "start": 5.2})
        clock.now += timedelta(minutes=15)
        end = 5.2 if i == FAILED_TESTS else 5.1
        run.answer("tightness-test", {"unit": "kPa", "end": end})
        if i < FAILED_TESTS:
            run.record_repair(f"repair {i}")
    for step_id in (
        "alarm-cutoff-test",
        "meter-closed-valve",
        "battery-valve-open",
        "counter-turns",
    ):
        run.answer(step_id, "yes")
    run.answer("leak-recheck", "no")
    run.answer("load-card-gas", True)
    run.answer(
        "handover-data",
        {"meter_no": "M1", "seal_nos": ["S1", "S2"], "meter_reading": 0, "remaining_gas": 20},
    )
    run.answer("customer-sign-off", "李女士")
    return run, [e.model_dump_json() for e in run.events]


def timed(fn: object, repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - started)
    return samples


def main() -> int:
    run, saved = long_trail()
    procedure, context = run.procedure, run.context

    def parse() -> list[StepEvent]:
        return [StepEvent.model_validate_json(raw) for raw in saved]

    def restore() -> ProcedureRun:
        return ProcedureRun.restore(procedure, parse(), context=context, clock=run.clock)

    assert restore().events == run.events
    base = min(timed(parse, REPEATS))
    full = min(timed(restore, REPEATS))
    ratio = full / base
    print(f"events in the trail:          {len(saved)}")
    print(f"baseline (parse JSON):        {base * 1000:8.2f} ms")
    print(f"restore (parse + replay):     {full * 1000:8.2f} ms")
    print(f"ratio restore / baseline:     {ratio:8.2f}  (target ≤ {TARGET_RATIO})")
    print(f"restore per event:            {full / len(saved) * 1e6:8.1f} µs")
    ok = ratio <= TARGET_RATIO and full * 1000 <= TARGET_MS
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
