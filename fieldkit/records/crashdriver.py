"""A scripted technician, for crash testing: ``python -m fieldkit.records.crashdriver DB``.

It runs a visit (default: the shipped purge, then ``ignition``) through the visit session
service (:class:`~fieldkit.session.VisitSession`: the real engine, the safety state, every
event saved before the call returns) with scripted answers — including a failed tightness
test, the repair and the retest. It prints

* ``READY`` once the database is open (and an interrupted visit restored),
* ``STARTED <visit_id>`` / ``RESUMED <visit_id> <run_id> <step_id or ->``,
* ``ACK <event_id>`` for each event, only **after** the commit that saved it returned —
  what a technician would see acknowledged on screen,
* ``CLOSED <visit_id>`` when a visit is complete.

On start it resumes any unfinished visit exactly where it stopped. With ``--forever`` it
starts a new visit after closing one, until it is killed. ``tests/records/test_crash.py``
kills it at random moments and checks the database after each kill.

The engine's clock is a scripted clock that moves 16 minutes per reading, so the 15-minute
pressure hold elapses without waiting (the engine itself is not bypassed).
"""

from __future__ import annotations

import argparse
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fieldkit.procedures.engine import ProcedureRun, RunStatus, StepEvent, VisitContext
from fieldkit.procedures.library import load_procedures
from fieldkit.procedures.models import (
    CaptureStep,
    CheckStep,
    InstructionStep,
    MeasurementStep,
    Procedure,
    SignOffStep,
    TimerStep,
)
from fieldkit.records.db import open_database
from fieldkit.records.models import VisitOutcome, VisitType
from fieldkit.records.repo import VisitRepository
from fieldkit.safety.rules import IGNITION, PURGE
from fieldkit.session import RunView, VisitSession

ACTOR = "T-CRASH"
START_READING = 6.0  # in kPa: above the ignition test's 5 kPa minimum
MAX_ACTIONS_PER_RUN = 200  # a script that never finishes is a bug, not a hang


class ScriptedClock:
    """Aware UTC time that moves forward 16 minutes at every reading."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=16)
        return self.now


def next_action(run: ProcedureRun | RunView) -> tuple[str, Any]:
    """The scripted technician's next move: ("answer", (step_id, value)), ("repair", text),
    ("timer", step_id)."""
    if run.open_gate is not None:
        return "repair", "拧紧接头后重新试压 / joint tightened, retest"
    step = run.current
    assert step is not None
    if isinstance(step, MeasurementStep):
        units = [u.value for u in step.units]
        unit = "kPa" if "kPa" in units else units[0]
        if step.hold is not None and run.pending_reading(step.id) is None:
            return "answer", (step.id, {"unit": unit, "start": START_READING})
        failed_before = any(
            e.step_id == step.id and e.passed is False and e.kind == "answered" for e in run.events
        )
        end = START_READING if failed_before else START_READING - 0.2  # first test: a drop
        if step.hold is None:
            return "answer", (step.id, {"unit": unit, "start": START_READING, "end": end})
        return "answer", (step.id, {"unit": unit, "end": end})
    if isinstance(step, CheckStep):
        return "answer", (step.id, {"answer": step.pass_answer.value})
    if isinstance(step, TimerStep):
        if run.timer_remaining(step.id) is None:
            return "timer", step.id
        return "answer", (step.id, {"confirmed": True})
    if isinstance(step, InstructionStep):
        return "answer", (step.id, {"confirmed": True})
    if isinstance(step, CaptureStep):
        values: dict[str, Any] = {}
        for spec in step.fields:
            kind = str(getattr(spec.type, "value", spec.type))
            if kind == "number":
                values[spec.name] = 10.0
            elif kind == "text":
                values[spec.name] = f"QF-{spec.name}-0001"
            else:
                values[spec.name] = [f"F-{i}" for i in range(1, max(spec.min_items, 2) + 1)]
        return "answer", (step.id, values)
    if isinstance(step, SignOffStep):
        return "answer", (step.id, {"customer_name": "张三"})
    raise RuntimeError(f"no script for step {step.id} ({type(step).__name__})")


def act(run: ProcedureRun) -> list[StepEvent]:
    """One scripted move on a bare engine run (the reference trail)."""
    kind, arg = next_action(run)
    if kind == "repair":
        return run.record_repair(arg)
    if kind == "timer":
        return run.start_timer(arg)
    step_id, value = arg
    return run.answer(step_id, value)


def act_in(session: VisitSession, view: RunView) -> RunView:
    """One scripted move through the session service (saved before it returns)."""
    kind, arg = next_action(view)
    if kind == "repair":
        return session.record_repair(view.run_id, arg)
    if kind == "timer":
        return session.start_timer(view.run_id, arg)
    step_id, value = arg
    return session.answer(view.run_id, step_id, value)


def reference_trail(procedure: Procedure) -> list[tuple[str, str]]:
    """(kind, step_id) of one uninterrupted scripted run, to compare resumed runs with."""
    visit_id = uuid.uuid4()
    run = ProcedureRun.start(
        procedure,
        run_id=uuid.uuid4(),
        actor=ACTOR,
        context=VisitContext.new(visit_id),
        clock=ScriptedClock(datetime.now(UTC)),
    )
    for _ in range(MAX_ACTIONS_PER_RUN):
        if run.status.finished:
            break
        act(run)
    else:
        raise RuntimeError(f"the script does not finish procedure {procedure.id}")
    return [(str(e.kind), e.step_id) for e in run.events]


def _emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _ack_new(view: RunView, known: int) -> None:
    for event in view.events[known:]:  # printed only after the commit returned
        _emit(f"ACK {event.event_id}")


def run_visit(session: VisitSession, plan: tuple[str, ...]) -> None:
    """Run (or resume) each procedure of the plan that is not completed yet, in order."""
    for procedure_id in plan:
        done = any(
            v.procedure.id == procedure_id and v.status == RunStatus.COMPLETED
            for v in session.runs()
        )
        if done:
            continue
        existing = {v.run_id for v in session.runs()}
        view = session.open_run(procedure_id)
        if view.run_id not in existing:  # a new run: its start events were just saved
            _ack_new(view, 0)
        for _ in range(MAX_ACTIONS_PER_RUN):
            if view.status.finished:
                break
            known = len(view.events)
            view = act_in(session, view)
            _ack_new(view, known)
        else:
            raise RuntimeError(f"the script does not finish procedure {procedure_id}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fieldkit.records.crashdriver")
    parser.add_argument("db", help="path of the SQLite database file")
    parser.add_argument(
        "--procedure", default="ignition", help="the last procedure of the visit (after the purge)"
    )
    parser.add_argument("--forever", action="store_true", help="start a new visit after each")
    args = parser.parse_args(argv)

    from pathlib import Path

    database = open_database(f"sqlite:///{Path(args.db).resolve().as_posix()}")
    repo = VisitRepository(database)
    procedures, problems = load_procedures()
    if args.procedure not in procedures:
        print(f"no procedure {args.procedure}: {problems}", file=sys.stderr)
        return 2
    plan = (PURGE, args.procedure) if args.procedure == IGNITION else (args.procedure,)

    resumed: VisitSession | None = None
    for summary in repo.unfinished_visits():
        state = repo.resume(summary.visit_id)
        if not state.runs:  # killed before its first run was started: nothing was done
            repo.close_visit(
                summary.visit_id,
                VisitOutcome.INCOMPLETE,
                "interrupted before the procedure started",
            )
            _emit(f"CLOSED {summary.visit_id}")
            continue
        last = max((e.at for e in state.all_events()), default=datetime.now(UTC))
        session = VisitSession(
            repo,
            procedures,
            summary.visit_id,
            actor=ACTOR,
            clock=ScriptedClock(max(last, datetime.now(UTC))),
        )
        current = state.current_run
        if current is not None:
            view = session.view(current.run_id)
            step = view.current
            _emit(f"RESUMED {summary.visit_id} {view.run_id} {step.id if step else '-'}")
        resumed = session
        break
    _emit("READY")

    while True:
        if resumed is not None:
            session, resumed = resumed, None
        else:
            customer = repo.upsert_customer(
                f"CRASH-{uuid.uuid4().hex[:8]}", name="张三", community="幸福小区"
            )
            visit = repo.start_visit(
                customer_id=customer.id, technician_id=ACTOR, visit_type=VisitType.IGNITION
            )
            session = VisitSession(
                repo, procedures, visit.id, actor=ACTOR, clock=ScriptedClock(datetime.now(UTC))
            )
            _emit(f"STARTED {visit.id}")
        run_visit(session, plan)
        session.close(VisitOutcome.COMPLETED)
        _emit(f"CLOSED {session.visit_id}")
        if not args.forever:
            break
    database.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
