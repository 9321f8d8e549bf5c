"""End a visit with its outcome (and the reason, for anything but completed)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, OptionList, Static
from textual.widgets.option_list import Option

from fieldkit.i18n import _, pick
from fieldkit.tui.keys import translate_bindings
from fieldkit.tui.text import narrow
from fieldkit.tui.widgets.inputs import FieldInput

OUTCOMES = (
    "completed",
    "refused_gas",
    "not_home",
    "customer_refused",
    "stopped_unsafe",
    "incomplete",
)


def outcome_label(outcome: str) -> str:
    """The outcome in the UI language (the records layer's one label set)."""
    from fieldkit.records.labels import outcome_label as label

    return label(outcome)


class CloseVisitScreen(ModalScreen[bool]):
    """Pick the outcome, give the reason, Ctrl+S closes the visit (final, queued for sync).

    ``outcome``/``reason`` preset the form (the procedure runner presets 不予通气 with the
    engine's reason); ``only`` limits the outcomes offered. The visit-level safety rules
    of ``fieldkit.records`` limit them further (and say why): after a refusal only 不予通气,
    while a failed test is not put right only stopped (unsafe) / incomplete, an ignition
    visit completed only with its completed ignition run and the customer's signature.
    """

    CSS_PATH = "close_visit.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "close_visit", "Close visit", id="close.confirm"),
        Binding("escape", "cancel", "Cancel", id="close.cancel"),
    ]

    def __init__(
        self,
        visit_id: uuid.UUID,
        *,
        outcome: str | None = None,
        reason: str = "",
        only: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__()
        translate_bindings(self)
        self.visit_id = visit_id
        self.outcomes = only or OUTCOMES
        self.preset = outcome
        self.reason = reason
        self.before_close: Callable[[str], bool] | None = None
        """Called with the reason before the visit is closed; False stops the close."""

    def _apply_rules(self) -> str:
        """Offer only what the visit-level safety rules allow (fieldkit.records.closing);
        returns why other outcomes are not offered ("" when every one is)."""
        try:
            rules = self.app.services.repository().closing_rules(  # type: ignore[attr-defined]
                self.visit_id
            )
        except Exception as exc:  # shown; closing itself checks the rules again
            return str(exc)
        allowed = [str(o.value) for o in rules.allowed]
        offered = tuple(o for o in self.outcomes if o in allowed)
        self.outcomes = offered or tuple(o for o in OUTCOMES if o in allowed)
        if self.preset not in self.outcomes and rules.preset_outcome is not None:
            self.preset = str(rules.preset_outcome.value)
        if not self.reason and rules.refusal_reason is not None:
            self.reason = pick(rules.refusal_reason)
        return pick(rules.why) if rules.why is not None else ""

    def compose(self) -> ComposeResult:
        why = self._apply_rules()
        with Vertical(id="close-dialog"):
            yield Label(_("End the visit"), classes="heading")
            if why:
                if "completed" not in self.outcomes:
                    why = _("{outcome} is not offered: {why}").format(
                        outcome=outcome_label("completed"), why=why
                    )
                yield Static(escape(narrow(why)), id="close-rules", classes="error-text")
            yield OptionList(
                *(Option(outcome_label(o), id=o) for o in self.outcomes), id="outcomes"
            )
            yield Label(_("Reason (required unless completed)"))
            yield FieldInput(self.reason, id="reason")
            yield Static(
                _("A closed visit is final and goes to the back office at the next sync."),
                classes="hint",
            )
            yield Static("", id="close-error", classes="error-text")
        yield Footer()

    def on_mount(self) -> None:
        options = self.query_one("#outcomes", OptionList)
        if self.preset in self.outcomes:
            options.highlighted = self.outcomes.index(self.preset)
        else:
            options.highlighted = 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.query_one("#reason", FieldInput).focus()

    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_close_visit(self) -> None:
        from fieldkit.records.repo import RecordsError

        options = self.query_one("#outcomes", OptionList)
        if options.highlighted is None:
            return
        outcome = self.outcomes[options.highlighted]
        reason = self.query_one("#reason", FieldInput).value.strip() or None
        error = self.query_one("#close-error", Static)
        if outcome != "completed" and not reason:
            error.update(_("Give the reason for this outcome."))
            self.query_one("#reason", FieldInput).focus()
            return
        if self.before_close is not None and not self.before_close(reason or ""):
            error.update(_("The job could not be ended; nothing was closed."))
            return
        try:
            self.app.services.repository().close_visit(  # type: ignore[attr-defined]
                self.visit_id, outcome, reason=reason
            )
        except RecordsError as exc:
            error.update(str(exc))
            return
        self.app.notify(
            _("Visit closed and saved: {outcome}").format(outcome=outcome_label(outcome))
        )
        self.dismiss(True)
