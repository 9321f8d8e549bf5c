"""The procedure runner: one step at a time, gates shown plainly, every answer saved first.

The screen decides nothing about safety. It shows the run's current step with the answer
form of its kind (:mod:`fieldkit.tui.screens.step_forms`), hands the answer to the run
session (which saves it before returning) and only then says "saved". When the run is held
(a failed test, a refusal) the screen shows the engine's reason in a red panel, names the
rule that failed, and offers only what the engine offers: record the repair and redo the
test, or end the job with the reason recorded.

Layout, so every key and the focused field stay on screen at 60x20: the step's text scrolls
in the middle; the answer form (with a measurement's unit and pass rule beside the readings)
and the hold countdown sit below it, always visible; long source citations fold behind
Ctrl+F; F1 lists every key.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import ClassVar

from rich.markup import escape
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import ContentSwitcher, Footer, Static

from fieldkit.diagnostics.present import (
    as_written_lines,
    fact_label,
    paragraph_lines,
    utility_fields_note,
)
from fieldkit.i18n import _, get_language, pick
from fieldkit.procedures.engine import EventKind, RunStatus, failure_text
from fieldkit.procedures.models import Step
from fieldkit.safety import Blocker, BlockerKind
from fieldkit.session import (
    GateClosed,
    InvalidAnswer,
    ProcedureError,
    RefusalNeedsConfirmation,
    RefusalPreview,
    RunView,
    SafetyBlocked,
    TimerNotElapsed,
    VisitSession,
)
from fieldkit.tui.screens.base import FieldkitScreen
from fieldkit.tui.screens.correct import Correction, CorrectScreen, correctable_answers
from fieldkit.tui.screens.lookup import source_line
from fieldkit.tui.screens.step_forms import (
    FORM_FOR_KIND,
    CaptureForm,
    EmptyForm,
    FormBase,
    FormError,
    Intent,
    MeasurementForm,
    NoteForm,
    RepairForm,
    SignOffForm,
    rule_text,
    text,
)
from fieldkit.tui.text import narrow
from fieldkit.tui.widgets.countdown import Countdown
from fieldkit.tui.widgets.gate import GatePanel
from fieldkit.tui.widgets.inputs import FieldInput
from fieldkit.tui.widgets.status import StatusBar

# Kept for callers that import it from here.
__all__ = ["ProcedureScreen", "rule_text"]


def _reason(value: object) -> str:
    """A gate reason stored in an event (a {zh, en} dict) in the current language."""
    if isinstance(value, dict):
        return text(value)
    return escape(str(value or ""))


# Blockers that stand for the whole visit until something is done about them.
STANDING = frozenset({BlockerKind.REFUSAL_STANDS, BlockerKind.HAZARD_OPEN})
# Blockers another procedure of the visit clears: said up front, before a 15-minute hold
# is spent on a run whose ignition steps are closed anyway.
AHEAD = frozenset({BlockerKind.PURGE_MISSING, BlockerKind.LEAK_CHECK_MISSING})


def ahead_text(blockers: tuple[Blocker, ...]) -> str:
    """One line: later steps of this run are closed until another procedure is done."""
    if not blockers:
        return ""
    reasons = "; ".join(narrow(b.reason) for b in blockers)
    return escape(_("The ignition steps further on are closed: {reasons}").format(reasons=reasons))


def blocker_text(blockers: tuple[Blocker, ...]) -> str:
    """The safety banner: each blocker's reason, what would clear it, and its source."""
    lines = []
    for blocker in blockers:
        lines.append(f"[b]{escape(narrow(blocker.reason))}[/b]")
        lines.append(escape(narrow(_("To clear: {how}").format(how=blocker.clears_by))))
        lines.append(escape(narrow(_("Source: {source}").format(source=blocker.source))))
    if lines:
        lines.insert(0, f"[b]{escape(_('Gas-in and ignition are closed in this visit'))}[/b]")
    return "\n".join(lines)


class ProcedureScreen(FieldkitScreen):
    """Runs (or resumes) one procedure of one visit."""

    CSS_PATH = "procedure.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="run.back"),
        Binding("f1", "keys", "Keys", id="run.keys"),
        Binding("f7", "yes", "Yes/Done", id="run.yes"),
        Binding("f8", "no", "No", id="run.no"),
        Binding("ctrl+o", "not_applicable", "N/A", id="run.na"),
        Binding("ctrl+s", "save", "Save", id="run.save"),
        Binding("ctrl+t", "start_timer", "Start timer", id="run.timer"),
        Binding("ctrl+r", "repair", "Record repair", id="run.repair"),
        Binding("ctrl+g", "end_job", "End job", id="run.end"),
        Binding("ctrl+y", "correct", "Correct answer", id="run.correct"),
        Binding("ctrl+p", "refusal_fixed", "Site put right", id="run.refusal_fixed"),
        Binding("ctrl+n", "discard", "Discard run", id="run.discard"),
        Binding("ctrl+f", "sources", "Sources", id="run.sources"),
    ]

    def __init__(self, visit_id: uuid.UUID, procedure_id: str) -> None:
        super().__init__()
        self.visit_id = visit_id
        self.procedure_id = procedure_id
        self.run: RunView | None = None
        self.session: VisitSession | None = None
        self._repairing = False
        self._show_sources = False
        self._load_error: str | None = None

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield StatusBar(_("Procedure run"))
        yield Static("", id="step-title")
        yield GatePanel(id="gate")
        yield Static("", id="banner")
        yield Static("", id="ahead")
        with VerticalScroll(id="run-body"):
            yield Static("", id="step-text")
            yield Static("", id="step-say", classes="say")
            yield Static("", id="finding")
            yield Static("", id="step-source", classes="hint")
        yield Countdown(id="countdown")
        with ContentSwitcher(id="forms", initial="form-none"):
            yield EmptyForm()
            yield NoteForm()
            yield MeasurementForm(self.services.units)
            yield CaptureForm()
            yield SignOffForm()
            yield RepairForm()
        with Vertical(id="run-status"):
            yield Static("", id="run-saved")
            yield Static("", id="run-hint", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self._open_run()
        self.refresh_step()

    def on_key(self, event: events.Key) -> None:
        """A character typed while the step text has the focus (Tab moved it there from the
        last field) goes to the form's first field instead of vanishing."""
        focused = self.focused
        if not event.is_printable or focused is None or focused.id != "run-body":
            return
        fields = self._active_form().fields()
        if not fields or event.character is None:
            return
        event.stop()
        event.prevent_default()
        field = fields[0]
        # An Input selects its text when focused: the next key would replace this one.
        keep, field.select_on_focus = field.select_on_focus, False
        self.set_focus(field)
        field.insert_text_at_cursor(event.character)
        field.call_later(setattr, field, "select_on_focus", keep)  # after its Focus event

    # ------------------------------------------------------------------ the run session

    def _open_run(self) -> None:
        """Resume this procedure's unfinished run in the visit, or start a new one."""
        try:
            session = VisitSession(
                self.services.repository(),
                self.services.procedures(),
                self.visit_id,
                actor=self.fk_app.settings.technician_id or "?",
                clock=self.services.clock,
            )
            stored = [e for run in session.runs() for e in run.events]
            self.services.units.learn(self.services.procedures(), stored)
            self.run = session.open_run(self.procedure_id)
        except ProcedureError as exc:
            self._load_error = _("This run cannot be continued: {error}").format(error=exc)
            self.run = None
            return
        except Exception as exc:  # the database refused the write (disk full, locked, ...)
            cause = getattr(exc, "orig", None) or exc
            self._load_error = _("The run could not be started (nothing saved): {error}").format(
                error=cause
            )
            self.run = None
            return
        self.session = session
        self._load_error = None

    def _say(self, message: str, css: str = "error-text") -> None:
        saved = self.query_one("#run-saved", Static)
        saved.set_classes(css)
        saved.update(escape(message))

    def _act(self, call: Callable[[VisitSession, uuid.UUID], RunView]) -> bool:
        """One session call; the session saves before returning. True when saved."""
        session, run = self.session, self.run
        if session is None or run is None:
            return False
        try:
            self.run = call(session, run.run_id)
        except TimerNotElapsed as exc:
            self._say(_("Not yet: {why}").format(why=exc))
            return False
        except SafetyBlocked as exc:
            self._show_banner(exc.blockers)
            self._say(_("Not accepted: closed for this visit (see above)."))
            return False
        except GateClosed as exc:
            self.query_one("#gate", GatePanel).show(_("STOP") + "\n" + escape(str(exc)))
            self._say("")
            return False
        except RefusalNeedsConfirmation as exc:
            self._say(exc.preview.consequence)
            return False
        except InvalidAnswer as exc:
            why = str(exc)
            if exc.rule is not None:
                why = _("{rule} - {why}").format(rule=failure_text(exc.rule), why=why)
            self._say(_("Not accepted: {why}").format(why=why))
            return False
        except ProcedureError as exc:
            self._say(_("Not accepted: {why}").format(why=exc))
            return False
        except Exception as exc:  # the database refused the write: nothing was saved
            cause = getattr(exc, "orig", None) or exc
            self.run = session.view(run.run_id)  # what is stored (the session reloaded it)
            self.refresh_step(keep_message=True)
            self._say(_("NOT saved: {error}. Answer again.").format(error=cause))
            return False
        self._active_form().clear()
        self._repairing = False
        self.refresh_step()
        self._say(_("Saved"), "saved")
        return True

    # ------------------------------------------------------------------ showing the step

    def _active_form(self) -> FormBase:
        switcher = self.query_one("#forms", ContentSwitcher)
        return self.query_one(f"#{switcher.current}", FormBase)

    def _switch_form(self, kind: str, step: Step | None) -> None:
        switcher = self.query_one("#forms", ContentSwitcher)
        form = self.query_one(f"#form-{kind}", FormBase)
        if self.run is not None:
            form.load(self.run, step)
        switcher.current = f"form-{kind}"
        self._hint(form.hint())
        form.focus_first()

    def _compact(self) -> None:
        """Hide empty text blocks so the step fits a small screen."""
        for selector in ("#finding", "#step-source", "#step-text"):
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
        self.query_one("#finding", Static).update("")
        run = self.run
        if self._load_error is not None or run is None:
            title.update("")
            gate.show(escape(self._load_error or _("No run.")))
            self._switch_form("none", None)
            return
        self.query_one(StatusBar).heading = pick(run.procedure.title)
        shown = self._blockers(run)
        self._show_banner(shown)
        self._show_ahead(run, shown)
        self._show_gate(run)
        self._show_finding(run)
        status = run.status
        step = run.current
        if status.finished or step is None:
            done = status == RunStatus.COMPLETED
            heading = _("Procedure completed") if done else _("This run has ended")
            title.update(f"[b]{escape(heading)}[/b]")
            self._show_text(None)
            countdown.stop()
            self._switch_form("none", None)
            if done:
                self._hint(_("Esc: back to the visit (run the next procedure or end the visit)."))
            elif status != RunStatus.REFUSED:
                self._hint(_("Esc: back to the visit."))
            return
        steps = run.procedure.steps
        position = f"{steps.index(step) + 1}/{len(steps)}"
        heading = f"[b]{escape(_('Step {pos}').format(pos=position))}: {text(step.title)}[/b]"
        if run.override is not None:
            # A signed-off local revision below the safety floor: said on every step.
            heading += f"  [reverse]{escape(narrow(run.override.label))}[/reverse]"
        title.update(heading)
        self._show_text(step)
        if run.timer_remaining(step.id) is not None and run.open_gate is None:
            countdown.follow(self._remaining_seconds)
        else:
            countdown.stop()
        if run.open_gate is not None:
            self._switch_form("repair" if self._repairing else "none", step)
            return
        self._switch_form(FORM_FOR_KIND[step.kind], step)

    def _blockers(self, run: RunView) -> tuple[Blocker, ...]:
        """What the banner shows: a standing refusal or open hazard of the visit always; a
        missing purge, leak check or tightness test when it closes the current step."""
        standing = tuple(b for b in run.blockers if b.kind in STANDING)
        if self.session is None or run.current is None or run.status.finished:
            return standing
        here = self.session.safety().blockers_for_step(run.procedure.id, run.current.id)
        return standing + tuple(b for b in here if b not in standing)

    def _show_ahead(self, run: RunView, shown: tuple[Blocker, ...]) -> None:
        """Said at the first step already: a missing purge or leak check closes this run's
        later steps (the banner takes over when the closed step is reached)."""
        ahead: tuple[Blocker, ...] = ()
        if not run.status.finished:
            ahead = tuple(b for b in run.blockers if b.kind in AHEAD and b not in shown)
        notice = self.query_one("#ahead", Static)
        notice.update(ahead_text(ahead))
        notice.display = bool(ahead)

    def _show_banner(self, blockers: tuple[Blocker, ...]) -> None:
        """What the visit's safety state closes (gas-in, ignition): why, and what clears it."""
        banner = self.query_one("#banner", Static)
        banner.update(blocker_text(blockers))
        banner.display = bool(blockers)

    def _show_gate(self, run: RunView) -> None:
        """The red panel: the engine's reason and the rule that failed, nothing made up."""
        gate = self.query_one("#gate", GatePanel)
        if run.status == RunStatus.REFUSED:
            refusal = run.refusal
            lines = [_("GAS REFUSED"), _reason(refusal.value.get("reason")) if refusal else ""]
            note = refusal.value.get("note") if refusal else None
            if note:
                lines.append(_("Note: {note}").format(note=escape(str(note))))
            lines.append(_("Ctrl+G: close the visit as gas refused, with this reason."))
            gate.show("\n".join(lines))
            return
        open_gate = run.open_gate
        if open_gate is None:
            gate.hide()
            return
        failed = run.procedure.step(open_gate.step_id)
        stop = str(open_gate.gate.kind.value) == "stop"
        head = (
            _("STOPPED: unsafe - correct it, then check again")
            if stop
            else _("FAILED: repair, then test again")
        )
        lines = [head, f"{text(failed.title)}: {text(open_gate.gate.reason)}"]
        failures = open_gate.event.value.get("failed_rules") or []
        for failure in failures:
            if isinstance(failure, dict):
                lines.append(_("Rule failed: {rule}").format(rule=escape(failure_text(failure))))
        lines.append(_("Ignition and every later step are blocked."))
        lines.append(_("Ctrl+R: record the repair.  Ctrl+G: end the job (stopped or incomplete)."))
        gate.show("\n".join(lines))

    def _show_finding(self, run: RunView) -> None:
        """A symptom flow's finding (not a gate)."""
        for event in reversed(run.events):
            if event.kind == EventKind.FINDING:
                refs = ", ".join(str(r) for r in event.value.get("see_also", []))
                line = _("Found: {text}").format(text=_reason(event.value.get("text")))
                if refs:
                    line += "\n" + _("See the fault table: {refs} (F3)").format(refs=refs)
                self.query_one("#finding", Static).update(line)
                return

    def _remaining_seconds(self) -> float | None:
        run = self.run
        if run is None or run.current is None:
            return None
        remaining = run.timer_remaining(run.current.id)
        return None if remaining is None else remaining.total_seconds()

    def _show_text(self, step: Step | None) -> None:
        body = self.query_one("#step-text", Static)
        say = self.query_one("#step-say", Static)
        source = self.query_one("#step-source", Static)
        run = self.run
        if step is None or run is None:
            body.update("")
            say.update("")
            source.update("")
            say.display = False
            return
        words = text(step.text)
        procedure = run.procedure
        if procedure.steps and step.id == procedure.steps[0].id:
            # The procedure's own introduction and notes, with its first step.
            extra = []
            for paragraph in [*procedure.intro, *procedure.notes]:
                first, *more = paragraph_lines(paragraph, get_language())
                extra.append(f"[b]{escape(narrow(first))}[/b]")
                extra.extend(f"[dim]{escape(narrow(line))}[/dim]" for line in more)
            if extra:
                words = "\n".join(extra) + "\n\n" + words
        body.update(words)
        if step.say_to_customer is not None:
            say.display = True
            say.update(f"[b]{escape(_('Say to the customer:'))}[/b] {text(step.say_to_customer)}")
        else:
            say.display = False
            say.update("")
        source.update(escape("\n".join(self._source_lines(step))))

    def _source_lines(self, step: Step) -> list[str]:
        """Where the step's values come from: folded to one line until Ctrl+F."""
        run = self.run
        procedures = [run.procedure] if run is not None else []
        # The manual's words as written (原文如此) and the utility's own fields: always shown.
        lines = [narrow(line) for line in as_written_lines(step.as_written)]
        utility = utility_fields_note(getattr(step, "fields", []))
        if utility is not None:
            lines.append(narrow(utility))
        if step.requires:
            facts = [fact_label(f, procedures) for f in step.requires]
            lines.append(_("Needs first: {facts}").format(facts=narrow(", ".join(facts))))
        cited = [step.source] if step.source is not None and not step.source.is_manual else []
        hold = getattr(step, "hold", None)
        if hold is not None:
            cited.append(hold.source)
        cited.extend(r.source for r in getattr(step, "pass_rules", []) if r.source is not None)
        if not cited:
            return lines
        if not self._show_sources:
            lines.append(_("Sources: {n} (Ctrl+F shows them)").format(n=len(cited)))
            return lines
        lines.extend(source_line(s) for s in cited)
        return lines

    def _hint(self, message: str) -> None:
        self.query_one("#run-hint", Static).update(escape(message))

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer in the footer only the keys that mean something for the current step."""
        intents = {
            "yes": Intent.YES,
            "no": Intent.NO,
            "not_applicable": Intent.NOT_APPLICABLE,
            "save": Intent.SAVE,
        }
        own = {
            *intents,
            *("start_timer", "repair", "end_job", "sources", "correct", "discard"),
            "refusal_fixed",
        }
        if action not in own:
            return True
        run = self.run
        if run is None:
            return False
        if action == "sources":
            return run.current is not None and not run.status.finished
        if action == "refusal_fixed":
            return run.status == RunStatus.REFUSED and not any(
                e.kind == EventKind.REFUSAL_CORRECTED for e in run.events
            )
        if action == "discard":
            return run.discardable() and not run.status.finished
        if action == "correct":
            return run.status != RunStatus.ABANDONED and bool(
                correctable_answers(run.procedure, run.events)
            )
        if run.status == RunStatus.REFUSED:
            return action == "end_job"
        if run.open_gate is not None:
            return action in {"repair", "end_job"} or (action == "save" and self._repairing)
        step = run.current
        if step is None or action in {"repair", "end_job"}:
            return False
        if action == "start_timer":
            return step.kind == "timer" and run.timer_remaining(step.id) is None
        return intents[action] in self._active_form().intents()

    def _answer(self, intent: Intent) -> None:
        run = self.run
        if run is None or run.current is None:
            return
        if not self.check_action(intent.value, ()):
            if intent == Intent.SAVE and run.current.kind in {"check", "instruction", "timer"}:
                self._say(_("Use F7 / F8 to answer this step."), "hint")
            return
        form = self._active_form()
        try:
            value = form.value(intent)
        except FormError as exc:
            self._say(exc.message)
            if exc.field is not None:
                exc.field.focus()
            return
        if self._repairing:
            description = str(value["description"])
            self._act(lambda s, run_id: s.record_repair(run_id, description))
            return
        step = run.current
        preview = self.session.preview_refusal(run.run_id, step.id, value) if self.session else None
        if preview is not None:
            self._confirm_refusal(step, value, preview)
            return
        answered = self._act(lambda s, run_id: s.answer(run_id, step.id, value))
        if answered and step.kind == "capture":
            self._copy_meter(value)

    def _confirm_refusal(
        self, step: Step, value: dict[str, object], preview: RefusalPreview
    ) -> None:
        """An answer that refuses gas is given only after the consequence is spelled out."""
        from fieldkit.tui.screens.dialogs import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                self._act(lambda s, run_id: s.answer(run_id, step.id, value, confirmed=True))
            else:
                self._say(_("Not recorded: the answer was not confirmed."), "hint")

        body = _("Rule: {rule}").format(rule=preview.rule) + "\n\n" + preview.consequence
        self.app.push_screen(
            ConfirmScreen(
                _("This answer refuses gas"),
                body,
                confirm_label=_("Ctrl+S / F7: yes, refuse gas   Esc: no, go back"),
            ),
            answered,
        )

    def action_correct(self) -> None:
        """Correct a wrong answer (appended with its reason; the wrong one stays)."""
        run = self.run
        if run is None or not self.check_action("correct", ()):
            return

        def chosen(correction: Correction | None) -> None:
            if correction is not None:
                self._act(
                    lambda s, run_id: s.correct(
                        run_id, correction.event_id, correction.value, correction.reason
                    )
                )

        self.app.push_screen(CorrectScreen(run.procedure, run.events), chosen)

    def action_refusal_fixed(self) -> None:
        """After 不予通气: record what was done and by whom, then run the check again."""
        session = self.session
        if session is None or not self.check_action("refusal_fixed", ()):
            return
        from fieldkit.tui.screens.correct import RefusalCorrectionScreen

        def recorded(result: tuple[str, str] | None) -> None:
            if result is None:
                return
            try:
                session.record_refusal_correction(*result)
            except ProcedureError as exc:
                self._say(_("Not accepted: {why}").format(why=exc))
                return
            except Exception as exc:  # the database refused the write
                cause = getattr(exc, "orig", None) or exc
                self._say(_("NOT saved: {error}. Answer again.").format(error=cause))
                return
            self.app.notify(_("Correction recorded. The check now runs again."))
            # The check is re-run in a new run of this procedure.
            self.app.switch_screen(ProcedureScreen(self.visit_id, self.procedure_id))

        technician = self.fk_app.settings.technician_id or ""
        self.app.push_screen(RefusalCorrectionScreen(technician), recorded)

    def action_discard(self) -> None:
        """Discard a run opened by mistake (only while it has no answers)."""
        run, session = self.run, self.session
        if run is None or session is None or not self.check_action("discard", ()):
            return
        from fieldkit.tui.screens.dialogs import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                session.discard(run.run_id)
            except ProcedureError as exc:
                self._say(_("Not discarded: {why}").format(why=exc))
                return
            self.app.notify(_("Run discarded: {name}").format(name=pick(run.procedure.title)))
            self.app.pop_screen()

        self.app.push_screen(
            ConfirmScreen(
                _("Discard this run?"),
                _("Nothing has been answered in it yet. It is removed from the visit."),
            ),
            answered,
        )

    def action_yes(self) -> None:
        self._answer(Intent.YES)

    def action_no(self) -> None:
        self._answer(Intent.NO)

    def action_not_applicable(self) -> None:
        self._answer(Intent.NOT_APPLICABLE)

    def action_save(self) -> None:
        self._answer(Intent.SAVE)

    def on_input_submitted(self, event: FieldInput.Submitted) -> None:
        """Enter in a field: the next field of the form, or save from the last one."""
        event.stop()
        fields = self._active_form().fields()
        if event.input in fields and event.input is not fields[-1]:
            fields[fields.index(event.input) + 1].focus()
            return
        self.action_save()

    def action_start_timer(self) -> None:
        run = self.run
        if run is not None and self.check_action("start_timer", ()) and run.current is not None:
            step_id = run.current.id
            self._act(lambda s, run_id: s.start_timer(run_id, step_id))

    def action_repair(self) -> None:
        if self.run is None or self.run.open_gate is None:
            return
        self._repairing = True
        self._switch_form("repair", self.run.current)
        self.refresh_bindings()

    def action_sources(self) -> None:
        self._show_sources = not self._show_sources
        if self.run is not None and self.run.current is not None:
            self._show_text(self.run.current)
            self.call_after_refresh(self._compact)

    def action_keys(self) -> None:
        from fieldkit.tui.screens.dialogs import KeysScreen

        self.app.push_screen(KeysScreen(self))

    def _copy_meter(self, value: dict[str, object]) -> None:
        """Put the captured meter data on the visit too (the handover form reads it there)."""
        fields = {
            k: value[k]
            for k in ("meter_no", "seal_nos", "meter_reading", "remaining_gas")
            if k in value
        }
        if fields:
            self.services.repository().update_meter(self.visit_id, **fields)

    def action_end_job(self) -> None:
        """End the job: as 不予通气 after a refusal; as stopped (unsafe) or incomplete while a
        failed test blocks the job (the records layer allows nothing else then)."""
        from fieldkit.tui.screens.close_visit import CloseVisitScreen

        run = self.run
        if run is None:
            return
        if run.status == RunStatus.REFUSED:
            refusal = run.refusal
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
        if run.open_gate is not None:
            screen = CloseVisitScreen(
                self.visit_id,
                outcome="stopped_unsafe",
                reason=pick(run.open_gate.gate.reason),
                only=("stopped_unsafe", "incomplete"),
            )
            screen.before_close = self._abandon
            self._close(screen)
            return
        self.notify(
            _("A job can only be ended here when a test failed or gas is refused."),
            severity="warning",
        )

    def _close(self, screen: object) -> None:
        def done(result: bool | None) -> None:
            if result:
                # Back to home: the visit is closed.
                while len(self.app.screen_stack) > 2:
                    self.app.pop_screen()

        self.app.push_screen(screen, done)  # type: ignore[arg-type]

    def _abandon(self, reason: str) -> bool:
        """End a blocked run with the reason (the engine's abandon), saved before closing."""
        return self._act(lambda s, run_id: s.abandon(run_id, reason))

    def lookup_query(self) -> str:
        """The fault entry the run's finding points to (F3 opens it), if any."""
        if self.run is None:
            return ""
        for event in reversed(self.run.events):
            if event.kind == EventKind.FINDING:
                refs = event.value.get("see_also") or []
                return str(refs[0]) if refs else ""
        return ""

    def action_back(self) -> None:
        """Back to the visit; typed fields (the handover data) are not dropped without asking."""
        form = self._active_form()
        if not form.typed():
            self.app.pop_screen()
            return
        from fieldkit.tui.screens.dialogs import ConfirmScreen

        def answered(discard: bool | None) -> None:
            if discard:
                form.clear()
                self.app.pop_screen()

        self.app.push_screen(
            ConfirmScreen(
                _("Leave this step?"),
                _("The fields you typed are not saved yet. Leave and discard them?"),
            ),
            answered,
        )
