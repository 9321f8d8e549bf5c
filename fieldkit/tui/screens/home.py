"""Home: today's work orders and unfinished visits; start or resume a visit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Footer, Label, Static

from fieldkit.i18n import _
from fieldkit.tui.screens.base import FieldkitScreen
from fieldkit.tui.text import narrow
from fieldkit.tui.widgets.status import StatusBar


def visit_type_label(value: Any) -> str:
    """The visit type in the current language."""
    labels = {
        "community_gas_on": _("Community gas-on"),
        "ignition": _("Gas-on and ignition"),
        "inspection": _("Safety inspection"),
        "repair": _("Repair"),
        "recheck": _("Recheck"),
    }
    key = str(getattr(value, "value", value))
    return labels.get(key, key)


def order_group(scheduled_for: date | None, today: date) -> int:
    """0: due (today or overdue), 1: later, 2: not scheduled."""
    if scheduled_for is None:
        return 2
    return 0 if scheduled_for <= today else 1


def order_when(scheduled_for: date | None, today: date) -> str:
    """The date column: today, overdue (with the date), a later date, or -."""
    if scheduled_for is None:
        return "-"
    if scheduled_for == today:
        return _("today")
    if scheduled_for < today:
        return _("overdue {date}").format(date=scheduled_for.strftime("%m-%d"))
    return scheduled_for.isoformat()


def sort_orders(rows: list[OrderRow], today: date) -> list[OrderRow]:
    """Today's and overdue orders first (oldest first), then later ones, then unscheduled."""
    return sorted(
        rows,
        key=lambda r: (
            order_group(r.scheduled_for, today),
            r.scheduled_for or date.max,
            r.order_no,
        ),
    )


@dataclass(frozen=True)
class OrderRow:
    order_id: uuid.UUID
    order_no: str
    visit_type: str
    customer_id: uuid.UUID
    customer: str
    address: str
    scheduled_for: date | None


class HomeScreen(FieldkitScreen):
    """The first screen. Paints at once; the database is opened after the first paint."""

    CSS_PATH = "home.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_selected", "Start/resume", id="home.open"),
        Binding("ctrl+n", "new_visit", "New visit", id="home.new"),
        Binding("ctrl+r", "refresh", "Refresh", id="home.refresh"),
        # The app's F-keys, listed here only (same ids, so a keymap moves both).
        Binding("f3", "app.lookup", "Faults", id="app.lookup"),
        Binding("f4", "app.conduct", "Conduct", id="app.conduct"),
        Binding("f5", "app.sync", "Sync", id="app.sync"),
        Binding("f6", "app.device", "Device", id="app.device"),
        Binding("f9", "app.settings", "Settings", id="app.settings"),
        # priority, as the app's is: otherwise the app's hidden one would replace it here.
        Binding("ctrl+q", "app.quit", "Quit", id="app.quit", priority=True),
    ]

    class Loaded(Message):
        def __init__(self, orders: list[OrderRow], visits: list[Any], waiting: int) -> None:
            super().__init__()
            self.orders = orders
            self.visits = visits
            self.waiting = waiting

    class LoadFailed(Message):
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        self._orders: list[OrderRow] = []
        self._visits: list[Any] = []

    def compose(self) -> ComposeResult:
        yield StatusBar(_("Home"))
        with Vertical(id="home-body"):
            yield Static(_("Opening the visit database..."), id="home-message", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        # Load after the first paint, off the UI thread (imports SQLAlchemy, runs migrations);
        # the tables are built when their rows arrive, so the first paint stays light.
        self.call_after_refresh(self.action_refresh)

    def _build_tables(self) -> None:
        if self.query("#orders"):
            return
        from textual.widgets import DataTable  # after the first paint: a heavy import

        orders = DataTable(id="orders", cursor_type="row", zebra_stripes=True)
        visits = DataTable(id="visits", cursor_type="row", zebra_stripes=True)
        self.query_one("#home-body", Vertical).mount_all(
            [
                Label(_("Work orders (open)"), classes="heading", id="orders-heading"),
                orders,
                Label(_("Unfinished visits"), classes="heading"),
                visits,
                Static(
                    _(
                        "Enter: start or resume the selected row. "
                        "Ctrl+N: visit without a work order."
                    ),
                    classes="hint",
                ),
            ]
        )
        orders.add_columns(_("Order"), _("Type"), _("Customer"), _("Address"), _("Date"))
        visits.add_columns(_("Customer"), _("Address"), _("Type"), _("Started"), _("Steps"))

    def on_screen_resume(self) -> None:
        if self.is_mounted and self.query("#orders"):
            self.action_refresh()

    def action_refresh(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="home-load")
    def _load(self) -> None:
        try:
            self.fk_app.settings  # noqa: B018 - loads the settings file on first use
        except Exception as exc:
            self.post_message(
                self.LoadFailed(_("The settings have a problem: {error}").format(error=exc))
            )
            return
        try:
            from fieldkit.records.repo import format_address

            repo = self.services.repository()
            me = self.fk_app.settings.technician_id
            rows: list[OrderRow] = []
            for order in repo.open_work_orders(assigned_to=me):
                customer = repo.get_customer(order.customer_id)
                rows.append(
                    OrderRow(
                        order_id=order.id,
                        order_no=order.order_no,
                        visit_type=str(order.visit_type.value),
                        customer_id=order.customer_id,
                        customer=" ".join(
                            p for p in (customer.customer_no, customer.name or "") if p
                        ),
                        address=format_address(customer),
                        scheduled_for=order.scheduled_for,
                    )
                )
            rows = sort_orders(rows, date.today())
            visits = repo.unfinished_visits()
            waiting = repo.outbox_count()
            self.services.procedures()  # warm: the visit screen lists them
        except Exception as exc:
            self.post_message(
                self.LoadFailed(_("Cannot open the visit database: {error}").format(error=exc))
            )
            return
        self.post_message(self.Loaded(rows, visits, waiting))

    @on(Loaded)
    def _show(self, message: Loaded) -> None:
        self.fk_app.settings_ready()
        if self not in self.app.screen_stack:  # the language changed: a new home took over
            return
        self._build_tables()
        self._orders = message.orders
        self._visits = message.visits
        self.query_one(StatusBar).waiting = message.waiting
        today = date.today()
        due = sum(1 for r in message.orders if order_group(r.scheduled_for, today) == 0)
        self.query_one("#orders-heading", Label).update(
            _("Work orders (open): {due} due today or overdue, listed first").format(due=due)
            if due
            else _("Work orders (open)")
        )
        orders = self.query_one("#orders")
        orders.clear()
        for row in message.orders:
            when = order_when(row.scheduled_for, today)
            orders.add_row(
                row.order_no,
                visit_type_label(row.visit_type),
                narrow(row.customer),
                narrow(row.address),
                when,
                key=str(row.order_id),
            )
        visits = self.query_one("#visits")
        visits.clear()
        for summary in message.visits:
            visits.add_row(
                narrow(
                    " ".join(p for p in (summary.customer_no, summary.customer_name or "") if p)
                ),
                narrow(summary.address),
                visit_type_label(summary.visit_type),
                summary.started_at.astimezone().strftime("%m-%d %H:%M"),
                str(summary.steps_saved),
                key=str(summary.visit_id),
            )
        text = ""
        if not message.orders and not message.visits:
            text = _("No open work orders. Sync (F5) to fetch them, or start a visit (Ctrl+N).")
        self.query_one("#home-message", Static).update(text)
        if message.visits:
            visits.focus()
        elif message.orders:
            orders.focus()

    @on(LoadFailed)
    def _failed(self, message: LoadFailed) -> None:
        self.query_one("#home-message", Static).update(message.error)
        self.query_one("#home-message", Static).set_classes("error-text")

    # -- actions ---------------------------------------------------------------------------

    def action_open_selected(self) -> None:
        focused: Any = self.focused
        if focused is not None and focused.id == "visits" and self._visits:
            self._resume(self._visits[focused.cursor_row].visit_id)
        elif focused is not None and focused.id == "orders" and self._orders:
            self._start_from_order(self._orders[focused.cursor_row])
        elif self._visits:
            self._resume(self._visits[0].visit_id)

    def on_data_table_row_selected(self, event: Any) -> None:
        event.stop()
        if event.data_table.id == "visits" and self._visits:
            self._resume(self._visits[event.cursor_row].visit_id)
        elif event.data_table.id == "orders" and self._orders:
            self._start_from_order(self._orders[event.cursor_row])

    def _technician(self) -> str | None:
        tech = self.fk_app.settings.technician_id
        if not tech:
            self.notify(
                _("Set your technician id first (Settings, F9)."), severity="error", timeout=6
            )
        return tech

    def _start_from_order(self, row: OrderRow) -> None:
        tech = self._technician()
        if not tech:
            return
        from fieldkit.records.repo import RecordsError

        repo = self.services.repository()
        try:
            visit = repo.start_visit(
                customer_id=row.customer_id,
                technician_id=tech,
                visit_type=row.visit_type,
                work_order_id=row.order_id,
            )
        except RecordsError as exc:
            self.notify(str(exc), severity="error")
            return
        self._open_visit(visit.id)

    def _resume(self, visit_id: uuid.UUID) -> None:
        self._open_visit(visit_id)

    def _open_visit(self, visit_id: uuid.UUID) -> None:
        from fieldkit.tui.screens.visit import VisitScreen

        self.app.push_screen(VisitScreen(visit_id))

    def action_new_visit(self) -> None:
        if not self._technician():
            return
        from fieldkit.tui.screens.visit import NewVisitScreen

        self.app.push_screen(NewVisitScreen())
