"""Open, resume and drive one procedure run of a visit, saving each action before returning.

The surface is the one of the visit session service (``fieldkit.session.VisitSession``):
``open_run``, ``answer``, ``start_timer``, ``record_repair``, ``abandon``; the screen calls
nothing else. This adapter keeps the TUI working over the engine and the records layer
until that service lands.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime

from fieldkit.i18n import _
from fieldkit.procedures.engine import (
    ProcedureError,
    ProcedureRun,
    StepEvent,
    VisitContext,
)
from fieldkit.procedures.models import Procedure
from fieldkit.records.repo import VisitRepository


class RunNotSaved(Exception):
    """The database refused the write; the run was rebuilt from what is stored."""


class RunSession:
    """One visit's procedure runs, driven by the TUI."""

    def __init__(
        self,
        repo: VisitRepository,
        library: Mapping[str, Procedure],
        visit_id: uuid.UUID,
        *,
        actor: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.repo = repo
        self.library = library
        self.visit_id = visit_id
        self.actor = actor
        self.clock = clock
        self._runs: dict[uuid.UUID, ProcedureRun] = {}

    def visit_events(self) -> list[StepEvent]:
        return list(self.repo.resume(self.visit_id).all_step_events())

    def open_run(self, procedure_id: str) -> ProcedureRun:
        """Resume this procedure's unfinished run in the visit, show its last finished run,
        or start a new one. Raises ProcedureError (cannot continue) or a database error."""
        procedure = self.library.get(procedure_id)
        if procedure is None:
            raise ProcedureError(_("Procedure {id} is not in the library.").format(id=procedure_id))
        state = self.repo.resume(self.visit_id)
        context = VisitContext.from_events(state.all_step_events(), visit_id=self.visit_id)
        mine = [r for r in state.runs if r.procedure_id == procedure_id]
        unfinished = [r for r in mine if not r.finished]
        if unfinished and not unfinished[-1].events:
            run = self._restart_empty(procedure, context, unfinished[-1])
        elif unfinished or mine:
            saved = (unfinished or mine)[-1]
            run = ProcedureRun.restore(
                procedure, saved.step_events(), context=context, actor=self.actor, clock=self.clock
            )
            if unfinished and run.events_added_on_restore:
                self.repo.record_events(
                    self.visit_id,
                    run.run_id,
                    run.events_added_on_restore,
                    run_status=run.status.value,
                )
        else:
            run = self._start_new(procedure, context)
        self._runs[run.run_id] = run
        return run

    def _start_new(self, procedure: Procedure, context: VisitContext) -> ProcedureRun:
        """The run row and its "started" event in ONE transaction."""
        run_id = uuid.uuid4()
        run = ProcedureRun.start(
            procedure, run_id=run_id, actor=self.actor, context=context, clock=self.clock
        )
        self.repo.start_run(
            self.visit_id,
            procedure_id=procedure.id,
            procedure_version=procedure.version,
            actor=self.actor,
            run_id=run_id,
            events=run.events,
            run_status=run.status.value,
        )
        return run

    def _restart_empty(
        self, procedure: Procedure, context: VisitContext, saved: object
    ) -> ProcedureRun:
        """A run row without events (an old database): start it again."""
        run_id = getattr(saved, "run_id")  # noqa: B009 - the records layer's run record
        if getattr(saved, "procedure_version") != procedure.version:  # noqa: B009
            self.repo.set_run_status(run_id, "abandoned")
            return self._start_new(procedure, context)
        run = ProcedureRun.start(
            procedure, run_id=run_id, actor=self.actor, context=context, clock=self.clock
        )
        self.repo.record_events(self.visit_id, run_id, run.events, run_status=run.status.value)
        return run

    def _save(self, run: ProcedureRun, events: list[StepEvent]) -> ProcedureRun:
        try:
            self.repo.record_events(self.visit_id, run.run_id, events, run_status=run.status.value)
        except Exception as exc:  # the database refused the write (locked, disk full, ...)
            cause = getattr(exc, "orig", None) or exc
            self.open_run(run.procedure.id)
            raise RunNotSaved(str(cause)) from exc
        return run

    def view(self, run_id: uuid.UUID) -> ProcedureRun:
        return self._runs[run_id]

    def answer(self, run_id: uuid.UUID, step_id: str, value: object) -> ProcedureRun:
        run = self._runs[run_id]
        return self._save(run, run.answer(step_id, value))

    def start_timer(self, run_id: uuid.UUID, step_id: str) -> ProcedureRun:
        run = self._runs[run_id]
        return self._save(run, run.start_timer(step_id))

    def record_repair(self, run_id: uuid.UUID, description: str) -> ProcedureRun:
        run = self._runs[run_id]
        return self._save(run, run.record_repair(description))

    def abandon(self, run_id: uuid.UUID, reason: str) -> ProcedureRun:
        run = self._runs[run_id]
        return self._save(run, run.abandon(reason))
