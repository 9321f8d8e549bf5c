"""A visit: the customer, the address and the meter; choose and run the procedures."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from fieldkit.i18n import _, pick
from fieldkit.tui.screens.base import FieldkitScreen
from fieldkit.tui.screens.home import visit_type_label
from fieldkit.tui.text import narrow
from fieldkit.tui.widgets.footer import FieldFooter
from fieldkit.tui.widgets.inputs import FieldInput
from fieldkit.tui.widgets.status import StatusBar

VISIT_TYPES = ("ignition", "community_gas_on", "inspection", "repair", "recheck")

# The procedure a visit of this type obviously starts with (highlighted on the visit
# screen). Only where the manual's sections match the visit type one to one: a repair
# visit may be any symptom, an inspection or recheck has no procedure of its own yet.
PROCEDURE_FOR_VISIT_TYPE = {
    "ignition": "ignition",  # 通气点火操作步骤
    "community_gas_on": "community-gas-connection",  # 小区通气流程
}


def run_status_label(status: str) -> str:
    labels = {
        "in_progress": _("in progress"),
        "awaiting_repair": _("waiting for a repair"),
        "completed": _("completed"),
        "refused": _("gas refused"),
        "stopped": _("stopped"),
    }
    return labels.get(status, status)


class NewVisitScreen(FieldkitScreen):
    """A visit without a work order: the customer's 户号 and address, then the visit type."""

    CSS_PATH = "visit.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "create", "Start visit", id="newvisit.create"),
        Binding("escape", "app.pop_screen", "Back", id="newvisit.back"),
    ]

    FIELDS = ("customer_no", "name", "phone", "community", "building", "unit", "floor", "room")

    @staticmethod
    def field_label(name: str) -> str:
        labels = {
            "customer_no": _("Customer no."),
            "name": _("Name"),
            "phone": _("Phone"),
            "community": _("Community"),
            "building": _("Building"),
            "unit": _("Building unit"),
            "floor": _("Floor"),
            "room": _("Room"),
        }
        return labels[name]

    def compose(self) -> ComposeResult:
        yield StatusBar(_("New visit"))
        yield Static("", id="new-visit-error", classes="error-text")
        with VerticalScroll(id="new-visit-form"):
            yield Label(_("Visit type"), classes="heading")
            yield Select(
                [(visit_type_label(v), v) for v in VISIT_TYPES],
                value="ignition",
                allow_blank=False,
                id="visit-type",
            )
            for name in self.FIELDS:
                yield Label(self.field_label(name))
                yield FieldInput(id=f"f-{name}")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#f-customer_no", FieldInput).focus()

    def action_create(self) -> None:
        from fieldkit.records.repo import RecordsError

        values = {
            name: self.query_one(f"#f-{name}", FieldInput).value.strip() or None
            for name in self.FIELDS
        }
        customer_no = values.pop("customer_no")
        if not customer_no:
            self.query_one("#new-visit-error", Static).update(_("The customer number is required."))
            self.query_one("#f-customer_no", FieldInput).focus()
            return
        visit_type = self.query_one("#visit-type", Select).value
        repo = self.services.repository()
        try:
            customer = repo.upsert_customer(customer_no, **values)
            visit = repo.start_visit(
                customer_id=customer.id,
                technician_id=self.fk_app.settings.technician_id or "",
                visit_type=str(visit_type),
            )
        except RecordsError as exc:
            self.query_one("#new-visit-error", Static).update(str(exc))
            return
        self.app.switch_screen(VisitScreen(visit.id))


class VisitScreen(FieldkitScreen):
    """One open visit. Start a procedure (F7), save the meter (Ctrl+S), record a meter swap
    (Ctrl+Y) or hazards (Ctrl+L), see the handover form (F8), end the visit (Ctrl+G)."""

    CSS_PATH = "visit.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        # Back first: the footer keeps it even at 60 columns. F1 lists every key (the
        # footer has room for all of them at 80 columns; the hint line names F1).
        Binding("escape", "app.pop_screen", "Back", id="visit.back"),
        Binding("f1", "keys", "Keys", id="visit.keys", show=False),
        Binding("f7", "run_procedure", "Run procedure", id="visit.run"),
        Binding("ctrl+s", "save_meter", "Save meter", id="visit.save"),
        Binding("f8", "handover", "Handover form", id="visit.handover"),
        Binding("ctrl+y", "meter_swap", "Meter swap", id="visit.swap"),
        Binding("ctrl+l", "hazards", "Safety hazards", id="visit.hazards"),
        Binding("ctrl+g", "end_visit", "End visit", id="visit.end"),
    ]

    def __init__(self, visit_id: uuid.UUID) -> None:
        super().__init__()
        self.visit_id = visit_id
        self._procedure_ids: list[str] = []
        self._state: Any = None
        self._hazards_screen: Screen[Any] | None = None
        self._labels: list[tuple[str, str]] = []
        self._read_at: tuple[int, int] | None = None  # the database's write stamp when read

    def compose(self) -> ComposeResult:
        yield StatusBar(_("Visit screen"))
        yield Static("", id="visit-banner")
        with Horizontal(id="visit-body"):
            with Vertical(id="visit-left"):
                yield Static("", id="visit-customer")
                yield Label(_("Meter no."))
                yield FieldInput(id="meter-no")
                yield Label(_("Seal nos. (comma separated)"))
                yield FieldInput(id="seal-nos")
                yield Label(_("Meter reading (m3)"))
                yield FieldInput(id="meter-reading", type="number")
                yield Static("", id="visit-saved", classes="saved")
            with Vertical(id="visit-right"):
                yield Label(_("Procedures"), classes="heading")
                yield OptionList(id="procedures")
                yield Static("", id="visit-runs", classes="hint")
        yield FieldFooter()

    def on_mount(self) -> None:
        self.refresh_visit()
        self.query_one("#procedures", OptionList).focus()

    def on_screen_resume(self) -> None:
        # Shown again: re-read only if something was written meanwhile (a run, a hazard,
        # a meter swap...); back from the hazards list unchanged, Esc shows it as it was.
        if self.is_mounted and self.services.write_stamp() != self._read_at:
            self.refresh_visit()

    def refresh_visit(self) -> None:
        from fieldkit.records.repo import format_address

        self._read_at = self.services.write_stamp()
        repo = self.services.repository()
        state = repo.resume(self.visit_id)
        self._state = state
        visit, customer = state.visit, state.customer
        lines = [
            f"[b]{narrow(customer.customer_no)}[/b]  {narrow(customer.name or '')}",
            narrow(format_address(customer)),
            f"{_('Phone')}: {customer.phone or '-'}",
            f"{_('Type')}: {visit_type_label(visit.visit_type)}",
        ]
        self.query_one("#visit-customer", Static).update("\n".join(lines))
        meter = self.query_one("#meter-no", FieldInput)
        if not meter.value and visit.meter_no:
            meter.value = visit.meter_no
        seals = self.query_one("#seal-nos", FieldInput)
        if not seals.value and visit.seal_nos:
            seals.value = ", ".join(visit.seal_nos)
        reading = self.query_one("#meter-reading", FieldInput)
        if not reading.value and visit.meter_reading is not None:
            reading.value = f"{visit.meter_reading:g}"

        procedures = self.services.procedures()
        runs = {run.procedure_id: run for run in state.runs}
        option_list = self.query_one("#procedures", OptionList)
        highlighted = option_list.highlighted
        self._procedure_ids = list(procedures)
        current = state.current_run
        labels = []
        for proc_id, procedure in procedures.items():
            label = narrow(pick(procedure.title))
            run = runs.get(proc_id)
            if run is not None:
                label += f"  [{run_status_label(run.status)}]"
            labels.append((proc_id, label))
        if labels != self._labels:  # unchanged (back from the hazards): no re-layout
            self._labels = labels
            option_list.clear_options()
            option_list.add_options([Option(label, id=proc_id) for proc_id, label in labels])
        preselect = PROCEDURE_FOR_VISIT_TYPE.get(str(getattr(visit.visit_type, "value", "")))
        if current is not None and current.procedure_id in self._procedure_ids:
            option_list.highlighted = self._procedure_ids.index(current.procedure_id)
        elif highlighted is not None and highlighted < len(self._procedure_ids):
            option_list.highlighted = highlighted
        elif preselect in self._procedure_ids:
            option_list.highlighted = self._procedure_ids.index(preselect)
        elif self._procedure_ids:
            option_list.highlighted = 0
        problems = self.services.procedure_problems
        note = ""
        if problems:
            note = _("Some procedure files have problems: {first}").format(first=problems[0])
        if current is not None:
            note = _("Unfinished: {name}. Press F7 to continue it.").format(
                name=pick(procedures[current.procedure_id].title)
                if current.procedure_id in procedures
                else current.procedure_id
            )
        note = (note + "\n" if note else "") + _("F1: every key of this screen")
        self.query_one("#visit-runs", Static).update(escape(narrow(note)))
        self._show_safety(repo)

    def _show_safety(self, repo: Any) -> None:
        """The banner: a standing refusal or an open hazard closes gas-in and ignition for the
        whole visit (why, what clears it, the source)."""
        from fieldkit.safety import derive
        from fieldkit.tui.screens.procedure import STANDING, blocker_text

        banner = self.query_one("#visit-banner", Static)
        blockers = tuple(
            b for b in derive(repo.safety_facts(self.visit_id)).blockers if b.kind in STANDING
        )
        banner.update(blocker_text(blockers))
        banner.display = bool(blockers)

    @on(OptionList.OptionSelected, "#procedures")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_run_procedure()

    def action_run_procedure(self) -> None:
        option_list = self.query_one("#procedures", OptionList)
        if option_list.highlighted is None or not self._procedure_ids:
            return
        proc_id = self._procedure_ids[option_list.highlighted]
        from fieldkit.tui.screens.procedure import ProcedureScreen

        self.app.push_screen(ProcedureScreen(self.visit_id, proc_id))

    def action_save_meter(self) -> None:
        from fieldkit.records.repo import RecordsError

        meter_no = self.query_one("#meter-no", FieldInput).value.strip()
        from fieldkit.tui.screens.step_forms import split_list

        seals = split_list(self.query_one("#seal-nos", FieldInput).value)  # 、，, or spaces
        raw_reading = self.query_one("#meter-reading", FieldInput).value.strip()
        saved = self.query_one("#visit-saved", Static)
        try:
            reading = float(raw_reading) if raw_reading else None
        except ValueError:
            saved.set_classes("error-text")
            saved.update(_("The meter reading must be a number."))
            return
        try:
            self.services.repository().update_meter(
                self.visit_id,
                meter_no=meter_no or None,
                seal_nos=seals or None,
                meter_reading=reading,
            )
        except RecordsError as exc:
            saved.set_classes("error-text")
            saved.update(str(exc))
            return
        saved.set_classes("saved")
        saved.update(_("Saved"))

    def action_keys(self) -> None:
        from fieldkit.tui.screens.dialogs import KeysScreen

        self.app.push_screen(KeysScreen(self))

    def action_handover(self) -> None:
        from fieldkit.tui.screens.handover import HandoverScreen

        self.app.push_screen(HandoverScreen(self.visit_id))

    def action_meter_swap(self) -> None:
        from fieldkit.tui.screens.meter_swap import MeterSwapScreen

        def saved(result: bool | None) -> None:
            if result:  # the visit's meter is the new one now
                for selector in ("#meter-no", "#seal-nos"):
                    self.query_one(selector, FieldInput).value = ""
                self.refresh_visit()

        typed = self.query_one("#meter-no", FieldInput).value.strip()
        old = typed or self.services.repository().get_visit(self.visit_id).meter_no
        self.app.push_screen(MeterSwapScreen(self.visit_id, old_meter_no=old or ""), saved)

    def action_hazards(self) -> None:
        """Ctrl+L: the visit's hazards. The screen is built once per visit screen and kept
        (installed) while this one lives, so Ctrl+L and Esc only switch screens: building
        its form again each time made Ctrl+L take several hundred milliseconds."""
        from fieldkit.tui.screens.hazards import HazardsScreen

        if self._hazards_screen is None:
            self._hazards_screen = HazardsScreen(self.visit_id)
            self.app.install_screen(self._hazards_screen, f"hazards-{id(self)}")
        self.app.push_screen(self._hazards_screen)

    async def on_unmount(self) -> None:
        kept, self._hazards_screen = self._hazards_screen, None
        if kept is not None and kept not in self.app.screen_stack:
            self.app.uninstall_screen(kept)
            if kept.is_mounted:
                await kept.remove()

    def action_end_visit(self) -> None:
        from fieldkit.tui.screens.close_visit import CloseVisitScreen

        def closed(result: bool | None) -> None:
            if result:
                self.app.pop_screen()

        self.app.push_screen(CloseVisitScreen(self.visit_id), closed)
