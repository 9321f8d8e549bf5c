"""Home: today's work orders and unfinished visits; start or resume a visit."""

from __future__ import annotations

import contextlib
import threading
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Label, Static
from textual.widgets.data_table import CellDoesNotExist

from fieldkit.i18n import _
from fieldkit.tui.screens.base import FieldkitScreen
from fieldkit.tui.text import clip, narrow
from fieldkit.tui.widgets.footer import FieldFooter
from fieldkit.tui.widgets.status import StatusBar

# What the visit database needs, imported step by step in the home screen's worker; before
# each step, and each module a step imports, the worker lets a key press be handled first
# (fieldkit.tui.preload, FieldkitApp.yield_to_keys).
DATABASE_MODULES = (
    "pydantic",
    "sqlalchemy.engine",
    "sqlalchemy.orm",
    "sqlmodel",
    "fieldkit.records.models",
    "fieldkit.procedures.models",
    "fieldkit.procedures.engine",
    "fieldkit.records.repo",
    "alembic.command",
    "alembic.script",
    "alembic.runtime.migration",
)

# What the first F6 would otherwise import (the device screen and the device package its
# port list needs), so opening it later does not wait for imports.
DEVICE_MODULES = (
    "fieldkit.tui.screens.device",
    "fieldkit.devices.emulator",
    "fieldkit.devices.profiles",
    "fieldkit.devices.transport",
)


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


def visit_step(resume: Any, procedures: dict[str, Any]) -> str:
    """Where a visit stands: "5/9" (the step to do now of the run in progress, of its
    procedure's steps), "9/9" once its last run is finished, "-" before any run."""
    run = resume.current_run or (resume.runs[-1] if resume.runs else None)
    if run is None:
        return "-"
    procedure = procedures.get(run.procedure_id)
    if procedure is None:
        return "?"
    total = len(procedure.steps)
    if run.finished:
        return f"{total}/{total}"
    from fieldkit.procedures.engine import ProcedureRun, VisitContext

    try:
        context = VisitContext.from_events(resume.all_step_events(), visit_id=resume.visit.id)
        current = ProcedureRun.restore(procedure, run.step_events(), context=context).current
    except Exception:
        return f"?/{total}"
    number = procedure.steps.index(current) + 1 if current in procedure.steps else total
    return f"{number}/{total}"


def fit_columns(
    headers: list[str], rows: list[list[str]], width: int, flexible: tuple[int, int]
) -> list[list[str]]:
    """``rows`` with the two ``flexible`` columns (customer, address) cut so that every
    column fits in ``width`` cells (each column also takes 2 cells of padding)."""
    if not rows:
        return rows
    count = len(headers)
    widest = [max(cell_len(r[i]) for r in [headers, *rows]) for i in range(count)]
    fixed = sum(w for i, w in enumerate(widest) if i not in flexible) + 2 * count
    room = max(width - fixed, 12)
    first, second = (widest[i] for i in flexible)
    if first + second > room:
        # The first (customer) gets up to 40% of the room, the address the rest.
        first_room = min(first, max(room * 2 // 5, room - second))
        first, second = first_room, room - first_room
    out = []
    for row in rows:
        row = list(row)
        row[flexible[0]] = clip(row[flexible[0]], first)
        row[flexible[1]] = clip(row[flexible[1]], second)
        out.append(row)
    return out


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
        Binding("f1", "app.help", "Help", id="app.help"),
        # priority: Enter works before the list is loaded (it is kept and done then).
        Binding(
            "enter", "open_selected", "Start/resume", id="home.open", show=False, priority=True
        ),
        Binding("ctrl+n", "new_visit", "New visit", id="home.new"),
        Binding("ctrl+r", "refresh", "Refresh", id="home.refresh", show=False),
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

    class StepsKnown(Message):
        def __init__(self, steps: dict[uuid.UUID, str]) -> None:
            super().__init__()
            self.steps = steps

    class DevicesImported(Message):
        """The device package is imported: the app can build F6's screen ahead."""

    class LoadFailed(Message):
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        self._orders: list[OrderRow] = []
        self._visits: list[Any] = []
        self.loaded = False
        """True once the lists have been filled from the database."""
        self._pending_open = False
        self._load_started = False
        self._focus_placed = False
        self._load_error = ""
        self._painted = threading.Event()
        self._steps: dict[uuid.UUID, str] = {}
        self._filled_width = -1  # the width the lists' columns were last fitted to

    def compose(self) -> ComposeResult:
        yield StatusBar(_("Home"))
        with Vertical(id="home-body"):
            yield Static(
                _("Opening the visit database..."), id="home-message", classes="hint", markup=False
            )
            yield Label(_("Work orders (open)"), classes="heading", id="orders-heading")
            yield DataTable(id="orders", cursor_type="row", zebra_stripes=True)
            yield Label(_("Unfinished visits"), classes="heading")
            yield DataTable(id="visits", cursor_type="row", zebra_stripes=True)
            yield Static(
                _("Enter: start or resume the selected row. Ctrl+N: visit without a work order."),
                classes="hint",
                markup=False,
            )
        yield FieldFooter()

    def on_mount(self) -> None:
        self.query_one("#orders", DataTable).add_columns(
            _("Order"), _("Type"), _("Customer"), _("Address"), _("Date")
        )
        columns = self.query_one("#visits", DataTable).add_columns(
            _("Customer"), _("Address"), _("Type"), _("Started"), _("Step")
        )
        self._step_column = columns[-1]
        # Keys go to the work-order list from the first paint on (an Enter pressed while
        # the list loads is kept and done when it arrives); the database is opened after
        # the first paint, off the UI thread (SQLAlchemy import, migrations).
        self.query_one("#orders", DataTable).focus()
        self.call_after_refresh(self.action_refresh)

    def on_screen_resume(self) -> None:
        if self._load_started:  # back from a visit or settings (the first load: on_mount)
            self._focus_placed = False  # e.g. on the visit just started, now unfinished
            self.action_refresh()

    def action_refresh(self) -> None:
        self._load_started = True
        self._load()

    @work(thread=True, exclusive=True, group="home-load")
    def _load(self) -> None:
        glanced = False
        look = self.fk_app.first_look
        if self.fk_app.loaded_settings is None and look is not None and look[0]:
            glanced = self._glance(look[0], look[1])
        try:
            self.fk_app.settings  # noqa: B018 - loads the settings file on first use
        except Exception as exc:
            self.post_message(
                self.LoadFailed(_("The settings have a problem: {error}").format(error=exc))
            )
            return
        if not glanced:
            settings = self.fk_app.settings
            self._glance(settings.resolved_db_url(), settings.technician_id)
        from fieldkit.tui.preload import preload

        pause = self.fk_app.yield_to_keys
        # The list is on the screen (the glance): first what F6 needs (small), then what
        # the visit database needs (large), module by module after the keys pressed meanwhile.
        preload(DEVICE_MODULES, pause)
        pause()
        self.post_message(self.DevicesImported())
        preload(DATABASE_MODULES, pause)
        pause()
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
        except Exception as exc:
            self.post_message(
                self.LoadFailed(_("Cannot open the visit database: {error}").format(error=exc))
            )
            return
        self.post_message(self.Loaded(rows, visits, waiting))
        # Then, with the list on the screen: where each unfinished visit stands.
        pause()
        try:
            procedures = self.services.procedures()  # also warms the visit screen's list
            pause()
            steps = {v.visit_id: visit_step(repo.resume(v.visit_id), procedures) for v in visits}
        except Exception:
            steps = None  # the column keeps "..."; the visit screen reports the problem
        if steps is not None:
            self.post_message(self.StepsKnown(steps))

    def _glance(self, db_url: str, technician_id: str | None) -> bool:
        """The lists read with the standard library only, shown while pydantic and
        SQLAlchemy load (see fieldkit.records.glance); nothing is shown if the glance is
        not sure. The repository's reading replaces it a moment later."""
        from fieldkit.records.glance import glance

        try:
            first = glance(db_url, technician_id)
        except Exception:
            return False
        if first is None:
            return False
        rows = [
            OrderRow(
                order_id=o.order_id,
                order_no=o.order_no,
                visit_type=o.visit_type,
                customer_id=o.customer_id,
                customer=" ".join(p for p in (o.customer_no, o.customer_name or "") if p),
                address=o.address,
                scheduled_for=o.scheduled_for,
            )
            for o in first.orders
        ]
        self._painted.clear()
        self.post_message(self.Loaded(sort_orders(rows, date.today()), first.visits, first.waiting))
        # Let the UI thread draw the rows before this thread imports pydantic and SQLAlchemy
        # (an import holds the GIL and would hold up the drawing).
        self._painted.wait(timeout=2)
        return True

    @on(DevicesImported)
    def _devices_imported(self) -> None:
        self.fk_app.prebuild_device_screen()

    @on(StepsKnown)
    def _show_steps(self, message: StepsKnown) -> None:
        table = self.query_one("#visits", DataTable)
        for visit_id, step in message.steps.items():
            self._steps[visit_id] = step
            with contextlib.suppress(CellDoesNotExist):  # the row went (a refresh)
                table.update_cell(str(visit_id), self._step_column, Text(step))

    @on(Loaded)
    def _show(self, message: Loaded) -> None:
        self.fk_app.settings_ready()
        if self not in self.app.screen_stack:  # the language changed: a new home took over
            return
        self.loaded = True
        self._load_error = ""
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
        self._fill_tables()
        self.call_after_refresh(self._painted.set)
        self.set_timer(0.2, self.fk_app.warm_up)  # the list first, then the styles
        text = ""
        if not message.orders and not message.visits:
            text = _("No open work orders. Sync (F5) to fetch them, or start a visit (Ctrl+N).")
        self.query_one("#home-message", Static).update(text)
        if not self._focus_placed:  # the first time only: later loads keep the user's place
            self._focus_placed = True
            if message.visits:
                self.query_one("#visits", DataTable).focus()
            elif message.orders:
                self.query_one("#orders", DataTable).focus()
        if self._pending_open:  # Enter was pressed while the list was loading
            self._pending_open = False
            self.action_open_selected()

    @staticmethod
    def _headers(table: DataTable[Any]) -> list[str]:
        return [column.label.plain for column in table.ordered_columns]

    def on_resize(self) -> None:
        # fitted again only for a new width (the start-up Resize arrives after the first
        # list: filling again then would delay the list's first paint for nothing)
        if self.loaded and self.size.width != self._filled_width:
            self._fill_tables()

    def _fill_tables(self) -> None:
        """Both lists, their long columns (customer, address) cut to fit the width, so the
        date and step columns stay on screen at 80 (and 60) columns."""
        today = date.today()
        orders: DataTable[Any] = self.query_one("#orders", DataTable)
        cursor = orders.cursor_row
        order_cells = [
            [
                row.order_no,
                visit_type_label(row.visit_type),
                narrow(row.customer),
                narrow(row.address),
                order_when(row.scheduled_for, today),
            ]
            for row in self._orders
        ]
        visit_cells = [
            [
                narrow(" ".join(p for p in (v.customer_no, v.customer_name or "") if p)),
                narrow(v.address),
                visit_type_label(v.visit_type),
                v.started_at.astimezone().strftime("%m-%d %H:%M"),
                self._steps.get(v.visit_id, "..."),
            ]
            for v in self._visits
        ]
        self._filled_width = self.size.width
        width = self.size.width - 4  # the body's padding and a scroll bar
        orders.clear()
        for row, cells in zip(
            self._orders,
            fit_columns(self._headers(orders), order_cells, width, (2, 3)),
            strict=True,
        ):
            orders.add_row(*(Text(c) for c in cells), key=str(row.order_id))
        if order_cells:
            orders.move_cursor(row=min(cursor, len(order_cells) - 1))
        visits: DataTable[Any] = self.query_one("#visits", DataTable)
        cursor = visits.cursor_row
        visits.clear()
        for v, cells in zip(
            self._visits,
            fit_columns(self._headers(visits), visit_cells, width, (0, 1)),
            strict=True,
        ):
            visits.add_row(*(Text(c) for c in cells), key=str(v.visit_id))
        if visit_cells:
            visits.move_cursor(row=min(cursor, len(visit_cells) - 1))

    @on(LoadFailed)
    def _failed(self, message: LoadFailed) -> None:
        self._pending_open = False
        # A first glance may have listed rows: nothing can be started without settings.
        self.loaded = False
        self._load_error = message.error
        self._orders, self._visits = [], []
        self.query_one("#orders", DataTable).clear()
        self.query_one("#visits", DataTable).clear()
        self.query_one("#home-message", Static).update(message.error)
        self.query_one("#home-message", Static).set_classes("error-text")

    # -- actions ---------------------------------------------------------------------------

    def action_open_selected(self) -> None:
        if not self.loaded and self._load_error:
            return  # the problem is on the screen; nothing to open
        if not self.loaded:
            self._pending_open = True
            self.query_one("#home-message", Static).update(
                _("Loading the list; Enter will open the selected row as soon as it is shown.")
            )
            return
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
