"""Correct a wrong answer: pick the answer, give the right one and the reason.

The correction is appended to the run's trail (the wrong answer stays, with the correction
and its reason after it); the run goes back to that step with the new answer. Checks (yes /
no / not applicable), a mistyped reading (start and end, in the unit it was read in: the
test's pass rules judge the corrected readings) and the customer's name can be corrected
here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from fieldkit.i18n import _, pick
from fieldkit.procedures.engine import EventKind, StepEvent
from fieldkit.procedures.models import Procedure
from fieldkit.tui.keys import TranslatedKeys, translate_bindings
from fieldkit.tui.text import narrow
from fieldkit.tui.widgets.inputs import FieldInput

CHECK_ANSWERS = ("yes", "no", "n/a")


def answer_label(answer: str) -> str:
    return {"yes": _("yes"), "no": _("no"), "n/a": _("not applicable")}.get(answer, answer)


@dataclass(frozen=True)
class Correction:
    """What the dialog returns: which answer, the new value, and why."""

    event_id: uuid.UUID
    value: dict[str, object]
    reason: str


def correctable_answers(procedure: Procedure, events: tuple[StepEvent, ...]) -> list[StepEvent]:
    """The latest answer of each check, measurement or sign-off step, in the order they
    were given."""
    latest: dict[str, StepEvent] = {}
    for event in events:
        if event.kind != EventKind.ANSWERED:
            continue
        try:
            step = procedure.step(event.step_id)
        except KeyError:
            continue
        if step.kind in {"check", "measurement", "sign_off"}:
            latest.pop(event.step_id, None)
            latest[event.step_id] = event
    return list(latest.values())


def is_reading(event: StepEvent) -> bool:
    return "unit" in event.value and "end" in event.value


def shown_value(event: StepEvent) -> str:
    if "answer" in event.value:
        return answer_label(str(event.value["answer"]))
    if is_reading(event):
        v = event.value
        return f"{v.get('start')} → {v.get('end')} {v.get('unit')}"
    return str(event.value.get("customer_name", ""))


class CorrectScreen(TranslatedKeys, ModalScreen[Correction | None]):
    """Pick an answer (Enter), then the right value and the reason; Ctrl+S records it."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="correct.cancel"),
        Binding("ctrl+s", "save", "Record correction", id="correct.save"),
    ]

    def __init__(self, procedure: Procedure, events: tuple[StepEvent, ...]) -> None:
        super().__init__()
        translate_bindings(self)
        self.procedure = procedure
        self.answers = correctable_answers(procedure, events)

    def compose(self) -> ComposeResult:
        with Vertical(id="correct-dialog"):
            yield Label(_("Correct an answer"), classes="heading")
            yield OptionList(
                *(
                    Option(
                        escape(
                            narrow(
                                f"{pick(self.procedure.step(e.step_id).title)}: {shown_value(e)}"
                            )
                        ),
                        id=str(e.event_id),
                    )
                    for e in self.answers
                ),
                id="correct-answers",
            )
            with Horizontal(classes="form-row", id="correct-choice-row"):
                yield Label(_("Right answer"))
                yield Select[str](
                    [(answer_label(a), a) for a in CHECK_ANSWERS],
                    prompt=_("choose"),
                    id="correct-choice",
                )
            with Horizontal(classes="form-row", id="correct-reading-row"):
                yield Label(_("Right readings"), id="correct-reading-label")
                yield FieldInput(placeholder=_("start"), id="correct-start")
                yield FieldInput(placeholder=_("end"), id="correct-end")
            with Horizontal(classes="form-row", id="correct-name-row"):
                yield Label(_("Right name"))
                yield FieldInput(id="correct-name")
            with Horizontal(classes="form-row"):
                yield Label(_("Reason (required)"))
                yield FieldInput(id="correct-reason")
            yield Static(
                _("The wrong answer stays in the record, with this correction after it."),
                classes="hint",
            )
            yield Static("", id="correct-error", classes="error-text")
        yield Footer()

    def on_mount(self) -> None:
        options = self.query_one("#correct-answers", OptionList)
        if self.answers:
            options.highlighted = len(self.answers) - 1
        else:
            self.query_one("#correct-error", Static).update(
                _("No answer of this run can be corrected here.")
            )
        self._show_value_row()
        options.focus()

    def _selected(self) -> StepEvent | None:
        index = self.query_one("#correct-answers", OptionList).highlighted
        return self.answers[index] if index is not None and self.answers else None

    def _show_value_row(self) -> None:
        event = self._selected()
        check = event is not None and "answer" in event.value
        reading = event is not None and is_reading(event)
        self.query_one("#correct-choice-row").display = check
        self.query_one("#correct-reading-row").display = reading
        self.query_one("#correct-name-row").display = event is not None and not (check or reading)
        if reading and event is not None:
            unit = str(event.value.get("unit"))
            label = _("Right readings ({unit})").format(unit=unit)
            self.query_one("#correct-reading-label", Label).update(label)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show_value_row()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._show_value_row()
        chosen = self._selected()
        target = "#correct-choice" if chosen and "answer" in chosen.value else "#correct-name"
        if chosen is not None and is_reading(chosen):
            target = "#correct-start"
        self.query_one(target).focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.has_focus or not event.select.is_blank():
            self.call_after_refresh(self.query_one("#correct-reason", FieldInput).focus)

    def on_input_submitted(self, event: FieldInput.Submitted) -> None:
        event.stop()
        if event.input.id == "correct-start":
            self.query_one("#correct-end", FieldInput).focus()
        elif event.input.id in ("correct-name", "correct-end"):
            self.query_one("#correct-reason", FieldInput).focus()
        else:
            self.action_save()

    def _error(self, message: str, focus: str | None = None) -> None:
        self.query_one("#correct-error", Static).update(escape(message))
        if focus is not None:
            self.query_one(focus).focus()

    def action_save(self) -> None:
        event = self._selected()
        if event is None:
            self._error(_("Choose the answer to correct."), "#correct-answers")
            return
        value: dict[str, object]
        if "answer" in event.value:
            choice = self.query_one("#correct-choice", Select)
            if choice.is_blank():
                self._error(_("Choose the right answer."), "#correct-choice")
                return
            value = {"answer": str(choice.value)}
        elif is_reading(event):
            readings: dict[str, object] = {"unit": event.value["unit"]}
            for name in ("start", "end"):
                typed = self.query_one(f"#correct-{name}", FieldInput).value.strip()
                try:
                    readings[name] = float(typed.replace(",", "."))
                except ValueError:
                    self._error(
                        _("Enter the start and end readings as numbers."), f"#correct-{name}"
                    )
                    return
            value = readings
        else:
            name = self.query_one("#correct-name", FieldInput).value.strip()
            if not name:
                self._error(_("Enter the right name."), "#correct-name")
                return
            value = {"customer_name": name}
        reason = self.query_one("#correct-reason", FieldInput).value.strip()
        if not reason:
            self._error(_("Give the reason for the correction."), "#correct-reason")
            return
        self.dismiss(Correction(event.event_id, value, reason))

    def action_cancel(self) -> None:
        self.dismiss(None)


class RefusalCorrectionScreen(ModalScreen[tuple[str, str] | None]):
    """After 不予通气 (rules 1-3): what was done to put the site right, and by whom. The
    refusal is lifted only when the check is then run again and passed."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="refusalfix.cancel"),
        Binding("ctrl+s", "save", "Record correction", id="refusalfix.save"),
    ]

    def __init__(self, technician: str) -> None:
        super().__init__()
        translate_bindings(self)
        self.technician = technician

    def compose(self) -> ComposeResult:
        with Vertical(id="correct-dialog"):
            yield Label(_("The site was put right"), classes="heading")
            with Horizontal(classes="form-row"):
                yield Label(_("What was put right"))
                yield FieldInput(id="fix-what")
            with Horizontal(classes="form-row"):
                yield Label(_("By whom"))
                yield FieldInput(self.technician, id="fix-by")
            yield Static(
                _("Then the check is run again; gas stays closed until it passes."),
                classes="hint",
            )
            yield Static("", id="correct-error", classes="error-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#fix-what", FieldInput).focus()

    def on_input_submitted(self, event: FieldInput.Submitted) -> None:
        event.stop()
        if event.input.id == "fix-what":
            self.query_one("#fix-by", FieldInput).focus()
        else:
            self.action_save()

    def action_save(self) -> None:
        what = self.query_one("#fix-what", FieldInput).value.strip()
        by = self.query_one("#fix-by", FieldInput).value.strip()
        error = self.query_one("#correct-error", Static)
        if not what:
            error.update(escape(_("Say what was done.")))
            self.query_one("#fix-what", FieldInput).focus()
            return
        if not by:
            error.update(escape(_("Say who did it.")))
            self.query_one("#fix-by", FieldInput).focus()
            return
        self.dismiss((what, by))

    def action_cancel(self) -> None:
        self.dismiss(None)
