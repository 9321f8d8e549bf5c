"""The meter-swap form (换表): what the manual asks to record when a meter is replaced.

The manual's 前锋 swap (前锋智能燃气表常见故障 1 ⑤) records the new meter no., the seal
no., the gas used, the gas remaining and the date; the form adds the old meter no., the
old meter's reading and the reason. Saving calls
:meth:`fieldkit.records.repo.VisitRepository.record_meter_swap` (one transaction); the
visit's meter becomes the new one and the swap shows on the handover form.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from fieldkit.i18n import _
from fieldkit.tui.keys import translate_bindings
from fieldkit.tui.text import split_list
from fieldkit.tui.widgets.footer import FieldFooter
from fieldkit.tui.widgets.inputs import FieldInput

SWAP_FIELDS = (
    "old_meter_no",
    "new_meter_no",
    "seal_nos",
    "old_meter_reading",
    "gas_used",
    "gas_remaining",
    "date",
    "reason",
)
NUMBER_FIELDS = frozenset({"old_meter_reading", "gas_used", "gas_remaining"})


def swap_label(name: str) -> str:
    labels = {
        "old_meter_no": _("Old meter no."),
        "new_meter_no": _("New meter no. (required)"),
        "seal_nos": _("Seal nos. (required; separate with , or 、)"),
        "old_meter_reading": _("Old meter reading (m3)"),
        "gas_used": _("Gas used (m3)"),
        "gas_remaining": _("Gas remaining (m3)"),
        "date": _("Date (YYYY-MM-DD)"),
        "reason": _("Reason"),
    }
    return labels[name]


class MeterSwapScreen(ModalScreen[bool]):
    """Ctrl+S records the swap; Esc leaves without saving. Dismisses True when saved."""

    CSS_PATH = "forms.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "app.help", "Help", id="app.help"),
        Binding("ctrl+s", "save", "Save swap", id="swap.save"),
        Binding("escape", "cancel", "Cancel", id="swap.cancel"),
    ]

    def __init__(self, visit_id: uuid.UUID, *, old_meter_no: str = "") -> None:
        super().__init__()
        translate_bindings(self)
        self.visit_id = visit_id
        self.old_meter_no = old_meter_no

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="swap-dialog"):
            yield Label(_("Meter replaced"), classes="heading")
            for name in SWAP_FIELDS:
                with Horizontal(classes="form-row"):
                    yield Label(swap_label(name))
                    yield FieldInput(
                        id=f"swap-{name}", type="number" if name in NUMBER_FIELDS else "text"
                    )
            yield Static("", id="swap-message", classes="error-text")
        yield FieldFooter()

    def on_mount(self) -> None:
        self.query_one("#swap-old_meter_no", FieldInput).value = self.old_meter_no
        self.query_one("#swap-date", FieldInput).value = date.today().isoformat()
        self.query_one("#swap-new_meter_no", FieldInput).focus()

    def _raw(self, name: str) -> str:
        return self.query_one(f"#swap-{name}", FieldInput).value.strip()

    def _error(self, text: str, field: str | None = None) -> None:
        self.query_one("#swap-message", Static).update(escape(text))
        if field is not None:
            self.query_one(f"#swap-{field}", FieldInput).focus()

    def on_input_submitted(self, event: FieldInput.Submitted) -> None:
        event.stop()
        self.focus_next()

    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_save(self) -> None:
        from fieldkit.records.repo import RecordsError

        numbers: dict[str, float | None] = {}
        for name in NUMBER_FIELDS:
            raw = self._raw(name)
            try:
                numbers[name] = float(raw) if raw else None
            except ValueError:
                self._error(_("{what} must be a number.").format(what=swap_label(name)), name)
                return
        try:
            day = date.fromisoformat(self._raw("date")) if self._raw("date") else date.today()
        except ValueError:
            self._error(_("The date must be written as YYYY-MM-DD."), "date")
            return
        if day > date.today():
            self._error(_("The date cannot be in the future."), "date")
            return
        now = datetime.now().astimezone()
        swapped_at = now if day == now.date() else datetime.combine(day, now.timetz())
        values: dict[str, Any] = {
            "old_meter_no": self._raw("old_meter_no"),
            "new_meter_no": self._raw("new_meter_no"),
            "seal_nos": split_list(self._raw("seal_nos")),
            "swapped_at": swapped_at,
            "reason": self._raw("reason") or None,
            **numbers,
        }
        try:
            self.app.services.repository().record_meter_swap(  # type: ignore[attr-defined]
                self.visit_id, **values
            )
        except RecordsError as exc:
            self._error(str(exc))
            return
        self.app.notify(_("Meter swap saved"))
        self.dismiss(True)
