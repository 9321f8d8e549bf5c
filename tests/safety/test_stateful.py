"""Random visits through the session service: every invariant of issue 8, after every action.

A hypothesis RuleBasedStateMachine drives all shipped procedures (and an override of
ignition) in one visit: answers that pass and fail, refusals (confirmed), repairs, timers,
mistaken-key and mistyped-reading corrections, refusal corrections, hazards found and fixed,
discards, abandonments and crashes (a new session restored from the database). After every
action (each step of a `work` rule too) the invariants are checked against what is stored.

Cost: one in-memory database, migrated once, with one visit; each example writes one of ten
starting visits (empty, purged, refused, purged + tightness passed, ignition done and signed;
shipped or overridden library) into it as rows (not with SQLite's backup API, which replaces
the schema and makes every statement after it re-read the schema: 0.3 ms per example), so
short sequences start deep in a visit. The session service reads and saves with plain SQL
(fieldkit/records/plain*.py, hazards and discards included); the derivation, the audit and
the closing rules (pure functions of what is stored) are re-run only when the stored facts
changed (one read of them per action, shared by every check); a rule's own session calls
share one read of the hazards. Two files, 1000 examples each (about 1340 sequences) from two
fixed seeds (this one and test_stateful_more.py: one per xdist worker, about 2700 per CI run). Measured on the 2-core
machine at load 2.5 (CPU time, hypothesis's own ~2.1 ms per sequence included): 6.2 ms per
sequence, was 8.3 ms; about 10 s per file (pytest's call time), was 4.4-6.3 s for 400.

Shown to fail (each break made temporarily, then undone): a refusal that never stands,
重大 hazards ignored, the purge counted from a started run, closing rule 3 removed, the
session's guard off, plain reads dropping repairs, the override flag dropped from the audit;
earlier also abandoned events deleted and a corrected reading judged on start/start.
"""

from __future__ import annotations

import functools
import sqlite3
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    get_state_machine_test,
    initialize,
    invariant,
    precondition,
    rule,
)

from fieldkit.procedures.engine import EventKind, RunStatus
from fieldkit.procedures.library import load_procedures_strict
from fieldkit.procedures.models import (
    CheckStep,
    GateKind,
    MeasurementStep,
    Procedure,
    TimerStep,
)
from fieldkit.records.db import Database, open_database
from fieldkit.records.models import VisitOutcome
from fieldkit.records.models import metadata as records_metadata
from fieldkit.records.repo import VisitRepository
from fieldkit.safety import BlockerKind, SafetyState, VisitFacts, derive
from fieldkit.safety.audit import ViolationKind, audit
from fieldkit.safety.rules import PURGE_PROCEDURES
from fieldkit.safety.state import COMPLETE_KINDS, completion_blockers
from fieldkit.session import ProcedureError, RunView, SafetyBlocked, VisitSession
from tests.session.helpers import FakeClock, complete, do_step, passing_value

SHIPPED = load_procedures_strict()
STATS: Counter[str] = Counter()  # what the machine exercised (read by the coverage test)
PROCEDURES = sorted(SHIPPED)


def _override_library() -> dict[str, Procedure]:
    import tempfile

    from tests.tui.conftest import short_hold_data_dir

    folder = short_hold_data_dir(Path(tempfile.mkdtemp(prefix="fieldkit-override-")))
    return load_procedures_strict([Path("data/procedures"), folder / "procedures"])


OVERRIDDEN = _override_library()


class TickClock:
    """Strictly increasing time (1 ms per reading) that the machine can move forward."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def _shared_database() -> tuple[Database, uuid.UUID]:
    """One in-memory database, migrated once, with one open visit (a migration per example
    would dominate the run); each example starts from that visit with nothing in it."""
    database = open_database("sqlite://")
    with database.engine.connect() as conn:  # in memory: every session uses this connection
        assert conn.exec_driver_sql("PRAGMA database_list").fetchone()[2] == ""
    repo = VisitRepository(database, clock=TickClock())
    customer = repo.upsert_customer("H-00000001", name="张三")
    visit = repo.start_visit(customer_id=customer.id, technician_id="T001", visit_type="ignition")
    return database, visit.id


DATABASE, VISIT_ID = _shared_database()
KEPT = {"customer", "visit"}
TABLES = [t.name for t in reversed(records_metadata.sorted_tables) if t.name not in KEPT]
PARENTS_FIRST = [t.name for t in records_metadata.sorted_tables]


def _live() -> sqlite3.Connection:
    """The driver connection every session of the in-memory database uses."""
    proxy = DATABASE.engine.raw_connection()
    connection = proxy.driver_connection
    proxy.close()  # back to the pool: the same connection for the whole thread
    assert isinstance(connection, sqlite3.Connection)
    return connection


def _reset(database: Database) -> None:
    """Empty every table but the customer and the visit (children first): a fresh visit
    without re-migrating."""
    with database.engine.begin() as conn:
        for table in TABLES:
            conn.exec_driver_sql(f'DELETE FROM "{table}"')


Rows = tuple[tuple[str, tuple[tuple[object, ...], ...]], ...]


@dataclass(frozen=True)
class Start:
    """A visit the machine starts from: every row of every table of the database (parents
    first), so a short random sequence begins deep in a visit; written back into the live
    database at the start of each example in one transaction (emptied children first, then
    filled parents first). Rows, not SQLite's backup API: a backup replaces the schema
    pages, so every statement after it re-reads the schema and is prepared again (about
    0.3 ms per example)."""

    rows: Rows
    refusals: dict[uuid.UUID, str]  # refused run → its check step
    runs: frozenset[uuid.UUID]


def _capture() -> Rows:
    live = _live()
    return tuple(
        (table, tuple(live.execute(f'SELECT * FROM "{table}"').fetchall()))
        for table in PARENTS_FIRST
    )


def _restore(start: Start) -> None:
    live = _live()
    live.execute("BEGIN IMMEDIATE")
    try:
        for table in reversed(PARENTS_FIRST):
            live.execute(f'DELETE FROM "{table}"')
        for table, rows in start.rows:
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                live.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows)
    except BaseException:
        live.execute("ROLLBACK")
        raise
    live.execute("COMMIT")


def _build(library: dict[str, Procedure], kind: str) -> Start:
    """Done by the scripted technician of the session tests, an hour before the examples."""
    _reset(DATABASE)
    clock = FakeClock(datetime(2026, 3, 2, 6, 0, tzinfo=UTC))
    repo = VisitRepository(DATABASE, clock=clock)
    session = VisitSession(repo, library, VISIT_ID, actor="王师傅", clock=clock)
    refusals: dict[uuid.UUID, str] = {}
    if kind in ("purged", "tight", "done"):
        complete(session, "indoor-purge", clock)
    if kind == "done":  # ignition completed and signed: 已完成 is allowed until a hazard
        complete(session, "ignition", clock)
        assert repo.closing_rules(VISIT_ID).allows(VisitOutcome.COMPLETED)
    if kind == "refused":
        view = session.open_run("indoor-purge")
        while True:
            step = view.current
            assert step is not None
            if (
                isinstance(step, CheckStep)
                and step.on_fail
                and step.on_fail.kind == GateKind.REFUSE
            ):
                clock.advance(seconds=30)
                session.answer(view.run_id, step.id, step.pass_answer.other.value, confirmed=True)
                refusals[view.run_id] = step.id
                break
            clock.advance(seconds=30)
            view = do_step(session, view, clock)
    if kind == "tight":
        view = session.open_run("ignition")
        clock.advance(seconds=30)
        view = do_step(session, view, clock)  # the tightness test, passed
    assert clock.now < datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    with DATABASE.engine.connect() as conn:
        runs = frozenset(
            uuid.UUID(r[0]) for r in conn.exec_driver_sql("SELECT id FROM procedure_run")
        )
    return Start(_capture(), refusals, runs)


START_KINDS = ("empty", "purged", "refused", "tight", "done")
STARTS = {
    (override, kind): _build(OVERRIDDEN if override else SHIPPED, kind)
    for override in (False, True)
    for kind in START_KINDS
}
for _start in STARTS.values():  # written back over another start: the same rows, all of them
    _restore(_start)
    assert _capture() == _start.rows


# strategies built once: a strategy made per draw is validated per draw (hypothesis's own
# cost, a tenth of the machine's)
BURST = st.integers(2, 6)
T = TypeVar("T")
INDEXES = [st.integers(0, max(n - 1, 0)) for n in range(64)]


def _pick(data: st.DataObject, items: list[T]) -> T:
    """One of ``items`` (as ``st.sampled_from`` draws it: by index, shrinking to the first)."""
    n = len(items)
    return items[data.draw(INDEXES[n] if n < len(INDEXES) else st.integers(0, n - 1))]


Method = TypeVar("Method", bound=Callable[..., None])


def _one_look(method: Method) -> Method:
    """The rule looks at the visit once: its session calls share one read of the hazards
    (they change only through the hazard rules, never inside another rule). The invariants
    after the rule read everything afresh."""

    @functools.wraps(method)
    def looking(self: VisitMachine, *args: Any, **kwargs: Any) -> None:
        with self.session.reading():
            method(self, *args, **kwargs)

    return looking  # type: ignore[return-value]


class VisitMachine(RuleBasedStateMachine):
    @initialize(
        override=st.booleans(),
        kind=st.sampled_from(START_KINDS),
        first=st.sampled_from(PROCEDURES),
    )
    def start(self, override: bool, kind: str, first: str) -> None:
        STATS["sequences"] += 1
        begin = STARTS[(override, kind)]
        _restore(begin)
        self.database = DATABASE
        self.clock = TickClock()
        self.repo = VisitRepository(self.database, clock=self.clock)
        self.library = OVERRIDDEN if override else SHIPPED
        self.visit_id = VISIT_ID
        self.session = self._new_session()
        assert {v.run_id for v in self.session.runs()} == begin.runs  # nothing of the last
        self.refusals: dict[uuid.UUID, str] = dict(begin.refusals)  # refused run → its step
        self.corrected: dict[uuid.UUID, datetime] = {}  # refused run → correction time
        self.blocking_hazards: set[uuid.UUID] = set()
        self.hazards: list[uuid.UUID] = []
        self.closing_checked: VisitFacts | None = None  # the facts last checked for closing
        self.derived: tuple[VisitFacts, SafetyState] | None = None  # last derived state
        self.audited: VisitFacts | None = None  # the facts last audited
        self.session.open_run(first)

    def _new_session(self) -> VisitSession:
        return VisitSession(
            self.repo, self.library, self.visit_id, actor="王师傅", clock=self.clock
        )

    # ------------------------------------------------------------ helpers

    def _unfinished(self) -> list[RunView]:
        return [v for v in self.session.runs() if not v.status.finished]

    def _answer(self, view: RunView, value: Any, *, refusal: bool = False) -> None:
        step = view.current
        assert step is not None
        try:
            with self.session.reading() as now:  # the state the answer is checked against
                allowed = now.safety().blockers_for_step(view.procedure.id, step.id)
                STATS["closed step tried" if allowed else f"{step.kind} step tried"] += 1
                after = now.answer(view.run_id, step.id, value, confirmed=refusal)
        except SafetyBlocked as blocked:
            assert allowed, f"blocked without a blocker: {blocked}"
            return
        except ProcedureError:
            return  # wrong value for the step, a hold not elapsed, …: nothing saved
        assert not allowed, f"{step.id} accepted while closed by {allowed}"
        if after.status == RunStatus.REFUSED and view.status != RunStatus.REFUSED:
            self.refusals[view.run_id] = step.id
        if isinstance(step, CheckStep) and after.events[-1].passed is not False:
            self._recheck(view.procedure.id, step.id)

    def _recheck(self, procedure_id: str, step_id: str) -> None:
        for run_id, refused_step in list(self.refusals.items()):
            corrected = self.corrected.get(run_id)
            if refused_step == step_id and corrected is not None:
                self._model_recheck(run_id, procedure_id, step_id, corrected)

    def _model_recheck(
        self, run_id: uuid.UUID, procedure_id: str, step_id: str, corrected: datetime
    ) -> None:
        for view in self.session.runs():
            if view.procedure.id != procedure_id:
                continue
            for event in view.events:
                if (
                    event.kind == EventKind.ANSWERED
                    and event.step_id == step_id
                    and event.passed is True
                    and event.at > corrected
                ):
                    self.refusals.pop(run_id, None)
                    return

    # ------------------------------------------------------------ rules

    @rule(procedure_id=st.sampled_from(PROCEDURES))
    def open_run(self, procedure_id: str) -> None:
        view = self.session.open_run(procedure_id)
        assert view.procedure.id == procedure_id and not view.status.finished
        assert (view.override is not None) == (self.library[procedure_id].override is not None)

    def _busy(self) -> bool:
        return any(not run.status.finished for run in self.session._runs.values())

    @precondition(lambda self: self._busy())
    @rule(data=st.data())
    def work(self, data: st.DataObject) -> None:
        """Most of a technician's time: the next step, done the passing way."""
        for _ in range(data.draw(BURST)):
            self.act(data, "pass")
            self.derived_from_what_is_stored()  # every invariant after every action

    @precondition(lambda self: self._busy())
    @rule(data=st.data(), how=st.sampled_from(["pass", "fail", "low"]))
    @_one_look
    def act(self, data: st.DataObject, how: str) -> None:
        runs = self._unfinished()
        if not runs:
            return
        view = _pick(data, runs)
        step = view.current
        if step is None:
            return
        if view.open_gate is not None:
            self.session.record_repair(view.run_id, "已维修 / repaired")
            return
        if isinstance(step, TimerStep):
            if view.timer_remaining(step.id) is None:
                try:
                    self.session.start_timer(view.run_id, step.id)
                except SafetyBlocked:
                    assert self.session.safety().blockers_for_step(view.procedure.id, step.id)
                return
            self.clock.now += timedelta(minutes=step.minutes)
            self._answer(view, True)
            return
        if isinstance(step, MeasurementStep):
            start = 3.0 if how == "low" else 5.2
            end = 5.0 if how == "fail" else start
            if step.hold is None:
                self._answer(view, {"unit": "kPa", "start": start, "end": end})
            elif view.pending_reading(step.id) is None:
                self._answer(view, {"unit": "kPa", "start": start})
            else:
                self.clock.now += timedelta(minutes=step.hold.minutes)
                self._answer(view, {"unit": "kPa", "end": end})
            return
        if isinstance(step, CheckStep) and how == "fail":
            refusal = step.on_fail is not None and step.on_fail.kind == GateKind.REFUSE
            self._answer(view, step.pass_answer.other.value, refusal=refusal)
            return
        self._answer(view, passing_value(step))

    @rule()
    @_one_look
    def correct_a_mistaken_refusal(self) -> None:
        for view in self.session.runs():
            if view.status != RunStatus.REFUSED or view.run_id in self.corrected:
                continue
            wrong = [e for e in view.events if e.kind == EventKind.ANSWERED][-1]
            step = view.procedure.step(wrong.step_id)
            assert isinstance(step, CheckStep)
            after = self.session.correct(
                view.run_id, wrong.event_id, step.pass_answer.value, "按错键 / wrong key"
            )
            assert after.status != RunStatus.REFUSED
            self.refusals.pop(view.run_id, None)
            # the corrected answer is a pass of that check: after a recorded refusal
            # correction it is the re-check that clears an earlier run's refusal
            self._recheck(view.procedure.id, wrong.step_id)
            return

    @rule(data=st.data(), end=st.sampled_from([5.2, 5.0]))
    @_one_look
    def correct_a_reading(self, data: st.DataObject, end: float) -> None:
        """A mistyped reading corrected: the gate is judged again from the new readings."""
        readings = [
            (view, event)
            for view in self._unfinished()
            for event in view.events[-1:0:-1]
            if event.kind == EventKind.ANSWERED
            and isinstance(view.procedure.step(event.step_id), MeasurementStep)
        ]
        if not readings:
            return
        view, typed = _pick(data, readings)
        value = {"unit": "kPa", "start": 5.2, "end": end}
        try:
            after = self.session.correct(view.run_id, typed.event_id, value, "读数抄错 / mistyped")
        except SafetyBlocked:
            assert self.session.safety().blockers_for_step(view.procedure.id, typed.step_id)
            return
        except ProcedureError:
            return  # not the latest answer, or another step holds the run: nothing saved
        STATS["reading corrected"] += 1
        assert after.events[-1].step_id == typed.step_id or end == 5.2
        assert (after.open_gate is not None) == (end != 5.2)

    @rule()
    @_one_look
    def record_refusal_correction(self) -> None:
        waiting = [
            v
            for v in self.session.runs()
            if v.status == RunStatus.REFUSED and v.run_id not in self.corrected
        ]
        if not waiting:
            return
        self.session.record_refusal_correction("拆除私改管段 / removed", "李工")
        for view in waiting:
            self.corrected[view.run_id] = self.session.view(view.run_id).events[-1].at

    @rule(level=st.sampled_from(["major", "general"]), refusal=st.booleans())
    def find_hazard(self, level: str, refusal: bool) -> None:
        hazard = self.repo.add_hazard(
            self.visit_id,
            description="户内管道隐患",
            level=level,
            refusal_code="concealed_piping" if refusal else None,
        )
        self.hazards.append(hazard.id)
        if level == "major" or refusal:
            self.blocking_hazards.add(hazard.id)

    @rule(data=st.data())
    def fix_hazard(self, data: st.DataObject) -> None:
        if not self.hazards:
            return
        hazard_id = _pick(data, self.hazards)
        for status in ("rechecking", "fixed"):
            self.repo.set_hazard_status(hazard_id, status, note="已整改", actor="T001")
        self.hazards.remove(hazard_id)
        self.blocking_hazards.discard(hazard_id)

    @rule(data=st.data())
    @_one_look
    def discard_or_abandon(self, data: st.DataObject) -> None:
        runs = self._unfinished()
        if not runs:
            return
        view = _pick(data, runs)
        if view.discardable():
            self.session.discard(view.run_id)
            assert all(v.run_id != view.run_id for v in self.session.runs())
        else:
            self.session.abandon(view.run_id, "客户要求改期 / rescheduled")

    @rule()
    def crash_and_restore(self) -> None:
        before = {v.run_id: (v.status, v.current) for v in self.session.runs()}
        self.session = self._new_session()
        assert {v.run_id: (v.status, v.current) for v in self.session.runs()} == before

    # ------------------------------------------------------------ invariants

    @invariant()
    def derived_from_what_is_stored(self) -> None:
        if not hasattr(self, "session"):
            return
        stored = self.repo.safety_facts(self.visit_id)  # one read, shared by every check
        # derive is pure: re-run only when what is stored changed (a rule that changed
        # nothing leaves the same rows, decoded to the same objects: a cheap comparison)
        if self.derived is None or self.derived[0] != stored:
            self.derived = (stored, derive(stored))
        state = self.derived[1]
        with self.session.reading() as now:  # the session's memory is what is stored
            assert now.facts() == stored
            assert now.safety() == state
            views = now.runs()
        # refusal: gas-in closed exactly while a refusal of this visit stands (model)
        assert state.gas_in_allowed() == (not self.refusals), (self.refusals, state)
        # hazards: an open 重大 or refusal-class hazard blocks ignition and 已完成
        kinds = {b.kind for b in state.blockers}
        assert (BlockerKind.HAZARD_OPEN in kinds) == bool(self.blocking_hazards)
        # purge: ignition needs a completed 置换放散 in this visit
        purged = any(
            v.procedure.id in PURGE_PROCEDURES and v.status == RunStatus.COMPLETED for v in views
        )
        assert (BlockerKind.PURGE_MISSING not in kinds) == purged
        # the history never shows a gas-in/ignition step done while it was closed (the
        # audit is a pure function of what is stored: re-run only when that changed)
        if stored != self.audited:
            violations = {v.kind for v in audit(stored)}
            # the audit's closing check asks only for these (not the ignition gates)
            assert completion_blockers(stored) == derive(stored).of_kind(*COMPLETE_KINDS)
            assert ViolationKind.GAS_IN_AFTER_REFUSAL not in violations
            assert ViolationKind.IGNITION_WITHOUT_GATES not in violations
            assert (ViolationKind.LOCAL_OVERRIDE in violations) == any(
                v.override is not None for v in views
            )
            self.audited = stored
        # closing as 已完成 follows the same state (the closing rules are a pure function
        # of what is stored: re-read only when that changed)
        if not state.complete_allowed() and stored != self.closing_checked:
            rules = self.repo.closing_rules(self.visit_id)
            assert not rules.allows(VisitOutcome.COMPLETED), (state, rules)
            self.closing_checked = stored
        for view in views:
            assert view.blockers == state.blockers_for(view.procedure.id)


# Per file, 1000 examples (about 1340 sequences) of up to 8 rules (a `work` rule does 2-6
# steps, each checked) from ten starting visits; two files (two seeds), one per xdist worker.
# Each action is one SQLite transaction on the driver; measured costs are in docs/safety.md.
SETTINGS = settings(
    max_examples=1000,
    stateful_step_count=8,
    deadline=None,  # each step is a real SQLite transaction; time varies with load
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def run_visits(seed_value: int) -> None:
    """``SETTINGS.max_examples`` random visits from a fixed seed (reproducible in CI, as
    ``derandomize`` would be, but a different seed per file: different sequences)."""
    STATS.clear()
    seed(seed_value)(get_state_machine_test(VisitMachine, settings=SETTINGS))()
    assert STATS["sequences"] >= SETTINGS.max_examples, STATS
    # the machine really reached closed steps (a machine that never tries is no test)
    assert STATS["closed step tried"] >= 10, STATS
    assert STATS["measurement step tried"] >= 5, STATS
    assert STATS["reading corrected"] >= 5, STATS


def test_random_visits_keep_every_invariant() -> None:
    run_visits(2026_12_01)


class _FirstOf:
    """A ``data`` object that always draws the first choice (index 0)."""

    def draw(self, strategy: object) -> int:
        return 0


def test_a_wrong_key_corrected_after_a_refusal_correction_is_the_recheck() -> None:
    """Found by the machine (seed-independent replay): a refused purge, its correction
    recorded, a new run whose 私改 check is refused by a wrong key, that key corrected to
    否 — the corrected answer is the passed re-check, so the earlier refusal no longer
    stands (product and model agree; the model used to keep it)."""
    machine = VisitMachine()
    machine.start(override=False, kind="refused", first="indoor-purge")
    machine.record_refusal_correction()
    machine.act(_FirstOf(), "fail")  # type: ignore[arg-type]
    machine.derived_from_what_is_stored()
    assert len(machine.refusals) == 2  # the earlier refusal and the wrong key
    machine.correct_a_mistaken_refusal()
    machine.derived_from_what_is_stored()
    assert machine.refusals == {}
    assert machine.session.safety().gas_in_allowed()
    machine.teardown()
