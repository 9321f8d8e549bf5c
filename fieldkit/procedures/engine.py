"""The procedure engine: a plain state machine with unskippable safety gates.

No I/O, no UI. A :class:`ProcedureRun` walks a :class:`~fieldkit.procedures.models.Procedure`
step by step; every action returns the :class:`StepEvent` objects it produced (the caller —
the visit records layer — stores each one the moment it is returned). Every step result is
timestamped from an injectable clock and names the actor, so the event list is the job's
audit trail, and :meth:`ProcedureRun.restore` rebuilds a run from it after a crash.

Rules the engine enforces, with no key, flag or setting to turn them off:

* steps are done in order; a step that is not current is rejected (:class:`StepOutOfOrder`);
* a check answered the failing way triggers its gate: ``refuse`` ends the job as 不予通气
  with the reason recorded, ``repair_then_retry`` and ``stop`` hold the job
  (:class:`GateClosed`) until :meth:`ProcedureRun.record_repair` reopens the test;
* a measurement's pass/fail is computed from the readings (a pressure drop fails); the
  technician cannot type "passed";
* a step that ``requires`` a fact (``tightness_passed``) is closed until that fact was
  established by a passed measurement in this visit (this run or an earlier run of it);
* timers and pressure holds cannot be completed before their time (:class:`TimerNotElapsed`);
* a restored event list is replayed through the same rules, so a forged list that skips
  a gate is rejected (:class:`ReplayError`).
"""

from __future__ import annotations

import math
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from fieldkit.i18n import _, pick
from fieldkit.procedures.models import (
    CaptureStep,
    CheckStep,
    FieldType,
    Gate,
    GateKind,
    InstructionStep,
    MeasurementStep,
    PassRule,
    PassRuleKind,
    Procedure,
    SignOffStep,
    Step,
    TimerStep,
)
from fieldkit.procedures.units import PressureUnit, convert

RUN_STEP = "_run"  # step_id of events about the whole run (started, completed, abandoned)
NOT_APPLICABLE = "n/a"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class RunStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    AWAITING_REPAIR = "awaiting_repair"  # a leak or pressure drop: repair, then retest
    STOPPED = "stopped"  # an unsafe condition: correct it, then check again
    COMPLETED = "completed"
    REFUSED = "refused"  # 不予通气
    ABANDONED = "abandoned"  # ended by the technician without completing (reason recorded)

    @property
    def finished(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.REFUSED, RunStatus.ABANDONED)


def status_label(status: RunStatus) -> str:
    """The status in the UI language (不予通气 for a refused run)."""
    labels = {
        RunStatus.IN_PROGRESS: _("in progress"),
        RunStatus.AWAITING_REPAIR: _("awaiting repair"),
        RunStatus.STOPPED: _("stopped until corrected"),
        RunStatus.COMPLETED: _("completed"),
        RunStatus.REFUSED: _("refused (不予通气)"),
        RunStatus.ABANDONED: _("abandoned"),
    }
    return labels[status]


class EventKind(StrEnum):
    STARTED = "started"
    ANSWERED = "answered"
    READING_STARTED = "reading_started"  # first reading of a held measurement; the hold begins
    TIMER_STARTED = "timer_started"
    GATE_TRIGGERED = "gate_triggered"
    REPAIR_RECORDED = "repair_recorded"
    ESTABLISHED = "established"  # a fact (tightness_passed) now holds for the visit
    REVOKED = "revoked"  # a fact no longer holds (the retest failed)
    SATISFIED_EARLIER = "satisfied_earlier"  # a test passed earlier in the visit counts here
    NOT_APPLICABLE = "not_applicable"  # the step's applies_if condition is false
    FINDING = "finding"  # a symptom flow found the cause
    REFUSED = "refused"
    COMPLETED = "completed"
    ABANDONED = "abandoned"
    CORRECTED = "corrected"  # a wrong answer corrected (reason kept; the old answer stays)
    REFUSAL_CORRECTED = "refusal_corrected"  # the site was put right after 不予通气 (what, by whom)


# Events a caller's action produces first; the others are derived from them by the engine.
ACTION_KINDS = frozenset(
    {
        EventKind.ANSWERED,
        EventKind.READING_STARTED,
        EventKind.TIMER_STARTED,
        EventKind.REPAIR_RECORDED,
        EventKind.ABANDONED,
        EventKind.CORRECTED,
        EventKind.REFUSAL_CORRECTED,
    }
)
# Step kinds whose answer can be corrected (a mistyped reading too: judged again by its rules).
CORRECTABLE = (CheckStep, InstructionStep, CaptureStep, SignOffStep, MeasurementStep)

StepGuard = Callable[["ProcedureRun", Step], None]


class StepEvent(BaseModel):
    """One entry of the audit trail: who did what, to which step, when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID
    run_id: uuid.UUID
    step_id: str
    kind: EventKind
    value: dict[str, Any]
    passed: bool | None
    at: AwareDatetime
    actor: str


# ---------------------------------------------------------------- errors


class ProcedureError(Exception):
    """Base of the engine's refusals. The message is for the technician."""


class GateClosed(ProcedureError):
    """A gate holds the job: a repair/correction is due, or a required test has not passed."""


class StepOutOfOrder(ProcedureError):
    """The step is not the one to do now."""


class TimerNotElapsed(ProcedureError):
    """A countdown or pressure hold has not run its full time."""

    def __init__(self, message: str, remaining: timedelta):
        super().__init__(message)
        self.remaining = remaining


class InvalidAnswer(ProcedureError):
    """The value does not fit the step (wrong type, unit, missing field…)."""

    def __init__(self, message: str, rule: dict[str, Any] | None = None):
        super().__init__(message)
        self.rule = rule  # the pass rule a reading broke at once (start pressure too low)


class RunFinished(ProcedureError):
    """The run is completed, refused or abandoned; nothing more is accepted."""


class ClockError(ProcedureError):
    """The clock went back before the last recorded event; timings cannot be trusted."""


class ReplayError(ProcedureError):
    """An event list that the rules would not have produced (corrupt or forged)."""


# ---------------------------------------------------------------- visit context


class FactRecord(BaseModel):
    """A fact established (or revoked) by a measurement in one run of one visit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fact: str
    established: bool
    visit_id: uuid.UUID
    run_id: uuid.UUID
    event_id: uuid.UUID
    step_id: str
    at: AwareDatetime


class VisitContext(BaseModel):
    """What the engine knows about the rest of the visit: tests passed in earlier runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    visit_id: uuid.UUID
    records: tuple[FactRecord, ...] = ()

    @classmethod
    def new(cls, visit_id: uuid.UUID) -> VisitContext:
        return cls(visit_id=visit_id)

    @classmethod
    def from_events(
        cls, events: Iterable[StepEvent], *, visit_id: uuid.UUID | None = None
    ) -> VisitContext:
        """The context from every event of a visit (all its runs, in any order).

        Each run's ``started`` event names its visit; runs of other visits are ignored, so
        a pass from another visit never counts. Without ``visit_id`` the events must all
        belong to one visit.
        """
        events = list(events)
        run_visit: dict[uuid.UUID, uuid.UUID] = {}
        for event in events:
            if event.kind == EventKind.STARTED:
                raw = event.value.get("visit_id")
                try:
                    run_visit[event.run_id] = uuid.UUID(str(raw))
                except ValueError as exc:
                    raise ValueError(f"started event {event.event_id} has no visit_id") from exc
        if visit_id is None:
            visits = set(run_visit.values())
            if len(visits) != 1:
                raise ValueError(
                    f"events of {len(visits)} visits: pass visit_id to choose one"
                    if visits
                    else "no started event: pass visit_id"
                )
            visit_id = visits.pop()
        records = []
        for event in events:
            if event.kind not in (EventKind.ESTABLISHED, EventKind.REVOKED):
                continue
            if run_visit.get(event.run_id) != visit_id:
                continue
            records.append(
                FactRecord(
                    fact=str(event.value.get("fact")),
                    established=event.kind == EventKind.ESTABLISHED,
                    visit_id=visit_id,
                    run_id=event.run_id,
                    event_id=event.event_id,
                    step_id=event.step_id,
                    at=event.at,
                )
            )
        records.sort(key=lambda r: r.at)
        return cls(visit_id=visit_id, records=tuple(records))


@dataclass(frozen=True)
class OpenGate:
    """The gate holding a run: which step failed, and what it needs."""

    step_id: str
    gate: Gate
    event: StepEvent


# ---------------------------------------------------------------- answers


def N_(message: str) -> str:
    """Mark a msgid for translation where it is used (translated only when shown)."""
    return message


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidAnswer(_("{what} must be non-empty text").format(what=_(what)))
    return value.strip()


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidAnswer(_("{what} must be a number").format(what=_(what)))
    return float(value)


def _as_dict(value: Any, default_key: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    return {default_key: value}


def _only(data: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise InvalidAnswer(_("unexpected field(s): {fields}").format(fields=", ".join(extra)))


def _note(data: dict[str, Any]) -> dict[str, Any]:
    note = data.get("note")
    if note is None:
        return {}
    return {"note": _text(note, "note")}


# ---------------------------------------------------------------- the run


class ProcedureRun:
    """One execution of one procedure in one visit. Create with :meth:`start` or :meth:`restore`."""

    def __init__(
        self,
        procedure: Procedure,
        *,
        run_id: uuid.UUID,
        actor: str,
        context: VisitContext,
        clock: Clock = utc_now,
    ):
        if not actor.strip():
            raise ValueError("actor must name who does the work")
        self.procedure = procedure
        self.run_id = run_id
        self.actor = actor
        self.context = context
        self.clock = clock
        self._events: list[StepEvent] = []
        self._status = RunStatus.IN_PROGRESS
        self._index = 0
        self._answers: dict[str, str] = {}  # check step → last answer
        self._facts: dict[str, FactRecord] = {}  # fact → this run's latest record of it
        self._timers: dict[str, datetime] = {}
        self._readings: dict[str, dict[str, Any]] = {}  # held measurement → start reading
        self._open_gate: OpenGate | None = None
        self._replay: deque[StepEvent] | None = None
        self._action_at: datetime | None = None
        self._new: list[StepEvent] = []
        self.events_added_on_restore: list[StepEvent] = []
        self.guard: StepGuard | None = None  # consulted before a step is accepted (not on replay)

    # ------------------------------------------------------------ creation

    @classmethod
    def start(
        cls,
        procedure: Procedure,
        *,
        run_id: uuid.UUID,
        actor: str,
        context: VisitContext,
        clock: Clock = utc_now,
    ) -> ProcedureRun:
        """Start a run; its first events are in ``run.events``."""
        run = cls(procedure, run_id=run_id, actor=actor, context=context, clock=clock)
        run._begin()
        info: dict[str, Any] = {
            "procedure_id": procedure.id,
            "version": procedure.version,
            "visit_id": str(context.visit_id),
        }
        if procedure.content_hash is not None:
            info["content_hash"] = procedure.content_hash
        if procedure.override is not None:
            info["override"] = procedure.override.model_dump(mode="json")
        run._emit(EventKind.STARTED, RUN_STEP, info, None)
        run._advance()
        return run

    @classmethod
    def restore(
        cls,
        procedure: Procedure,
        events: Iterable[StepEvent],
        *,
        context: VisitContext,
        clock: Clock = utc_now,
        actor: str | None = None,
    ) -> ProcedureRun:
        """Rebuild a run from its saved events by replaying them through the same rules.

        Raises :class:`ReplayError` for a list the rules would not have produced (a
        skipped gate, an early timer, a changed procedure version, another visit's run).
        Events derived from the last saved action but lost in a crash are recreated and
        listed in ``run.events_added_on_restore`` for the caller to save.
        """
        saved = list(events)
        if not saved:
            raise ReplayError(_("no events to restore"))
        first = saved[0]
        if first.kind != EventKind.STARTED or first.step_id != RUN_STEP:
            raise ReplayError(_("the first event must be the run's start"))
        info = first.value
        if info.get("procedure_id") != procedure.id:
            raise ReplayError(
                _("the run is of procedure {saved}, not {given}").format(
                    saved=info.get("procedure_id"), given=procedure.id
                )
            )
        if info.get("version") != procedure.version:
            raise ReplayError(
                _(
                    "procedure {id} changed since this run started (version {saved} → {now}); "
                    "start a new run"
                ).format(id=procedure.id, saved=info.get("version"), now=procedure.version)
            )
        if info.get("visit_id") != str(context.visit_id):
            raise ReplayError(_("the run belongs to another visit"))
        ids = [e.event_id for e in saved]
        if len(set(ids)) != len(ids):
            raise ReplayError(_("an event id appears twice"))
        for event in saved:
            if event.run_id != first.run_id:
                raise ReplayError(_("event {id} belongs to another run").format(id=event.event_id))
        run = cls(
            procedure,
            run_id=first.run_id,
            actor=actor or first.actor,
            context=context,
            clock=clock,
        )
        run._replay = deque(saved)
        try:
            run._begin()
            run._emit(EventKind.STARTED, RUN_STEP, dict(info), None)
            run._advance()
            while run._replay:
                event = run._replay[0]
                run._replay_action(event)
        finally:
            run._replay = None
        return run

    def _replay_action(self, event: StepEvent) -> None:
        try:
            if event.kind in (EventKind.ANSWERED, EventKind.READING_STARTED):
                self.answer(event.step_id, event.value)
            elif event.kind == EventKind.TIMER_STARTED:
                self.start_timer(event.step_id)
            elif event.kind == EventKind.REPAIR_RECORDED:
                self.record_repair(str(event.value.get("description", "")))
            elif event.kind == EventKind.ABANDONED:
                self.abandon(str(event.value.get("reason", "")))
            elif event.kind == EventKind.CORRECTED:
                self.correct(
                    uuid.UUID(str(event.value.get("corrects"))),
                    event.value.get("value"),
                    str(event.value.get("reason", "")),
                )
            elif event.kind == EventKind.REFUSAL_CORRECTED:
                self.record_refusal_correction(
                    str(event.value.get("what", "")), str(event.value.get("by", ""))
                )
            else:
                raise ReplayError(
                    _("event {id} ({kind} at step {step}) does not follow from the run").format(
                        id=event.event_id, kind=event.kind.value, step=event.step_id
                    )
                )
        except ReplayError:
            raise
        except ProcedureError as exc:
            raise ReplayError(
                _("event {id} ({kind} at step {step}) was not allowed: {why}").format(
                    id=event.event_id, kind=event.kind.value, step=event.step_id, why=exc
                )
            ) from exc
        if self._replay and self._replay[0] is event:
            # the action produced a different first event than the one saved
            raise ReplayError(
                _("event {id} ({kind} at step {step}) does not follow from the run").format(
                    id=event.event_id, kind=event.kind.value, step=event.step_id
                )
            )

    # ------------------------------------------------------------ reading the state

    @property
    def status(self) -> RunStatus:
        return self._status

    @property
    def visit_id(self) -> uuid.UUID:
        return self.context.visit_id

    @property
    def events(self) -> list[StepEvent]:
        """The audit trail, oldest first (a copy)."""
        return list(self._events)

    @property
    def event_count(self) -> int:
        """How many events the trail holds (it only grows: a cheap "did it change?")."""
        return len(self._events)

    @property
    def current(self) -> Step | None:
        """The step to do now (while a gate holds the run: the failed step), or None."""
        if self._status.finished:
            return None
        if self._open_gate is not None:
            return self.procedure.step(self._open_gate.step_id)
        if self._index >= len(self.procedure.steps):
            return None
        return self.procedure.steps[self._index]

    @property
    def open_gate(self) -> OpenGate | None:
        """The gate holding the run (awaiting_repair or stopped), if any."""
        return self._open_gate

    @property
    def refusal(self) -> StepEvent | None:
        """The ``refused`` event (reason and refusal code) of a refused run."""
        for event in reversed(self._events):
            if event.kind == EventKind.REFUSED:
                return event
        return None

    def pending_reading(self, step_id: str) -> dict[str, Any] | None:
        """The start reading of a held measurement waiting for its end reading."""
        reading = self._readings.get(step_id)
        return dict(reading) if reading else None

    def timer_remaining(self, step_id: str) -> timedelta | None:
        """Time left on a timer or a pressure hold, measured on the clock; None if not running."""
        started = self._timers.get(step_id)
        if started is None:
            return None
        remaining = self._duration(step_id) - (self.clock() - started)
        return max(remaining, timedelta(0))

    def fact_holds(self, fact: str) -> FactRecord | None:
        """The record that makes ``fact`` hold now in this visit, or None."""
        return self._fact(fact, self.clock())

    # ------------------------------------------------------------ actions

    def answer(self, step_id: str, value: Any) -> list[StepEvent]:
        """Record the result of the current step; returns the events produced."""
        step = self._current_for(step_id)
        self._guard(step)
        self._begin()
        self._dispatch(step, value)
        self._advance()
        return self._end()

    def _guard(self, step: Step) -> None:
        if self.guard is not None and self._replay is None:
            self.guard(self, step)

    def _dispatch(self, step: Step, value: Any) -> None:
        self._check_requires(step)
        if isinstance(step, InstructionStep):
            self._answer_instruction(step, value)
        elif isinstance(step, CheckStep):
            self._answer_check(step, value)
        elif isinstance(step, MeasurementStep):
            self._answer_measurement(step, value)
        elif isinstance(step, TimerStep):
            self._answer_timer(step, value)
        elif isinstance(step, CaptureStep):
            self._answer_capture(step, value)
        elif isinstance(step, SignOffStep):
            self._answer_sign_off(step, value)
        else:  # pragma: no cover - the union is closed
            raise InvalidAnswer(f"unknown step kind {type(step).__name__}")

    def start_timer(self, step_id: str) -> list[StepEvent]:
        """Start the countdown of the current timer step."""
        step = self._current_for(step_id)
        if not isinstance(step, TimerStep):
            raise InvalidAnswer(_("step {step} is not a timer").format(step=step_id))
        if step_id in self._timers:
            raise InvalidAnswer(
                _("the timer of step {step} is already running").format(step=step_id)
            )
        self._guard(step)
        self._begin()
        self._check_requires(step)
        event = self._emit(EventKind.TIMER_STARTED, step.id, {"minutes": step.minutes}, None)
        self._timers[step.id] = event.at
        return self._end()

    def record_repair(self, description: str) -> list[StepEvent]:
        """Record the repair (or correction) that a gate waits for, and reopen the test.

        The failed result stays in the trail; the test must be done again and pass.
        """
        self._not_finished()
        gate = self._open_gate
        if gate is None:
            raise StepOutOfOrder(_("no failed test is waiting for a repair"))
        text = _text(description, N_("the repair description"))
        self._begin()
        target = gate.gate.retry_from or gate.step_id
        self._emit(
            EventKind.REPAIR_RECORDED,
            gate.step_id,
            {"description": text, "reopens": target},
            None,
        )
        self._rewind(self.procedure.index_of(target))
        self._advance()
        return self._end()

    def refuse(self, reason: str) -> list[StepEvent]:
        """Refuse gas (不予通气) at the current refusal-condition check, with the reason.

        Only reachable through a check whose gate is a refusal; anywhere else it raises
        :class:`GateClosed`.
        """
        self._not_finished()
        step = self.current
        if (
            self._open_gate is not None
            or not isinstance(step, CheckStep)
            or step.on_fail is None
            or step.on_fail.kind != GateKind.REFUSE
        ):
            raise GateClosed(_("gas can only be refused at a refusal-condition (不予通气) check"))
        return self.answer(step.id, {"answer": step.pass_answer.other.value, "note": reason})

    def correctable(self, event_id: uuid.UUID) -> StepEvent:
        """The answer ``event_id`` if it may be corrected now, else raise."""
        if self._status == RunStatus.ABANDONED:
            raise RunFinished(_("the run was abandoned; nothing more can be recorded"))
        target = next((e for e in self._events if e.event_id == event_id), None)
        if target is None or target.kind != EventKind.ANSWERED:
            raise InvalidAnswer(_("only a recorded answer can be corrected"))
        step = self.procedure.step(target.step_id)
        if not isinstance(step, CORRECTABLE):  # pragma: no cover - every answered kind
            raise InvalidAnswer(_("this answer cannot be corrected"))
        latest = [e for e in self._events if e.kind == EventKind.ANSWERED and e.step_id == step.id][
            -1
        ]
        if latest.event_id != target.event_id:
            raise InvalidAnswer(_("only the latest answer of a step can be corrected"))
        held_at = self._open_gate.step_id if self._open_gate is not None else None
        refusal = self.refusal if self._status == RunStatus.REFUSED else None
        if refusal is not None:
            held_at = refusal.step_id
        if held_at is not None and held_at != target.step_id:
            raise GateClosed(
                _("while “{step}” holds the run, only its own answer can be corrected").format(
                    step=pick(self.procedure.step(held_at).title)
                )
            )
        return target

    def correct(self, event_id: uuid.UUID, value: Any, reason: str) -> list[StepEvent]:
        """Correct a wrong answer: a ``corrected`` event (with the reason) is appended and
        the run goes back to that step with the new answer; later steps are done again.
        The wrong answer stays in the trail. A refused run whose refusal answer is
        corrected continues (the correction is the evidence)."""
        target = self.correctable(event_id)
        why = _text(reason, N_("the reason for the correction"))
        step = self.procedure.step(target.step_id)
        readings = None
        if isinstance(step, MeasurementStep):  # checked before anything is recorded
            readings = self._corrected_readings(step, value)
        self._guard(step)
        self._begin()
        self._emit(
            EventKind.CORRECTED,
            step.id,
            {"corrects": str(event_id), "reason": why, "value": value},
            None,
        )
        start = self.procedure.index_of(step.id)
        self._rewind(start)
        if isinstance(step, MeasurementStep) and readings is not None:
            # a mistyped reading: the test was done (its hold elapsed before the answer
            # being corrected); the gate is judged again from the corrected readings
            self._check_requires(step)
            self._conclude_measurement(step, *readings)
        else:
            self._dispatch(step, value)
        self._advance()
        return self._end()

    def _rewind(self, start: int) -> None:
        for later in self.procedure.steps[start:]:
            self._answers.pop(later.id, None)
            self._timers.pop(later.id, None)
            self._readings.pop(later.id, None)
            if isinstance(later, MeasurementStep):
                for fact in later.establishes:
                    latest = self._own_latest(fact)
                    if latest is not None and latest.established and latest.step_id == later.id:
                        self._revoke(later, fact)
        self._index = start
        self._open_gate = None
        self._status = RunStatus.IN_PROGRESS

    def record_refusal_correction(self, what: str, by: str) -> list[StepEvent]:
        """After 不予通气: record what was done to put the site right, and by whom.

        The run stays refused; the visit's safety state lifts the refusal once the check is
        re-run (in a new run) and passes."""
        refusal = self.refusal
        if self._status != RunStatus.REFUSED or refusal is None:
            raise StepOutOfOrder(_("gas was not refused in this run"))
        text = _text(what, N_("what was done"))
        who = _text(by, N_("who did it"))
        self._begin()
        self._emit(EventKind.REFUSAL_CORRECTED, refusal.step_id, {"what": text, "by": who}, None)
        return self._end()

    def abandon(self, reason: str) -> list[StepEvent]:
        """End the run without completing it (customer absent, job rescheduled…)."""
        self._not_finished()
        text = _text(reason, N_("the reason"))
        self._begin()
        self._emit(EventKind.ABANDONED, RUN_STEP, {"reason": text}, None)
        self._status = RunStatus.ABANDONED
        self._open_gate = None
        return self._end()

    # ------------------------------------------------------------ step kinds

    def _answer_instruction(self, step: InstructionStep, value: Any) -> None:
        data = _as_dict(value, "confirmed")
        _only(data, {"confirmed", "note"})
        if data.get("confirmed") is not True:
            raise InvalidAnswer(_("confirm the step was done (confirmed: true)"))
        self._emit(EventKind.ANSWERED, step.id, {"confirmed": True, **_note(data)}, True)
        self._index += 1

    def _answer_check(self, step: CheckStep, value: Any) -> None:
        data = _as_dict(value, "answer")
        _only(data, {"answer", "note"})
        raw = data.get("answer")
        if raw is True or raw is False:
            raw = "yes" if raw else "no"
        allowed = {"yes", "no"} | ({NOT_APPLICABLE} if step.allow_not_applicable else set())
        if raw not in allowed:
            raise InvalidAnswer(
                _("answer one of: {choices}").format(choices=", ".join(sorted(allowed)))
            )
        passed = raw == step.pass_answer.value or raw == NOT_APPLICABLE
        self._emit(EventKind.ANSWERED, step.id, {"answer": raw, **_note(data)}, passed)
        self._answers[step.id] = raw
        if passed:
            self._index += 1
            return
        if step.on_fail is not None:
            self._trigger(step, step.on_fail, {}, note=data.get("note"))
            return
        finding = step.finding
        assert finding is not None  # the model requires on_fail or finding
        self._emit(
            EventKind.FINDING,
            step.id,
            {"text": finding.text.model_dump(), "see_also": list(finding.see_also)},
            False,
        )
        if finding.ends_run:
            self._complete()
        else:
            self._index += 1

    def _reading_unit(self, step: MeasurementStep, value: Any) -> tuple[dict, PressureUnit]:
        if not isinstance(value, dict):
            raise InvalidAnswer(_("give the readings as unit, start and end"))
        data = dict(value)
        _only(data, {"unit", "start", "end", "note"})
        try:
            unit = PressureUnit(str(data.get("unit")))
        except ValueError as exc:
            raise InvalidAnswer(
                _("unit must be one of: {units}").format(
                    units=", ".join(u.value for u in step.units)
                )
            ) from exc
        if unit not in step.units:
            raise InvalidAnswer(
                _("unit must be one of: {units}").format(
                    units=", ".join(u.value for u in step.units)
                )
            )
        return data, unit

    def _corrected_readings(
        self, step: MeasurementStep, value: Any
    ) -> tuple[PressureUnit, float, float, dict]:
        """The corrected readings (unit, start and end) of a measurement already taken."""
        data, unit = self._reading_unit(step, value)
        start = _number(data.get("start"), N_("the start reading"))
        end = _number(data.get("end"), N_("the end reading"))
        if start <= 0:
            raise InvalidAnswer(_("the start reading must be above zero"))
        if end < 0:
            raise InvalidAnswer(_("the end reading cannot be negative"))
        return unit, start, end, data

    def _answer_measurement(self, step: MeasurementStep, value: Any) -> None:
        data, unit = self._reading_unit(step, value)
        pending = self._readings.get(step.id)
        if step.hold is not None and pending is None:
            if "end" in data:
                raise InvalidAnswer(
                    _(
                        "give the start reading first; the end reading after the {minutes} min hold"
                    ).format(minutes=f"{step.hold.minutes:g}")
                )
            start = _number(data.get("start"), N_("the start reading"))
            if start <= 0:
                raise InvalidAnswer(_("the start reading must be above zero"))
            for rule in step.pass_rules:  # a start below the minimum never starts the hold
                if rule.rule != PassRuleKind.NO_DROP and rule.reading == "start":
                    failure = _rule_failure(rule, unit, start, start)
                    if failure is not None:
                        raise InvalidAnswer(failure_text(failure), rule=failure)
            reading = {"unit": unit.value, "start": start, **_note(data)}
            event = self._emit(EventKind.READING_STARTED, step.id, reading, None)
            self._readings[step.id] = reading
            self._timers[step.id] = event.at
            return
        if pending is not None:
            if unit.value != pending["unit"]:
                raise InvalidAnswer(
                    _("read the end in {unit}, the unit of the start reading").format(
                        unit=pending["unit"]
                    )
                )
            if (
                "start" in data
                and _number(data["start"], N_("the start reading")) != pending["start"]
            ):
                raise InvalidAnswer(_("the start reading was already recorded"))
            start = float(pending["start"])
            self._check_elapsed(step.id)
        else:
            start = _number(data.get("start"), N_("the start reading"))
        end = _number(data.get("end"), N_("the end reading"))
        self._conclude_measurement(step, unit, start, end, data)

    def _conclude_measurement(
        self, step: MeasurementStep, unit: PressureUnit, start: float, end: float, data: dict
    ) -> None:
        """Judge the readings by the step's pass rules: pass establishes its facts, a
        failure revokes them and triggers the step's gate."""
        if start <= 0:
            raise InvalidAnswer(_("the start reading must be above zero"))
        if end < 0:
            raise InvalidAnswer(_("the end reading cannot be negative"))
        failures = [f for rule in step.pass_rules if (f := _rule_failure(rule, unit, start, end))]
        passed = not failures
        result = {"unit": unit.value, "start": start, "end": end, **_note(data)}
        self._emit(EventKind.ANSWERED, step.id, result, passed)
        self._readings.pop(step.id, None)
        self._timers.pop(step.id, None)
        if passed:
            for fact in step.establishes:
                event = self._emit(EventKind.ESTABLISHED, step.id, {"fact": fact}, True)
                self._facts[fact] = self._record(fact, True, step.id, event)
            self._index += 1
            return
        for fact in step.establishes:
            self._revoke(step, fact)
        self._trigger(step, step.on_fail, {"failed_rules": failures})

    def _answer_timer(self, step: TimerStep, value: Any) -> None:
        data = _as_dict(value, "confirmed")
        _only(data, {"confirmed", "note"})
        if data.get("confirmed") is not True:
            raise InvalidAnswer(_("confirm the step was done (confirmed: true)"))
        if step.id not in self._timers:
            raise InvalidAnswer(_("start the timer first"))
        self._check_elapsed(step.id)
        self._emit(EventKind.ANSWERED, step.id, {"confirmed": True, **_note(data)}, True)
        self._timers.pop(step.id, None)
        self._index += 1

    def _answer_capture(self, step: CaptureStep, value: Any) -> None:
        if not isinstance(value, dict):
            raise InvalidAnswer(_("give the fields as a mapping"))
        _only(value, {f.name for f in step.fields} | {"note"})
        result: dict[str, Any] = {}
        for spec in step.fields:
            raw = value.get(spec.name)
            label = pick(spec.label)
            if raw is None or raw == "" or raw == []:
                if spec.required:
                    raise InvalidAnswer(_("{field} is required").format(field=label))
                continue
            if spec.type == FieldType.TEXT:
                result[spec.name] = _text(raw, label)
            elif spec.type == FieldType.NUMBER:
                number = _number(raw, label)
                if number < 0:
                    raise InvalidAnswer(_("{field} cannot be negative").format(field=label))
                result[spec.name] = number
            else:
                if not isinstance(raw, list):
                    raise InvalidAnswer(_("{field} must be a list").format(field=label))
                items = [_text(item, label) for item in raw]
                if len(items) < spec.min_items:
                    raise InvalidAnswer(
                        _("{field} needs at least {n}").format(field=label, n=spec.min_items)
                    )
                if len(set(items)) != len(items):
                    raise InvalidAnswer(_("{field} lists a value twice").format(field=label))
                result[spec.name] = items
        result.update(_note(value))
        self._emit(EventKind.ANSWERED, step.id, result, True)
        self._index += 1

    def _answer_sign_off(self, step: SignOffStep, value: Any) -> None:
        data = _as_dict(value, "customer_name")
        _only(data, {"customer_name", "signature_ref", "note"})
        result: dict[str, Any] = {
            "customer_name": _text(data.get("customer_name"), N_("the customer's name"))
        }
        if data.get("signature_ref") is not None:
            result["signature_ref"] = _text(data["signature_ref"], N_("the signature"))
        result.update(_note(data))
        self._emit(EventKind.ANSWERED, step.id, result, True)
        self._index += 1

    # ------------------------------------------------------------ gates and facts

    def _trigger(self, step: Step, gate: Gate, extra: dict[str, Any], note: Any = None) -> None:
        value: dict[str, Any] = {
            "gate": gate.kind.value,
            "reason": gate.reason.model_dump(),
            **extra,
        }
        if gate.refusal_code is not None:
            value["refusal_code"] = gate.refusal_code.value
        if gate.retry_from is not None:
            value["retry_from"] = gate.retry_from
        event = self._emit(EventKind.GATE_TRIGGERED, step.id, value, False)
        if gate.kind == GateKind.REFUSE:
            refused: dict[str, Any] = {
                "refusal_code": value["refusal_code"],
                "reason": gate.reason.model_dump(),
            }
            if isinstance(note, str) and note.strip():
                refused["note"] = note.strip()
            self._emit(EventKind.REFUSED, step.id, refused, False)
            self._status = RunStatus.REFUSED
            return
        self._open_gate = OpenGate(step.id, gate, event)
        self._status = (
            RunStatus.STOPPED if gate.kind == GateKind.STOP else RunStatus.AWAITING_REPAIR
        )

    def _record(self, fact: str, established: bool, step_id: str, event: StepEvent) -> FactRecord:
        return FactRecord(
            fact=fact,
            established=established,
            visit_id=self.visit_id,
            run_id=self.run_id,
            event_id=event.event_id,
            step_id=step_id,
            at=event.at,
        )

    def _revoke(self, step: Step, fact: str) -> None:
        event = self._emit(EventKind.REVOKED, step.id, {"fact": fact}, False)
        self._facts[fact] = self._record(fact, False, step.id, event)

    def _own_latest(self, fact: str) -> FactRecord | None:
        return self._facts.get(fact)

    def _fact(self, fact: str, now: datetime) -> FactRecord | None:
        """The latest record of ``fact`` in this visit up to ``now``, if it establishes it."""
        own = self._own_latest(fact)
        if own is not None:  # this run's own result is the newest word on the fact
            return own if own.established else None
        latest: FactRecord | None = None
        for record in self.context.records:
            if (
                record.fact == fact
                and record.visit_id == self.visit_id
                and record.run_id != self.run_id
                and record.at <= now
                and (latest is None or record.at >= latest.at)
            ):
                latest = record
        return latest if latest is not None and latest.established else None

    def _check_requires(self, step: Step) -> None:
        for fact in step.requires:
            if self._fact(fact, self._at()) is None:
                raise GateClosed(
                    _("“{step}” needs a passed test in this visit first ({fact})").format(
                        step=pick(step.title), fact=fact
                    )
                )

    def _duration(self, step_id: str) -> timedelta:
        step = self.procedure.step(step_id)
        if isinstance(step, TimerStep):
            return timedelta(minutes=step.minutes)
        if isinstance(step, MeasurementStep) and step.hold is not None:
            return timedelta(minutes=step.hold.minutes)
        return timedelta(0)

    def _check_elapsed(self, step_id: str) -> None:
        started = self._timers[step_id]
        remaining = self._duration(step_id) - (self._at() - started)
        if remaining > timedelta(0):
            seconds = math.ceil(remaining.total_seconds())
            raise TimerNotElapsed(
                _("{minutes} min {seconds} s still to go").format(
                    minutes=seconds // 60, seconds=seconds % 60
                ),
                remaining,
            )

    # ------------------------------------------------------------ flow

    def _advance(self) -> None:
        """Move past steps that do not apply or that an earlier pass satisfies; complete."""
        while self._status == RunStatus.IN_PROGRESS and self._index < len(self.procedure.steps):
            step = self.procedure.steps[self._index]
            condition = step.applies_if
            if (
                condition is not None
                and self._answers.get(condition.step) != condition.answer.value
            ):
                self._emit(
                    EventKind.NOT_APPLICABLE,
                    step.id,
                    {
                        "because": {
                            "step": condition.step,
                            "answer": self._answers.get(condition.step),
                        }
                    },
                    None,
                )
                self._index += 1
                continue
            if isinstance(step, MeasurementStep) and step.reuse_earlier_pass:
                evidence = [self._fact(fact, self._at()) for fact in step.establishes]
                if all(e is not None and e.run_id != self.run_id for e in evidence):
                    self._emit(
                        EventKind.SATISFIED_EARLIER,
                        step.id,
                        {
                            "evidence": [
                                {
                                    "fact": e.fact,
                                    "run_id": str(e.run_id),
                                    "event_id": str(e.event_id),
                                    "step_id": e.step_id,
                                }
                                for e in evidence
                                if e is not None
                            ]
                        },
                        True,
                    )
                    self._index += 1
                    continue
            break
        if self._status == RunStatus.IN_PROGRESS and self._index >= len(self.procedure.steps):
            self._complete()

    def _complete(self) -> None:
        self._emit(EventKind.COMPLETED, RUN_STEP, {}, None)
        self._status = RunStatus.COMPLETED

    def _not_finished(self) -> None:
        if self._status.finished:
            raise RunFinished(
                _("the run is {status}; nothing more can be recorded").format(
                    status=status_label(self._status)
                )
            )

    def _current_for(self, step_id: str) -> Step:
        self._not_finished()
        try:
            self.procedure.step(step_id)
        except KeyError:
            raise StepOutOfOrder(
                _("procedure {proc} has no step {step}").format(
                    proc=self.procedure.id, step=step_id
                )
            ) from None
        if self._open_gate is not None:
            gate = self._open_gate
            raise GateClosed(
                _("“{step}” failed ({reason}); record the repair or correction first").format(
                    step=pick(self.procedure.step(gate.step_id).title),
                    reason=pick(gate.gate.reason),
                )
            )
        step = self.current
        if step is None or step.id != step_id:
            raise StepOutOfOrder(
                _("“{step}” is not the current step (now: {current})").format(
                    step=pick(self.procedure.step(step_id).title),
                    current=f"“{pick(step.title)}”" if step else "-",
                )
            )
        return step

    # ------------------------------------------------------------ events

    def _begin(self) -> None:
        self._new = []
        if self._replay:
            self._action_at = self._replay[0].at
            return
        now = self.clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("the clock must return timezone-aware datetimes")
        if self._events and now < self._events[-1].at:
            raise ClockError(
                _(
                    "the clock is earlier than the last saved step ({at}); check the date and time"
                ).format(at=self._events[-1].at.isoformat(timespec="seconds"))
            )
        self._action_at = now

    def _at(self) -> datetime:
        assert self._action_at is not None
        return self._action_at

    def _end(self) -> list[StepEvent]:
        produced, self._new = self._new, []
        return produced

    def _emit(
        self, kind: EventKind, step_id: str, value: dict[str, Any], passed: bool | None
    ) -> StepEvent:
        if self._replay is not None and self._replay:
            saved = self._replay[0]
            expected = (kind, step_id, value, passed)
            got = (saved.kind, saved.step_id, saved.value, saved.passed)
            if got != expected:
                raise ReplayError(
                    _(
                        "event {id} does not match the rules: saved {got}, expected {expected}"
                    ).format(
                        id=saved.event_id,
                        got=_describe(saved.kind, saved.step_id, saved.value, saved.passed),
                        expected=_describe(kind, step_id, value, passed),
                    )
                )
            if self._events and saved.at < self._events[-1].at:
                raise ReplayError(
                    _("event {id} is older than the event before it").format(id=saved.event_id)
                )
            self._replay.popleft()
            event = saved
        else:
            at = self._at()
            restoring = self._replay is not None  # the saved list ended mid-action (a crash)
            if restoring:
                at = max(self.clock(), at)
            event = StepEvent(
                event_id=uuid.uuid4(),
                run_id=self.run_id,
                step_id=step_id,
                kind=kind,
                value=value,
                passed=passed,
                at=at,
                actor=self.actor,
            )
            if restoring:
                self.events_added_on_restore.append(event)
        self._events.append(event)
        self._new.append(event)
        return event


def failure_text(failure: dict[str, Any]) -> str:
    """The failed pass rule in words: 有压降 (a pressure drop) or 起始压力不足 (too low)."""
    unit = str(failure.get("unit", ""))
    if failure.get("rule") == PassRuleKind.NO_DROP.value:
        return _("pressure drop (有压降): {drop:g} {unit}").format(
            drop=float(failure.get("drop", 0.0)), unit=unit
        )
    value = float(failure.get("value", 0.0))
    low, high = failure.get("min"), failure.get("max")
    if low is not None and value < float(low):
        if failure.get("reading") == "start":
            return _(
                "start pressure too low (起始压力不足): {value:g} {unit}; "
                "the rule is start reading ≥ {min:g} {unit}"
            ).format(value=value, unit=unit, min=float(low))
        return _("end pressure too low: {value:g} {unit}; the rule is ≥ {min:g} {unit}").format(
            value=value, unit=unit, min=float(low)
        )
    return _("pressure too high: {value:g} {unit}; the rule is ≤ {max:g} {unit}").format(
        value=value, unit=unit, max=float(high if high is not None else 0.0)
    )


def _describe(kind: EventKind, step_id: str, value: dict[str, Any], passed: bool | None) -> str:
    return f"{kind.value} @ {step_id} {value} passed={passed}"


def _rule_failure(
    rule: PassRule, unit: PressureUnit, start: float, end: float
) -> dict[str, Any] | None:
    """Why a reading breaks a rule (JSON-able), or None when it meets it."""
    if rule.rule == PassRuleKind.NO_DROP:
        drop = start - end
        if drop > 1e-9 * max(abs(start), 1.0):
            return {"rule": "no_drop", "drop": drop, "unit": unit.value}
        return None
    assert rule.unit is not None
    reading = start if rule.reading == "start" else end
    value = convert(reading, unit, rule.unit)
    too_low = rule.min is not None and value < rule.min - 1e-9
    too_high = rule.max is not None and value > rule.max + 1e-9
    if too_low or too_high:
        return {
            "rule": rule.rule.value,
            "reading": rule.reading,
            "value": value,
            "unit": rule.unit.value,
            "min": rule.min,
            "max": rule.max,
        }
    return None
