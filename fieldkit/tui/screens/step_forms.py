"""One answer form per step kind, behind one small protocol (as posting does for its auth forms).

The procedure screen holds one form of each kind in a content switcher and shows the one the
current step needs. A form only turns what was typed into the value the engine expects; it
decides nothing about pass or fail. Every form answers the same five questions:
:meth:`StepForm.load` (show this step), :meth:`StepForm.intents` (which keys mean something
now), :meth:`StepForm.value` (the answer for a key, or :class:`FormError` naming the field),
:meth:`StepForm.typed` (is anything typed that leaving would lose) and
:meth:`StepForm.focus_first`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Protocol

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Label, Select, Static

from fieldkit.i18n import _, pick
from fieldkit.procedures.units import PressureUnit
from fieldkit.tui.text import narrow
from fieldkit.tui.widgets.inputs import FieldInput

if TYPE_CHECKING:
    from fieldkit.procedures.engine import OpenGate, RunStatus, StepEvent
    from fieldkit.procedures.models import (
        CaptureStep,
        MeasurementStep,
        PassRule,
        Procedure,
        Step,
    )


class Intent(StrEnum):
    """What the technician's key asks for."""

    SAVE = "save"  # Ctrl+S / Enter
    YES = "yes"  # F7
    NO = "no"  # F8
    NOT_APPLICABLE = "not_applicable"  # Ctrl+O


class FormError(Exception):
    """What is wrong with the typed answer, and the field to put the cursor in."""

    def __init__(self, message: str, field: Widget | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class RunState(Protocol):
    """What the screen reads of a run (the engine's run, or the session's view of it)."""

    @property
    def run_id(self) -> uuid.UUID: ...
    @property
    def procedure(self) -> Procedure: ...
    @property
    def status(self) -> RunStatus: ...
    @property
    def current(self) -> Step | None: ...
    @property
    def events(self) -> Sequence[StepEvent]: ...
    @property
    def open_gate(self) -> OpenGate | None: ...
    @property
    def refusal(self) -> StepEvent | None: ...
    def pending_reading(self, step_id: str) -> Mapping[str, object] | None: ...
    def timer_remaining(self, step_id: str) -> timedelta | None: ...


class StepForm(Protocol):
    """The one surface the screen uses, whatever the step kind."""

    def load(self, run: RunState, step: Step | None) -> None: ...
    def intents(self) -> frozenset[Intent]: ...
    def value(self, intent: Intent) -> dict[str, object]: ...
    def typed(self) -> bool: ...
    def clear(self) -> None: ...
    def focus_first(self) -> None: ...
    def hint(self) -> str: ...


def text(value: object) -> str:
    """A bilingual data text in the current language, narrowed and escaped for markup."""
    return escape(narrow(pick(value))) if value is not None else ""


def rule_text(rule: PassRule) -> str:
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


SEPARATORS = re.compile(r"[,，、;；\s]+")


def split_list(raw: str) -> list[str]:
    """Seal numbers and the like: 、 ， , ; and spaces all separate items."""
    return [item for item in SEPARATORS.split(raw) if item]


def parse_number(field: FieldInput, what: str) -> float:
    raw = field.value.strip()
    try:
        return float(raw)
    except ValueError:
        raise FormError(_("{what} must be a number.").format(what=what), field) from None


def shown(widget: Widget, within: Widget) -> bool:
    """``widget`` and every container up to ``within`` are displayed."""
    node: Widget | None = widget
    while node is not None and node is not within:
        if not node.display:
            return False
        parent = node.parent
        node = parent if isinstance(parent, Widget) else None
    return True


class FormBase(VerticalScroll):
    """A form scrolls inside itself when the screen is short; the focused field stays in view."""

    can_focus = False
    KIND: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__(id=f"form-{self.KIND}", classes="step-form")

    def load(self, run: RunState, step: Step | None) -> None:
        raise NotImplementedError

    def intents(self) -> frozenset[Intent]:
        raise NotImplementedError

    def value(self, intent: Intent) -> dict[str, object]:
        raise NotImplementedError

    def hint(self) -> str:
        raise NotImplementedError

    def _inputs(self) -> list[FieldInput]:
        """The fields on show (a field in a hidden row is not), in order."""
        return [f for f in self.query(FieldInput) if shown(f, self)]

    def fields(self) -> list[FieldInput]:
        """The fields that take typing now (Enter moves through them)."""
        return [f for f in self._inputs() if not f.disabled]

    def typed(self) -> bool:
        return any(f.value.strip() and not f.disabled for f in self._inputs())

    def clear(self) -> None:
        for field in self.query(FieldInput):
            field.value = ""

    def focus_first(self) -> None:
        """Put the cursor in the first field now (not after a refresh: a key typed at once
        must land in it)."""
        for field in self.fields():
            self.screen.set_focus(field)
            return

    def _row(self, label: str, field: Widget, *, row_id: str | None = None) -> Horizontal:
        return Horizontal(
            Label(escape(label), classes="form-label"), field, classes="form-row", id=row_id
        )


class NoteForm(FormBase):
    """An instruction (F7 done), a check (F7 yes / F8 no / Ctrl+O n/a) or a timer (Ctrl+T, F7)."""

    KIND = "note"

    def __init__(self) -> None:
        super().__init__()
        self._intents: frozenset[Intent] = frozenset()
        self._hint = ""

    def compose(self) -> ComposeResult:
        yield Static("", id="form-question")
        yield self._row(_("Note (optional)"), FieldInput(id="note"), row_id="note-row")

    def load(self, run: RunState, step: Step | None) -> None:
        question = self.query_one("#form-question", Static)
        question.update("")
        question.display = False
        self.query_one("#note-row").display = True
        if step is None:
            self._intents = frozenset()
            self._hint = ""
        elif step.kind == "check":
            question.update(f"[b]{text(step.question)}[/b]")
            question.display = True
            keys = [Intent.YES, Intent.NO]
            hint = _("F7: yes   F8: no")
            if step.allow_not_applicable:
                keys.append(Intent.NOT_APPLICABLE)
                hint += "   " + _("Ctrl+O: not applicable")
            self._intents = frozenset(keys)
            self._hint = hint
        elif step.kind == "timer":
            self.query_one("#note-row").display = False
            if run.timer_remaining(step.id) is None:
                self._intents = frozenset()
                self._hint = _("Ctrl+T: start the {minutes} min timer").format(
                    minutes=f"{step.minutes:g}"
                )
            else:
                self._intents = frozenset({Intent.YES})
                self._hint = _("F7: done (only after the time is over)")
        else:
            self._intents = frozenset({Intent.YES})
            self._hint = _("F7: done")

    def intents(self) -> frozenset[Intent]:
        return self._intents

    def hint(self) -> str:
        return self._hint

    def value(self, intent: Intent) -> dict[str, object]:
        note = self.query_one("#note", FieldInput).value.strip()
        extra: dict[str, object] = {"note": note} if note else {}
        if Intent.NO in self._intents:  # a check
            answers = {Intent.YES: "yes", Intent.NO: "no", Intent.NOT_APPLICABLE: "n/a"}
            return {"answer": answers[intent], **extra}
        return {"confirmed": True, **extra}


class UnitMemory:
    """The pressure unit last chosen for each instrument, for the whole TUI session."""

    def __init__(self) -> None:
        self._units: dict[str, PressureUnit] = {}

    @staticmethod
    def key(step: MeasurementStep) -> str:
        return step.instrument.zh if step.instrument is not None else step.id

    def get(self, step: MeasurementStep) -> PressureUnit | None:
        unit = self._units.get(self.key(step))
        return unit if unit in step.units else None

    def set(self, step: MeasurementStep, unit: PressureUnit) -> None:
        self._units[self.key(step)] = unit

    def learn(self, procedures: Mapping[str, Procedure], events: Sequence[StepEvent]) -> None:
        """Take the units of readings already stored in the visit (the latest wins)."""
        for event in events:
            unit = event.value.get("unit")
            if unit not in {u.value for u in PressureUnit}:
                continue
            for procedure in procedures.values():
                step = next((s for s in procedure.steps if s.id == event.step_id), None)
                if step is not None and step.kind == "measurement":
                    self.set(step, PressureUnit(str(unit)))
                    break


class MeasurementForm(FormBase):
    """Unit (chosen explicitly, remembered per instrument), start and end readings, and the
    pass rule beside them."""

    KIND = "measurement"

    def __init__(self, memory: UnitMemory) -> None:
        super().__init__()
        self.memory = memory
        self._step: MeasurementStep | None = None
        self._pending: Mapping[str, object] | None = None
        self._preset: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="pass-rule", classes="rule")
        yield self._row(
            _("Pressure unit"),
            Select[str]([], prompt=_("choose the unit"), id="unit"),
            row_id="unit-row",
        )
        yield self._row(
            _("Start reading"), FieldInput(id="start", type="number"), row_id="start-row"
        )
        yield self._row(_("End reading"), FieldInput(id="end", type="number"), row_id="end-row")

    def unit(self) -> PressureUnit | None:
        value = self.query_one("#unit", Select).value
        return PressureUnit(str(value)) if isinstance(value, str) else None

    def load(self, run: RunState, step: Step | None) -> None:
        if step is None or step.kind != "measurement":
            self._step = None
            return
        same_step = self._step is not None and self._step.id == step.id
        self._step = step
        self._pending = run.pending_reading(step.id)
        select: Select[str] = self.query_one("#unit", Select)
        options = [(u.value, u.value) for u in step.units]
        if not same_step:
            select.set_options(options)
        chosen = self.unit()
        if self._pending is not None:
            self._preset_value(select, str(self._pending["unit"]))
            select.disabled = True
        else:
            select.disabled = False
            remembered = self.memory.get(step)
            if chosen is None and remembered is not None:
                self._preset_value(select, remembered.value)
        rules = [rule_text(r) for r in step.pass_rules]
        if step.hold is not None:
            rules.append(_("hold {minutes} min").format(minutes=f"{step.hold.minutes:g}"))
        self.query_one("#pass-rule", Static).update(
            escape(_("Pass rule: {rule}").format(rule="; ".join(rules)))
        )
        start = self.query_one("#start", FieldInput)
        end_row = self.query_one("#end-row")
        if self._pending is not None:
            start.value = f"{float(str(self._pending['start'])):g}"
            start.disabled = True
            end_row.display = True
        else:
            start.disabled = False
            end_row.display = step.hold is None
        self._label_units()

    def _preset_value(self, select: Select[str], value: str) -> None:
        """Set the unit from the run or the memory (not a choice: the cursor stays put)."""
        if select.value != value:
            self._preset = value
            select.value = value

    def _label_units(self) -> None:
        unit = self.unit()
        suffix = f" ({unit.value})" if unit is not None else ""
        pending = self._pending is not None
        start_label = _("Start reading (recorded)") if pending else _("Start reading")
        self.query_one("#start-row Label", Label).update(escape(start_label + suffix))
        self.query_one("#end-row Label", Label).update(escape(_("End reading") + suffix))

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        unit = self.unit()
        by_screen = self._preset is not None and event.value == self._preset
        self._preset = None
        if self._step is not None and unit is not None and not event.select.disabled:
            self.memory.set(self._step, unit)
            if not by_screen:  # chosen by the technician: on to the reading, then show it
                self.call_after_refresh(self._after_choice)
                return
        self._label_units()

    def _after_choice(self) -> None:
        super().focus_first()
        self._label_units()

    def focus_first(self) -> None:
        if self._step is not None and self.unit() is None:
            self.screen.set_focus(self.query_one("#unit", Select))
            return
        super().focus_first()

    def intents(self) -> frozenset[Intent]:
        return frozenset({Intent.SAVE}) if self._step is not None else frozenset()

    def hint(self) -> str:
        if self._step is None:
            return ""
        if self._step.hold is None or self._pending is not None:
            return _("Ctrl+S: save the reading")
        return _("Ctrl+S: save the start reading; the hold time starts")

    def value(self, intent: Intent) -> dict[str, object]:
        unit = self.unit()
        select = self.query_one("#unit", Select)
        if unit is None:
            raise FormError(_("Choose the unit of the readings first."), select)
        start_field = self.query_one("#start", FieldInput)
        end_field = self.query_one("#end", FieldInput)
        if self._pending is not None:
            return {
                "unit": str(self._pending["unit"]),
                "end": parse_number(end_field, _("The end reading")),
            }
        value: dict[str, object] = {
            "unit": unit.value,
            "start": parse_number(start_field, _("The start reading")),
        }
        if self._step is not None and self._step.hold is None:
            value["end"] = parse_number(end_field, _("The end reading"))
        return value

    def clear(self) -> None:
        """Clear the readings; the unit stays as chosen (never silently reset)."""
        super().clear()


class CaptureForm(FormBase):
    """The handover data (表钢号, seals, readings): one row per field of the step.

    The rows exist from the start and are relabelled per step (mounting new rows would take
    a moment in which typed keys are lost); a step has at most :data:`MAX_FIELDS` fields.
    """

    KIND = "capture"
    MAX_FIELDS = 12

    def __init__(self) -> None:
        super().__init__()
        self._step: CaptureStep | None = None

    def compose(self) -> ComposeResult:
        for n in range(self.MAX_FIELDS):
            yield self._row("", FieldInput(id=f"capture-{n}"), row_id=f"capture-row-{n}")

    def load(self, run: RunState, step: Step | None) -> None:
        if step is None or step.kind != "capture":
            self._step = None
            return
        if self._step is not None and self._step.id == step.id:
            return
        self._step = step
        for n in range(self.MAX_FIELDS):
            row = self.query_one(f"#capture-row-{n}")
            spec = step.fields[n] if n < len(step.fields) else None
            row.display = spec is not None
            if spec is None:
                continue
            label = narrow(pick(spec.label))
            if spec.source is not None:
                label += "*"  # not in the manual: the utility's own field
            if spec.unit:
                label += f" ({spec.unit})"
            if str(spec.type.value) == "text_list":
                label += " " + _("(separate with commas)")
            if not spec.required:
                label += " " + _("(optional)")
            row.query_one(Label).update(escape(label))
            field = row.query_one(FieldInput)
            field.type = "number" if str(spec.type.value) == "number" else "text"
            field.value = ""

    def field(self, name: str) -> FieldInput:
        """The input of the step's field ``name``."""
        assert self._step is not None
        names = [spec.name for spec in self._step.fields]
        return self.query_one(f"#capture-{names.index(name)}", FieldInput)

    def intents(self) -> frozenset[Intent]:
        return frozenset({Intent.SAVE}) if self._step is not None else frozenset()

    def hint(self) -> str:
        return _("Ctrl+S: save") if self._step is not None else ""

    def value(self, intent: Intent) -> dict[str, object]:
        value: dict[str, object] = {}
        if self._step is None:
            return value
        if len(self._step.fields) > self.MAX_FIELDS:
            raise FormError(
                _("This step has more fields than the screen can take ({n}).").format(
                    n=self.MAX_FIELDS
                )
            )
        for spec in self._step.fields:
            field = self.field(spec.name)
            raw = field.value.strip()
            if not raw:
                continue
            kind = str(spec.type.value)
            if kind == "number":
                value[spec.name] = parse_number(field, narrow(pick(spec.label)))
            elif kind == "text_list":
                value[spec.name] = split_list(raw)
            else:
                value[spec.name] = raw
        return value


class SingleLineForm(FormBase):
    """One required line: the customer's name (sign-off) or what was repaired."""

    def __init__(self, label: str, hint: str, key: str, missing: str) -> None:
        super().__init__()
        self._label = label
        self._hint_text = hint
        self._key = key
        self._missing = missing
        self._active = False

    def compose(self) -> ComposeResult:
        yield self._row(self._label, FieldInput(id=f"{self.KIND}-line"))

    def load(self, run: RunState, step: Step | None) -> None:
        self._active = True

    def intents(self) -> frozenset[Intent]:
        return frozenset({Intent.SAVE}) if self._active else frozenset()

    def hint(self) -> str:
        return self._hint_text

    def value(self, intent: Intent) -> dict[str, object]:
        field = self.query_one(FieldInput)
        line = field.value.strip()
        if not line:
            raise FormError(self._missing, field)
        return {self._key: line}


class SignOffForm(SingleLineForm):
    KIND = "sign_off"

    def __init__(self) -> None:
        super().__init__(
            _("Customer's name (signs the handover form)"),
            _("Ctrl+S: save the signature"),
            "customer_name",
            _("Enter the customer's name."),
        )


class RepairForm(SingleLineForm):
    KIND = "repair"

    def __init__(self) -> None:
        super().__init__(
            _("What was repaired (required)"),
            _("Ctrl+S: save the repair; the test is then done again."),
            "description",
            _("Describe the repair first."),
        )


class EmptyForm(FormBase):
    """No answer is taken now (the run ended, or a gate holds it)."""

    KIND = "none"

    def load(self, run: RunState, step: Step | None) -> None:
        return None

    def intents(self) -> frozenset[Intent]:
        return frozenset()

    def hint(self) -> str:
        return ""

    def value(self, intent: Intent) -> dict[str, object]:
        return {}


FORM_FOR_KIND = {
    "instruction": "note",
    "check": "note",
    "timer": "note",
    "measurement": "measurement",
    "capture": "capture",
    "sign_off": "sign_off",
}
