"""The hazards (隐患) found in a visit: add one, move one forward with a note.

A hazard has a description, a level (重大 major / 一般 general), a deadline to fix it and
the basis (the rule it breaks). Its status only moves forward, 待整改 → 复查中 → 已整改,
and every change carries a note (the records layer refuses anything else and keeps the
trail). The hazards show on the handover form.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from fieldkit.i18n import _
from fieldkit.tui.screens.base import FieldkitScreen
from fieldkit.tui.text import narrow
from fieldkit.tui.widgets.footer import FieldFooter
from fieldkit.tui.widgets.inputs import FieldInput
from fieldkit.tui.widgets.status import StatusBar

NEXT_STATUS = {"pending": "rechecking", "rechecking": "fixed"}
LONGEST_DEADLINE_DAYS = 366  # a rectification deadline is set within a year


def refusal_classes() -> list[tuple[str, str]]:
    """The manual's four 不予通气 conditions (户内燃气置换放散要求 rules 5-8), for the form."""
    return [
        (_("Private alteration of the indoor piping"), "private_alteration"),
        (_("Concealed piping, valve or meter"), "concealed_piping"),
        (_("No pipe clamps"), "no_pipe_clamps"),
        (_("Installation not to the rules"), "non_compliant_installation"),
    ]


def level_label(level: Any) -> str:
    from fieldkit.records.handover import LEVEL_LABELS

    return _(LEVEL_LABELS[level])


def status_label(status: Any) -> str:
    from fieldkit.records.handover import STATUS_LABELS

    return _(STATUS_LABELS[status])


def hazard_line(hazard: Any) -> str:
    """[重大] description | 待整改 | deadline | basis (one option of the list)."""
    parts = [f"[{level_label(hazard.level)}] {hazard.description}", status_label(hazard.status)]
    if hazard.deadline is not None:
        parts.append(_("fix by {date}").format(date=hazard.deadline.isoformat()))
    if hazard.basis:
        parts.append(hazard.basis)
    return narrow(" | ".join(parts))


class HazardsScreen(FieldkitScreen):
    """The visit's hazards. Ctrl+S adds the one typed below; F7 moves the highlighted one
    to its next status with the note typed below."""

    CSS_PATH = "forms.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="hazards.back"),
        Binding("f1", "keys", "Keys", id="hazards.keys"),
        Binding("ctrl+s", "add", "Add hazard", id="hazards.add"),
        Binding("f7", "advance", "Next status", id="hazards.advance"),
        Binding("f8", "refusal_check", "Refusal check", id="hazards.refusal_check"),
    ]

    def __init__(self, visit_id: uuid.UUID) -> None:
        super().__init__()
        self.visit_id = visit_id
        self._hazards: list[Any] = []
        self._suspended = False
        self._shown: list[tuple[str, str]] | None = None  # the list as last drawn
        self._read_at: tuple[int, int] | None = None  # the database's write stamp when read

    def compose(self) -> ComposeResult:
        yield StatusBar(_("Safety hazards"))
        yield OptionList(id="hazard-list")
        with Vertical(id="hazard-form"):
            with Horizontal(classes="form-row"):
                yield Label(_("Hazard description"))
                yield FieldInput(id="hazard-description")
            with Horizontal(classes="form-row"):
                yield Label(_("Hazard level"))
                yield Select(
                    [(level_label("major"), "major"), (level_label("general"), "general")],
                    value="general",
                    allow_blank=False,
                    id="hazard-level",
                )
            with Horizontal(classes="form-row"):
                yield Label(_("Refusal class"))
                yield Select(
                    refusal_classes(),
                    prompt=_("none"),
                    id="hazard-refusal",
                )
            with Horizontal(classes="form-row"):
                yield Label(_("Fix by (YYYY-MM-DD)"))
                yield FieldInput(id="hazard-deadline", placeholder=_("required"))
            with Horizontal(classes="form-row"):
                yield Label(_("Basis"))
                yield FieldInput(id="hazard-basis")
            with Horizontal(classes="form-row"):
                yield Label(_("Note for a status change"))
                yield FieldInput(id="hazard-note")
            yield Static("", id="hazard-message")
        yield FieldFooter()

    def on_mount(self) -> None:
        self.refresh_hazards()
        self.query_one("#hazard-description", FieldInput).focus()

    def on_screen_suspend(self) -> None:
        self._suspended = True

    def on_screen_resume(self) -> None:
        """Shown again (the visit screen keeps this screen): the list as it is now (read
        again only if something was written meanwhile); what was typed in the form stays."""
        if self._suspended:
            self._suspended = False
            if self.services.write_stamp() != self._read_at:
                self.refresh_hazards()

    @property
    def repo(self) -> Any:
        return self.services.repository()

    def refresh_hazards(self, highlight: uuid.UUID | None = None) -> None:
        self._read_at = self.services.write_stamp()
        self._hazards = self.repo.visit_hazards(self.visit_id)
        options = self.query_one("#hazard-list", OptionList)
        shown = [(str(h.id), escape(hazard_line(h))) for h in self._hazards]
        if shown == self._shown and highlight is None:
            return  # unchanged (Esc and Ctrl+L again): keep the list and its highlight
        self._shown = shown
        options.clear_options()
        if not self._hazards:
            options.add_option(Option(_("No hazards recorded in this visit."), disabled=True))
            return
        options.add_options([Option(line, id=hazard_id) for hazard_id, line in shown])
        ids = [h.id for h in self._hazards]
        options.highlighted = ids.index(highlight) if highlight in ids else len(ids) - 1

    def _say(self, text: str, *, error: bool = False, focus: str | None = None) -> None:
        message = self.query_one("#hazard-message", Static)
        message.set_classes("error-text" if error else "saved")
        message.update(escape(text))
        if focus is not None:
            self.query_one(focus, FieldInput).focus()

    def on_input_submitted(self, event: FieldInput.Submitted) -> None:
        event.stop()
        if event.input.id == "hazard-note":
            self.action_advance()
        else:
            self.focus_next()

    def action_add(self) -> None:
        from fieldkit.records.repo import RecordsError

        description = self.query_one("#hazard-description", FieldInput).value.strip()
        if not description:
            self._say(_("Describe the hazard first."), error=True, focus="#hazard-description")
            return
        raw_deadline = self.query_one("#hazard-deadline", FieldInput).value.strip()
        if not raw_deadline:
            self._say(
                _("Give the rectification deadline (YYYY-MM-DD)."),
                error=True,
                focus="#hazard-deadline",
            )
            return
        try:
            deadline = date.fromisoformat(raw_deadline)
        except ValueError:
            self._say(
                _("The date must be written as YYYY-MM-DD."), error=True, focus="#hazard-deadline"
            )
            return
        today = self.fk_app.services.clock().date()
        if not today <= deadline <= today + timedelta(days=LONGEST_DEADLINE_DAYS):
            self._say(
                _("The deadline must be between today and one year from today."),
                error=True,
                focus="#hazard-deadline",
            )
            return
        refusal = self.query_one("#hazard-refusal", Select)
        refusal_code = None if refusal.is_blank() else str(refusal.value)
        basis = self.query_one("#hazard-basis", FieldInput).value.strip() or None
        level = str(self.query_one("#hazard-level", Select).value)
        try:
            hazard = self.repo.add_hazard(
                self.visit_id,
                description=description,
                level=level,
                deadline=deadline,
                basis=basis,
                refusal_code=refusal_code,
            )
        except RecordsError as exc:
            self._say(str(exc), error=True)
            return
        for selector in ("#hazard-description", "#hazard-deadline", "#hazard-basis"):
            self.query_one(selector, FieldInput).value = ""
        refusal.clear()
        self.refresh_hazards(highlight=hazard.id)
        if refusal_code is not None or level == "major":
            # Gas-in and ignition are closed while it is open; offer the refusal check.
            self._say(
                _(
                    "Saved. Gas-in and ignition stay closed while it is open. "
                    "F8: run the refusal check (indoor purge) now."
                )
            )
            return
        self._say(_("Saved"))

    def action_refusal_check(self) -> None:
        """Run the 不予通气 checks of 户内燃气置换放散要求 (rules 5-8) in this visit."""
        from fieldkit.tui.screens.procedure import ProcedureScreen

        self.app.switch_screen(ProcedureScreen(self.visit_id, "indoor-purge"))

    def action_keys(self) -> None:
        from fieldkit.tui.screens.dialogs import KeysScreen

        self.app.push_screen(KeysScreen(self))

    def action_advance(self) -> None:
        from fieldkit.records.repo import RecordsError

        options = self.query_one("#hazard-list", OptionList)
        if not self._hazards or options.highlighted is None:
            self._say(_("Choose a hazard in the list first."), error=True)
            return
        hazard = self._hazards[options.highlighted]
        target = NEXT_STATUS.get(str(hazard.status.value))
        if target is None:
            self._say(_("This hazard is already fixed."), error=True)
            return
        note = self.query_one("#hazard-note", FieldInput).value.strip()
        if not note:
            self._say(
                _("A note is required to move a hazard to {status}.").format(
                    status=status_label(target)
                ),
                error=True,
                focus="#hazard-note",
            )
            return
        try:
            self.repo.set_hazard_status(
                hazard.id,
                target,
                note=note,
                actor=self.fk_app.settings.technician_id or "?",
                visit_id=self.visit_id,
            )
        except RecordsError as exc:
            self._say(str(exc), error=True)
            return
        self.query_one("#hazard-note", FieldInput).value = ""
        self.refresh_hazards(highlight=hazard.id)
        self._say(_("Saved"))
