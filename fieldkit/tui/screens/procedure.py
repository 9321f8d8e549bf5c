"""The procedure runner: one step at a time, gates shown plainly, every answer saved first.

The screen decides nothing about safety. It shows the engine's current step, passes the
technician's answer to :class:`fieldkit.procedures.engine.ProcedureRun`, saves the events
the engine returns with :meth:`fieldkit.records.repo.VisitRepository.record_events` (which
returns after the commit), and only then says "saved". When the engine holds the job (a
failed test, a refusal condition) the screen shows the engine's reason in a red panel and
offers only what the engine offers: record the repair and redo the test, or end the job as
不予通气 with the reason recorded.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Footer, Label, Select, Static

from fieldkit.diagnostics.present import (
    as_written_lines,
    fact_label,
    paragraph_lines,
    utility_fields_note,
)
from fieldkit.i18n import _, get_language, pick
from fieldkit.procedures.units import PressureUnit
from fieldkit.tui.screens.base import FieldkitScreen
from fieldkit.tui.screens.lookup import source_line
from fieldkit.tui.text import narrow
from fieldkit.tui.widgets.countdown import Countdown
from fieldkit.tui.widgets.gate import GatePanel
from fieldkit.tui.widgets.inputs import FieldInput
from fieldkit.tui.widgets.status import StatusBar


def _t(text: Any) -> str:
    return escape(narrow(pick(text))) if text is not None else ""


def _reason(value: Any) -> str:
    """A gate reason stored in an event (a {zh, en} dict) in the current language."""
    if isinstance(value, dict):
        return escape(narrow(pick(value)))
    return escape(narrow(str(value or "")))


def rule_text(rule: Any) -> str:
    """A measurement's pass rule in words (what the engine will check)."""
    kind = str(rule.rule.value)
    reading = _("start reading") if rule.reading == "start" else _("end reading")
    unit = str(rule.unit.value) if rule.unit is not None else ""
    if kind == "no_drop":
        return _("no pressure drop (end >= start)")
    if kind == "min":
        return f"{reading} >= {rule.min:g} {unit}"
    if kind == "max":
        return f"{reading} <= {rule.max:g} {unit}"
    return f"{rule.min:g} <= {reading} <= {rule.max:g} {unit}"


class ProcedureScreen(FieldkitScreen):
    """Runs (or resumes) one procedure of one visit."""

    CSS_PATH = "procedure.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f7", "yes", "Yes/Done", id="run.yes"),
        Binding("f8", "no", "No", id="run.no"),
        Binding("ctrl+o", "not_applicable", "N/A", id="run.na"),
        Binding("ctrl+s", "save", "Save", id="run.save"),
        Binding("ctrl+t", "start_timer", "Start timer", id="run.timer"),
        Binding("ctrl+r", "repair", "Record repair", id="run.repair"),
        Binding("ctrl+g", "end_job", "End job", id="run.end"),
        Binding("escape", "back", "Back", id="run.back"),
    ]

    def __init__(self, visit_id: uuid.UUID, procedure_id: str) -> None:
        super().__init__()
        self.visit_id = visit_id
        self.procedure_id = procedure_id
        self.run: Any = None
        self._repairing = False
        self._load_error: str | None = None
        self._unit_options: list[tuple[str, str]] = []

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield StatusBar(_("Procedure"))
        yield Static("", id="step-title")
        yield GatePanel(id="gate")
        with VerticalScroll(id="run-body"):
            yield Static("", id="step-text")
            yield Static("", id="step-say", classes="say")
            yield Countdown(id="countdown")
            yield Static("", id="finding")
            yield Static("", id="step-question")
            with Vertical(id="answer-form"):
                yield Label("", id="unit-label")
                yield Select(
                    [(u.value, u.value) for u in PressureUnit], id="unit", allow_blank=False
                )
                yield Label("", id="label-1")
                yield FieldInput(id="input-1")
                yield Label("", id="label-2")
                yield FieldInput(id="input-2")
                yield Label("", id="label-3")
                yield FieldInput(id="input-3")
                yield Label("", id="label-4")
                yield FieldInput(id="input-4")
            yield Static("", id="step-source", classes="hint")
        with Vertical(id="run-status"):
            yield Static("", id="run-saved")
            yield Static("", id="run-hint", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self._open_run()
        self.refresh_step()

    # ------------------------------------------------------------------ engine + storage

    @property
    def repo(self) -> Any:
        return self.services.repository()

    def _actor(self) -> str:
        return self.fk_app.settings.technician_id or "?"

    def _open_run(self) -> None:
        """Resume this procedure's unfinished run in the visit, or start a new one."""
        from fieldkit.procedures.engine import ProcedureError, ProcedureRun, VisitContext

        procedure = self.services.procedures().get(self.procedure_id)
        if procedure is None:
            self._load_error = _("Procedure {id} is not in the library.").format(
                id=self.procedure_id
            )
            return
        state = self.repo.resume(self.visit_id)
        context = VisitContext.from_events(state.all_step_events(), visit_id=self.visit_id)
        mine = [r for r in state.runs if r.procedure_id == self.procedure_id]
        unfinished = [r for r in mine if not r.finished]
        try:
            if unfinished and not unfinished[-1].events:
                # A run row without its "started" event (a database from before runs were
                # started in one transaction): start it again cleanly.
                run = self._restart_empty(procedure, context, unfinished[-1])
            elif unfinished:
                saved = unfinished[-1]
                run = ProcedureRun.restore(
                    procedure, saved.step_events(), context=context, actor=self._actor()
                )
                if run.events_added_on_restore:
                    self.repo.record_events(
                        self.visit_id,
                        run.run_id,
                        run.events_added_on_restore,
                        run_status=run.status.value,
                    )
            elif mine:
                # The last run of this procedure finished: show it as it ended.
                saved = mine[-1]
                run = ProcedureRun.restore(
                    procedure, saved.step_events(), context=context, actor=self._actor()
                )
            else:
                run = self._start_new(procedure, context)
        except ProcedureError as exc:
            self._load_error = _("This run cannot be continued: {error}").format(error=exc)
            return
        except Exception as exc:  # the database refused the write (disk full, locked, ...)
            # SQLAlchemy wraps the driver's error with the whole statement: show the cause.
            cause = getattr(exc, "orig", None) or exc
            self._load_error = _("The run could not be started (nothing saved): {error}").format(
                error=cause
            )
            return
        self._load_error = None
        self.run = run

    def _start_new(self, procedure: Any, context: Any) -> Any:
        """Start a run: the run row and its "started" event are saved in ONE transaction,
        so a run never exists without its first event (a crash leaves nothing or both)."""
        from fieldkit.procedures.engine import ProcedureRun

        run_id = uuid.uuid4()
        run = ProcedureRun.start(procedure, run_id=run_id, actor=self._actor(), context=context)
        self.repo.start_run(
            self.visit_id,
            procedure_id=procedure.id,
            procedure_version=procedure.version,
            actor=self._actor(),
            run_id=run_id,
            events=run.events,
            run_status=run.status.value,
        )
        return run

    def _restart_empty(self, procedure: Any, context: Any, saved: Any) -> Any:
        """Start again a saved run that has no events: under the same run id when the
        procedure version is the same (one transaction), else end it and start a new one."""
        from fieldkit.procedures.engine import ProcedureRun

        if saved.procedure_version != procedure.version:
            self.repo.set_run_status(saved.run_id, "abandoned")
            return self._start_new(procedure, context)
        run = ProcedureRun.start(
            procedure, run_id=saved.run_id, actor=self._actor(), context=context
        )
        self.repo.record_events(
            self.visit_id, saved.run_id, run.events, run_status=run.status.value
        )
        return run

    def _act(self, action: str, *args: Any) -> bool:
        """Do one engine action and save its events before saying so. True when saved."""
        from fieldkit.procedures.engine import GateClosed, ProcedureError, TimerNotElapsed

        saved = self.query_one("#run-saved", Static)
        try:
            events = getattr(self.run, action)(*args)
        except TimerNotElapsed as exc:
            saved.set_classes("error-text")
            saved.update(_("Not yet: {why}").format(why=exc))
            return False
        except GateClosed as exc:
            self.query_one("#gate", GatePanel).show(_("STOP") + "\n" + escape(narrow(str(exc))))
            saved.update("")
            return False
        except ProcedureError as exc:
            saved.set_classes("error-text")
            saved.update(_("Not accepted: {why}").format(why=escape(str(exc))))
            return False
        try:
            self.repo.record_events(
                self.visit_id, self.run.run_id, events, run_status=self.run.status.value
            )
        except Exception as exc:
            # Not saved: rebuild the run from what is stored, so screen and disk agree.
            saved.set_classes("error-text")
            saved.update(_("NOT saved: {error}. Answer again.").format(error=escape(str(exc))))
            self._open_run()
            self.refresh_step(keep_message=True)
            return False
        self._clear_inputs()
        self.refresh_step()
        saved.set_classes("saved")
        saved.update(_("Saved"))
        return True

    # ------------------------------------------------------------------ showing the step

    def _step_position(self, step: Any) -> str:
        steps = self.run.procedure.steps
        return f"{steps.index(step) + 1}/{len(steps)}"

    def _compact(self) -> None:
        """Hide empty text blocks so the step fits an 80x24 screen."""
        for selector in ("#finding", "#step-question", "#step-source", "#step-text"):
            widget = self.query_one(selector, Static)
            widget.display = bool(str(widget.render()).strip())

    def refresh_step(self, keep_message: bool = False) -> None:
        self.call_after_refresh(self._compact)
        self.refresh_bindings()
        if not keep_message:
            self.query_one("#run-saved", Static).update("")
        gate = self.query_one("#gate", GatePanel)
        countdown = self.query_one("#countdown", Countdown)
        title = self.query_one("#step-title", Static)
        finding = self.query_one("#finding", Static)
        finding.update("")
        if self._load_error is not None or self.run is None:
            title.update("")
            gate.show(escape(self._load_error or _("No run.")))
            self._show_form(None)
            return
        from fieldkit.procedures.engine import RunStatus

        run = self.run
        self.query_one(StatusBar).heading = narrow(pick(run.procedure.title))
        step = run.current
        status = run.status
        # The red panel: the engine's reason, nothing the UI makes up.
        if status == RunStatus.REFUSED:
            refusal = run.refusal
            reason = _reason(refusal.value.get("reason")) if refusal else ""
            note = refusal.value.get("note") if refusal else None
            text = _("GAS REFUSED") + "\n" + reason
            if note:
                text += "\n" + _("Note: {note}").format(note=escape(narrow(note)))
            text += "\n" + _("Ctrl+G: close the visit as gas refused, with this reason.")
            gate.show(text)
        elif run.open_gate is not None:
            open_gate = run.open_gate
            failed = run.procedure.step(open_gate.step_id)
            kind = str(open_gate.gate.kind.value)
            head = (
                _("STOPPED: unsafe - correct it, then check again")
                if kind == "stop"
                else _("FAILED: repair, then test again")
            )
            text = (
                f"{head}\n{_t(failed.title)}: {_t(open_gate.gate.reason)}\n"
                + _("Ignition and every later step are blocked.")
                + "\n"
                + _("Ctrl+R: record the repair.  Ctrl+G: end the job (stopped or incomplete).")
            )
            gate.show(text)
        else:
            gate.hide()
        # A symptom flow's finding (not a gate).
        for event in reversed(run.events):
            if str(event.kind.value) == "finding":
                refs = ", ".join(event.value.get("see_also", []))
                text = _("Found: {text}").format(text=_reason(event.value.get("text")))
                if refs:
                    text += "\n" + _("See the fault table: {refs} (F3)").format(refs=refs)
                finding.update(text)
                break

        if status == RunStatus.COMPLETED:
            title.update(f"[b]{escape(_('Procedure completed'))}[/b]")
            self._show_text(None)
            countdown.stop()
            self._show_form(None)
            self._hint(_("Esc: back to the visit (run the next procedure or end the visit)."))
            return
        if status.finished:
            title.update(f"[b]{escape(_('This run has ended'))}[/b]")
            self._show_text(None)
            countdown.stop()
            self._show_form(None)
            if status != RunStatus.REFUSED:
                self._hint(_("Esc: back to the visit."))
            else:
                self._hint("")
            return
        if step is None:
            return
        title.update(
            f"[b]{escape(_('Step {pos}').format(pos=self._step_position(step)))}: "
            f"{_t(step.title)}[/b]"
        )
        self._show_text(step)
        running = run.timer_remaining(step.id)
        if running is not None and run.open_gate is None:
            countdown.follow(self._remaining_seconds)
        else:
            countdown.stop()
        if run.open_gate is not None:
            self._show_form("repair" if self._repairing else None)
            self._hint("")
            return
        self._show_form(str(step.kind))

    def _remaining_seconds(self) -> float | None:
        if self.run is None or self.run.current is None:
            return None
        remaining = self.run.timer_remaining(self.run.current.id)
        return None if remaining is None else remaining.total_seconds()

    def _show_text(self, step: Any) -> None:
        text = self.query_one("#step-text", Static)
        say = self.query_one("#step-say", Static)
        source = self.query_one("#step-source", Static)
        if step is None:
            text.update("")
            say.update("")
            source.update("")
            say.display = False
            return
        body = _t(step.text)
        procedure = self.run.procedure
        if procedure.steps and step.id == procedure.steps[0].id:
            # The procedure's own introduction and notes, with its first step.
            extra = []
            for paragraph in [*procedure.intro, *procedure.notes]:
                first, *more = paragraph_lines(paragraph, get_language())
                extra.append(f"[b]{escape(narrow(first))}[/b]")
                extra.extend(f"[dim]{escape(narrow(line))}[/dim]" for line in more)
            if extra:
                body = "\n".join(extra) + "\n\n" + body
        text.update(body)
        if step.say_to_customer is not None:
            say.display = True
            say.update(f"[b]{escape(_('Say to the customer:'))}[/b] {_t(step.say_to_customer)}")
        else:
            say.display = False
            say.update("")
        lines = [narrow(line) for line in as_written_lines(step.as_written)]
        if step.source is not None and not step.source.is_manual:
            lines.append(source_line(step.source))
        utility = utility_fields_note(getattr(step, "fields", []))
        if utility is not None:
            lines.append(narrow(utility))
        hold = getattr(step, "hold", None)
        if hold is not None:
            lines.append(
                _("Hold {minutes} min").format(minutes=f"{hold.minutes:g}")
                + " - "
                + source_line(hold.source)
            )
        for rule in getattr(step, "pass_rules", []):
            lines.append(
                _("Pass rule: {rule}").format(rule=rule_text(rule))
                + (" - " + source_line(rule.source) if rule.source is not None else "")
            )
        if step.requires:
            facts = [fact_label(f, [procedure]) for f in step.requires]
            lines.append(_("Needs first: {facts}").format(facts=narrow(", ".join(facts))))
        source.update(escape("\n".join(lines)))

    def _hint(self, text: str) -> None:
        self.query_one("#run-hint", Static).update(escape(text))

    def _label_input(self, n: int, label: str, *, number: bool = False) -> FieldInput:
        self.query_one(f"#label-{n}", Label).update(escape(label))
        self.query_one(f"#label-{n}", Label).display = True
        field = self.query_one(f"#input-{n}", FieldInput)
        field.display = True
        field.type = "number" if number else "text"
        return field

    def _show_form(self, kind: str | None) -> None:
        """Show only the inputs the current step needs."""
        question = self.query_one("#step-question", Static)
        question.update("")
        for n in range(1, 5):
            self.query_one(f"#label-{n}", Label).display = False
            self.query_one(f"#input-{n}", FieldInput).display = False
        self.query_one("#unit-label", Label).display = False
        self.query_one("#unit", Select).display = False
        step = self.run.current if self.run is not None else None
        first: FieldInput | None = None
        if kind == "repair":
            first = self._label_input(1, _("What was repaired (required)"))
            self._hint(_("Ctrl+S: save the repair; the test is then done again."))
        elif kind == "check" and step is not None:
            question.update(f"[b]{_t(step.question)}[/b]")
            first = self._label_input(2, _("Note (optional)"))
            keys = _("F7: yes   F8: no")
            if step.allow_not_applicable:
                keys += "   " + _("Ctrl+O: not applicable")
            self._hint(keys)
        elif kind == "instruction" and step is not None:
            first = self._label_input(2, _("Note (optional)"))
            self._hint(_("F7: done"))
        elif kind == "timer" and step is not None:
            if self.run.timer_remaining(step.id) is None:
                self._hint(
                    _("Ctrl+T: start the {minutes} min timer").format(minutes=f"{step.minutes:g}")
                )
            else:
                self._hint(_("F7: done (only after the time is over)"))
        elif kind == "measurement" and step is not None:
            unit = self.query_one("#unit", Select)
            self.query_one("#unit-label", Label).update(escape(_("Unit")))
            self.query_one("#unit-label", Label).display = True
            unit.display = True
            pending = self.run.pending_reading(step.id)
            options = [(u.value, u.value) for u in step.units]
            if [o[1] for o in unit._options if o[1] is not Select.BLANK] != [o[1] for o in options]:
                unit.set_options(options)
            if pending is not None:
                unit.value = pending["unit"]
                unit.disabled = True
                start = self._label_input(1, _("Start reading (recorded)"), number=True)
                start.value = f"{pending['start']:g}"
                start.disabled = True
                first = self._label_input(2, _("End reading"), number=True)
            else:
                unit.disabled = False
                start = self._label_input(1, _("Start reading"), number=True)
                start.disabled = False
                first = start
                if step.hold is None:
                    self._label_input(2, _("End reading"), number=True)
            self._hint(
                _("Ctrl+S: save the reading")
                if step.hold is None or pending is not None
                else _("Ctrl+S: save the start reading; the hold time starts")
            )
        elif kind == "capture" and step is not None:
            for n, spec in enumerate(step.fields[:4], start=1):
                label = narrow(pick(spec.label))
                if getattr(spec, "source", None) is not None:
                    label += "*"  # not in the manual: the utility's own field
                if spec.unit:
                    label += f" ({spec.unit})"
                if str(spec.type.value) == "text_list":
                    label += " " + _("(comma separated)")
                if not spec.required:
                    label += " " + _("(optional)")
                field = self._label_input(n, narrow(label), number=str(spec.type.value) == "number")
                first = first or field
            self._hint(_("Ctrl+S: save"))
        elif kind == "sign_off" and step is not None:
            first = self._label_input(1, _("Customer's name (signs the handover form)"))
            self._hint(_("Ctrl+S: save the signature"))
        if first is not None and not first.disabled:
            first.focus()

    def _clear_inputs(self) -> None:
        for n in range(1, 5):
            field = self.query_one(f"#input-{n}", FieldInput)
            field.value = ""
            field.disabled = False
        self._repairing = False

    def _value(self, n: int) -> str:
        return self.query_one(f"#input-{n}", FieldInput).value.strip()

    def _note(self) -> dict[str, str]:
        note = self._value(2)
        return {"note": note} if note else {}

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer in the footer only the keys that mean something for the current step."""
        own = {"yes", "no", "not_applicable", "save", "start_timer", "repair", "end_job"}
        if action not in own:
            return True
        run = self.run
        if run is None:
            return False
        from fieldkit.procedures.engine import RunStatus

        if run.status == RunStatus.REFUSED:
            return action == "end_job"
        if run.open_gate is not None:
            return action in {"repair", "end_job"} or (action == "save" and self._repairing)
        step = run.current
        if step is None:
            return False
        kind = str(step.kind)
        if action in {"repair", "end_job"}:
            return False
        if action == "yes":
            return kind in {"check", "instruction"} or (
                kind == "timer" and run.timer_remaining(step.id) is not None
            )
        if action == "no":
            return kind == "check"
        if action == "not_applicable":
            return kind == "check" and bool(step.allow_not_applicable)
        if action == "start_timer":
            return kind == "timer" and run.timer_remaining(step.id) is None
        return kind in {"measurement", "capture", "sign_off"}

    def _current(self, *kinds: str) -> Any:
        if self.run is None or self.run.open_gate is not None:
            return None
        step = self.run.current
        if step is None or str(step.kind) not in kinds:
            return None
        return step

    def action_yes(self) -> None:
        step = self._current("check", "instruction", "timer")
        if step is None:
            return
        if step.kind == "check":
            self._act("answer", step.id, {"answer": "yes", **self._note()})
        else:
            self._act("answer", step.id, {"confirmed": True, **self._note()})

    def action_no(self) -> None:
        step = self._current("check")
        if step is not None:
            self._act("answer", step.id, {"answer": "no", **self._note()})

    def action_not_applicable(self) -> None:
        step = self._current("check")
        if step is not None and step.allow_not_applicable:
            self._act("answer", step.id, {"answer": "n/a", **self._note()})

    def action_start_timer(self) -> None:
        step = self._current("timer")
        if step is not None and self.run.timer_remaining(step.id) is None:
            self._act("start_timer", step.id)

    def action_repair(self) -> None:
        if self.run is None or self.run.open_gate is None:
            return
        self._repairing = True
        self._show_form("repair")
        self.refresh_bindings()

    def on_input_submitted(self, event: FieldInput.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        if self.run is None:
            return
        saved = self.query_one("#run-saved", Static)
        if self.run.open_gate is not None:
            if not self._repairing:
                return
            description = self._value(1)
            if not description:
                saved.set_classes("error-text")
                saved.update(_("Describe the repair first."))
                return
            self._act("record_repair", description)
            return
        step = self.run.current
        if step is None:
            return
        kind = str(step.kind)
        if kind == "measurement":
            self._save_measurement(step)
        elif kind == "capture":
            self._save_capture(step)
        elif kind == "sign_off":
            name = self._value(1)
            if not name:
                saved.set_classes("error-text")
                saved.update(_("Enter the customer's name."))
                return
            self._act("answer", step.id, {"customer_name": name})
        elif kind in ("check", "instruction", "timer"):
            saved.set_classes("hint")
            saved.update(_("Use F7 / F8 to answer this step."))

    def _number(self, raw: str, what: str) -> float | None:
        try:
            return float(raw)
        except ValueError:
            saved = self.query_one("#run-saved", Static)
            saved.set_classes("error-text")
            saved.update(_("{what} must be a number.").format(what=what))
            return None

    def _save_measurement(self, step: Any) -> None:
        unit = str(self.query_one("#unit", Select).value)
        pending = self.run.pending_reading(step.id)
        if pending is not None:
            end = self._number(self._value(2), _("The end reading"))
            if end is not None:
                self._act("answer", step.id, {"unit": pending["unit"], "end": end})
            return
        start = self._number(self._value(1), _("The start reading"))
        if start is None:
            return
        value: dict[str, Any] = {"unit": unit, "start": start}
        if step.hold is None:
            end = self._number(self._value(2), _("The end reading"))
            if end is None:
                return
            value["end"] = end
        self._act("answer", step.id, value)

    def _save_capture(self, step: Any) -> None:
        value: dict[str, Any] = {}
        for n, spec in enumerate(step.fields[:4], start=1):
            raw = self._value(n)
            if not raw:
                continue
            kind = str(spec.type.value)
            if kind == "number":
                number = self._number(raw, narrow(pick(spec.label)))
                if number is None:
                    return
                value[spec.name] = number
            elif kind == "text_list":
                value[spec.name] = [
                    item.strip() for item in raw.replace("，", ",").split(",") if item.strip()
                ]
            else:
                value[spec.name] = raw
        if self._act("answer", step.id, value):
            self._copy_meter(value)

    def _copy_meter(self, value: dict[str, Any]) -> None:
        """Put the captured meter data on the visit too (the handover form reads it there)."""
        fields = {
            k: value[k]
            for k in ("meter_no", "seal_nos", "meter_reading", "remaining_gas")
            if k in value
        }
        if fields:
            self.repo.update_meter(self.visit_id, **fields)

    def action_end_job(self) -> None:
        """End the job: as 不予通气 after a refusal; as stopped (unsafe) or incomplete while a
        failed test blocks the job (the records layer allows nothing else then)."""
        if self.run is None:
            return
        from fieldkit.procedures.engine import RunStatus
        from fieldkit.tui.screens.close_visit import CloseVisitScreen

        status = self.run.status
        if status == RunStatus.REFUSED:
            refusal = self.run.refusal
            reason = ""
            if refusal is not None:
                raw = refusal.value.get("reason")
                reason = pick(raw) if isinstance(raw, dict) else str(raw or "")
                if refusal.value.get("note"):
                    reason += f" ({refusal.value['note']})"
            self._close(
                CloseVisitScreen(
                    self.visit_id, outcome="refused_gas", reason=reason, only=("refused_gas",)
                )
            )
            return
        if self.run.open_gate is not None:
            gate = self.run.open_gate
            reason = pick(gate.gate.reason)
            self._close(
                CloseVisitScreen(
                    self.visit_id,
                    outcome="stopped_unsafe",
                    reason=reason,
                    only=("stopped_unsafe", "incomplete"),
                ),
                abandon_first=True,
            )
            return
        self.notify(
            _("A job can only be ended here when a test failed or gas is refused."),
            severity="warning",
        )

    def _close(self, screen: Any, abandon_first: bool = False) -> None:
        def done(result: bool | None) -> None:
            if result:
                # Back to home: the visit is closed.
                while len(self.app.screen_stack) > 2:
                    self.app.pop_screen()

        if abandon_first:
            screen.before_close = self._abandon
        self.app.push_screen(screen, done)

    def _abandon(self, reason: str) -> bool:
        """End a blocked run with the reason (the engine's abandon), saved before closing."""
        return self._act("abandon", reason)

    def lookup_query(self) -> str:
        """The fault entry the run's finding points to (F3 opens it), if any."""
        if self.run is None:
            return ""
        for event in reversed(self.run.events):
            if str(event.kind.value) == "finding":
                refs = event.value.get("see_also") or []
                return str(refs[0]) if refs else ""
        return ""

    def action_back(self) -> None:
        self.app.pop_screen()
