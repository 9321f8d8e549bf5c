"""The visit session service: one typed, UI-free way to run procedures in a visit.

Every call saves before it returns (the engine's events go through
:class:`~fieldkit.records.repo.VisitRepository` in one transaction) and is checked against
the visit's safety state (:mod:`fieldkit.safety`), which the engine consults before it
accepts a step. A new session on the same database (after a crash) restores every run from
its saved events, so the state is the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from fieldkit.i18n import _, pick
from fieldkit.procedures.engine import (
    NOT_APPLICABLE,
    EventKind,
    FactRecord,
    ProcedureRun,
    RunStatus,
    StepEvent,
    StepOutOfOrder,
    VisitContext,
    utc_now,
)
from fieldkit.procedures.models import CheckStep, GateKind, Procedure, Step
from fieldkit.safety import HazardFacts, RunFacts, SafetyState, VisitFacts, derive
from fieldkit.safety.state import voided_tightness
from fieldkit.session.errors import (
    NotDiscardable,
    RefusalNeedsConfirmation,
    RefusalPreview,
    SafetyBlocked,
)
from fieldkit.session.views import RunView

if TYPE_CHECKING:  # pragma: no cover
    from fieldkit.records.models import OutboxItem, VisitOutcome
    from fieldkit.records.repo import VisitRepository


class VisitSession:
    """The runs of one open visit, restored from the database and kept in step with it."""

    def __init__(
        self,
        repo: VisitRepository,
        library: Mapping[str, Procedure],
        visit_id: uuid.UUID,
        *,
        actor: str,
        clock: Callable[[], datetime] = utc_now,
    ):
        if not actor.strip():
            raise ValueError("actor must name who does the work")
        self.repo = repo
        self.library = library
        self.visit_id = visit_id
        self.actor = actor
        self.clock = clock
        self._runs: dict[uuid.UUID, ProcedureRun] = {}
        self._kept: list[RunFacts] = []  # runs kept in the record but not resumable here
        self._order: list[uuid.UUID] = []
        self._hazards: tuple[HazardFacts, ...] | None = None  # read once per public call
        self._derived: tuple[object, SafetyState] | None = None  # (facts, their state)
        self._built: tuple[object, VisitFacts] | None = None  # (what they were built from, facts)
        self._depth = 0
        self._restore()

    @contextmanager
    def reading(self) -> Iterator[VisitSession]:
        """One consistent look at the visit: the hazards are read once for every call made
        inside the block (``safety()``, ``runs()``, ``view()``), not once per call."""
        with self._call():
            yield self

    @contextmanager
    def _call(self) -> Iterator[None]:
        """One public call: the hazards are read once, at its start."""
        if self._depth == 0:
            self._hazards = None
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._hazards = None

    # ------------------------------------------------------------ loading

    def _restore(self) -> None:
        """Rebuild every run of the visit from its saved events (events lost in a crash
        are recreated by the engine and saved now)."""
        self._runs = {}
        self._built = None
        stored = self.repo.safety_facts(self.visit_id)
        self._order = [run.run_id for run in stored.runs]
        self._kept = []
        context = self._context(stored)
        versions = self.repo.run_versions(self.visit_id)
        for record in stored.runs:
            procedure = self.library.get(record.procedure_id)
            events = list(record.events)
            if procedure is None or procedure.version != versions.get(record.run_id) or not events:
                # kept in the record and in the safety state, not resumable here
                self._kept.append(record)
                continue
            run = ProcedureRun.restore(
                procedure, events, context=context, clock=self.clock, actor=self.actor
            )
            run.guard = self._guard
            self._runs[run.run_id] = run
            if run.events_added_on_restore:
                self._save(run, list(run.events_added_on_restore))

    def facts(self) -> VisitFacts:
        """The visit's stored facts: every run's saved events (kept in step with the
        database: each call saves before it returns) and the hazards, read afresh (they
        change through other screens)."""
        hazards = self._hazards
        if hazards is None:
            hazards = self.repo.hazard_facts(self.visit_id)
            if self._depth:
                self._hazards = hazards
        # built again only when a run's trail grew (trails only grow), a run was opened or
        # discarded, or the hazards read differ: the facts are frozen, so sharing is safe
        counts = tuple(
            (i, run.event_count if run is not None else -1)
            for i in self._order
            for run in (self._runs.get(i),)
        )
        built = self._built
        if built is not None and built[0] == (counts, hazards):
            return built[1]
        runs = {run.run_id: run for run in self._kept}
        for run_id, run in self._runs.items():
            runs[run_id] = RunFacts(run_id, run.procedure.id, tuple(run.events))
        ordered = [runs[i] for i in self._order if i in runs]
        facts = VisitFacts(
            self.visit_id, tuple(replace(run, order=n) for n, run in enumerate(ordered)), hazards
        )
        self._built = ((counts, hazards), facts)
        return facts

    def _context(self, facts: VisitFacts | None = None) -> VisitContext:
        facts = facts if facts is not None else self.facts()
        events = [e for run in facts.runs for e in run.events]
        context = VisitContext.from_events(events, visit_id=self.visit_id)
        voided = [
            FactRecord(
                fact="tightness_passed",
                established=False,
                visit_id=self.visit_id,
                run_id=run_id,
                event_id=event.event_id,
                step_id=event.step_id,
                at=event.at,
            )
            for run_id, event in voided_tightness(facts)
        ]
        if voided:
            records = sorted((*context.records, *voided), key=lambda r: r.at)
            context = VisitContext(visit_id=self.visit_id, records=tuple(records))
        return context

    def _guard(self, run: ProcedureRun, step: Step) -> None:
        blockers = self.safety().blockers_for_step(run.procedure.id, step.id)
        if blockers:
            raise SafetyBlocked(blockers)

    def _run(self, run_id: uuid.UUID) -> ProcedureRun:
        run = self._runs.get(run_id)
        if run is None:
            raise StepOutOfOrder(_("no run {id} in this visit").format(id=run_id))
        run.context = self._context()
        return run

    def _save(self, run: ProcedureRun, events: list[StepEvent]) -> None:
        if not events:
            return
        try:
            self.repo.record_events(self.visit_id, run.run_id, events, run_status=run.status.value)
        except Exception:
            self._restore()  # memory must never be ahead of the database
            raise

    def _view(self, run: ProcedureRun, state: SafetyState | None = None) -> RunView:
        state = state if state is not None else self.safety()
        return RunView.of(run, state.blockers_for(run.procedure.id))

    # ------------------------------------------------------------ reading

    def safety(self) -> SafetyState:
        with self._call():
            facts = self.facts()
            # derive is pure: the same facts (events are immutable, hazards read afresh
            # above) give the same state, so the last one is reused while nothing changed
            if self._derived is None or (
                self._derived[0] is not facts and self._derived[0] != facts
            ):
                self._derived = (facts, derive(facts))
            return self._derived[1]

    def runs(self) -> tuple[RunView, ...]:
        with self._call():
            state = self.safety()
            return tuple(self._view(run, state) for run in self._runs.values())

    def view(self, run_id: uuid.UUID) -> RunView:
        with self._call():
            return self._view(self._run(run_id))

    def preview_refusal(
        self, run_id: uuid.UUID, step_id: str, value: object
    ) -> RefusalPreview | None:
        with self._call():
            run = self._run(run_id)
            try:
                step = run.procedure.step(step_id)
            except KeyError:
                return None
            if not isinstance(step, CheckStep) or step.on_fail is None:
                return None
            if step.on_fail.kind != GateKind.REFUSE:
                return None
            raw = value.get("answer") if isinstance(value, dict) else value
            if raw is True or raw is False:
                raw = "yes" if raw else "no"
            if raw in (step.pass_answer.value, NOT_APPLICABLE) or raw not in ("yes", "no"):
                return None
            return RefusalPreview(
                rule=pick(step.text),
                consequence=_(
                    "Gas will be refused (不予通气): {reason}. This procedure ends here and the "
                    "refusal is recorded; gas-in and ignition stay closed in this visit until a "
                    "correction is recorded and the check is re-run and passed."
                ).format(reason=pick(step.on_fail.reason)),
            )

    # ------------------------------------------------------------ actions

    def open_run(self, procedure_id: str) -> RunView:
        """Resume the unfinished run of that procedure, or start one (saved at once)."""
        with self._call():
            for run in reversed(list(self._runs.values())):
                if run.procedure.id == procedure_id and not run.status.finished:
                    return self.view(run.run_id)
            procedure = self.library.get(procedure_id)
            if procedure is None:
                raise StepOutOfOrder(_("no procedure {id}").format(id=procedure_id))
            run = ProcedureRun.start(
                procedure,
                run_id=uuid.uuid4(),
                actor=self.actor,
                context=self._context(),
                clock=self.clock,
            )
            run.guard = self._guard
            self.repo.start_run(
                self.visit_id,
                procedure_id=procedure.id,
                procedure_version=procedure.version,
                actor=self.actor,
                run_id=run.run_id,
                events=run.events,
                run_status=run.status.value,
            )
            self._runs[run.run_id] = run
            self._order.append(run.run_id)
            return self._view(run)

    def answer(
        self, run_id: uuid.UUID, step_id: str, value: object, *, confirmed: bool = False
    ) -> RunView:
        with self._call():
            run = self._run(run_id)
            preview = self.preview_refusal(run_id, step_id, value)
            if preview is not None and not confirmed:
                raise RefusalNeedsConfirmation(preview)
            self._save(run, run.answer(step_id, value))
            return self._view(run)

    def start_timer(self, run_id: uuid.UUID, step_id: str) -> RunView:
        with self._call():
            run = self._run(run_id)
            self._save(run, run.start_timer(step_id))
            return self._view(run)

    def record_repair(self, run_id: uuid.UUID, description: str) -> RunView:
        with self._call():
            run = self._run(run_id)
            self._save(run, run.record_repair(description))
            return self._view(run)

    def correct(
        self, run_id: uuid.UUID, event_id: uuid.UUID, value: object, reason: str
    ) -> RunView:
        """Append a correction (with its reason) of a wrong answer; both stay in the trail."""
        with self._call():
            run = self._run(run_id)
            self._save(run, run.correct(event_id, value, reason))
            return self._view(run)

    def record_refusal_correction(self, what_was_done: str, by: str) -> SafetyState:
        """After 不予通气: what was done and by whom; then the check is re-run (a new run)."""
        with self._call():
            waiting = [run for run in self._runs.values() if _awaits_correction(run)]
            if not waiting:
                raise StepOutOfOrder(_("no refusal in this visit is waiting for a correction"))
            for run in waiting:
                run.context = self._context()
                self._save(run, run.record_refusal_correction(what_was_done, by))
            return self.safety()

    def discard(self, run_id: uuid.UUID) -> None:
        """Remove a run opened by mistake; only while it has no answers."""
        with self._call():
            run = self._run(run_id)
            if not RunView.of(run).discardable():
                raise NotDiscardable(
                    _("this run has answers; abandon it with a reason instead of discarding it")
                )
            self.repo.discard_run(self.visit_id, run_id)
            del self._runs[run_id]
            self._order.remove(run_id)

    def abandon(self, run_id: uuid.UUID, reason: str) -> RunView:
        with self._call():
            run = self._run(run_id)
            self._save(run, run.abandon(reason))
            return self._view(run)

    def close(self, outcome: VisitOutcome | str, reason: str | None = None) -> OutboxItem:
        """Close the visit (the closing rules consult the same safety state)."""
        return self.repo.close_visit(self.visit_id, outcome, reason)


def _awaits_correction(run: ProcedureRun) -> bool:
    if run.status != RunStatus.REFUSED:
        return False
    for event in reversed(run.events):
        if event.kind == EventKind.REFUSAL_CORRECTED:
            return False
        if event.kind == EventKind.REFUSED:
            return True
    return False
