"""``fieldkit --demo``: emulated devices and a few made-up work orders to try the TUI on.

The demo never touches the technician's real visit database: unless ``--db`` is given it
uses a fresh database in a temporary folder, thrown away when the demo ends (the screen
says so). The folder is held by a lock (an exclusive SQLite transaction on a file in it,
released by the OS however the process ends), so a later start removes folders left by a
demo that was killed; TERM and HUP end the app cleanly, which removes its own. With
``--db FILE`` the demo orders are added once: a restart finds them (open or closed) and
adds nothing. The meter and card-reader emulators (from
:mod:`fieldkit.devices`, when installed) answer on a pty; the meter's port becomes the
``serial_port`` setting for this session only. All customers here are invented.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from fieldkit.config import Settings
from fieldkit.i18n import _


class DemoError(Exception):
    """The demo could not be prepared; the message says why."""


# (order no., visit type, customer no., name, community, building, unit, floor, room)
DEMO_ORDERS = (
    ("DEMO-001", "ignition", "D0000001", "演示用户甲", "演示小区", "1", "1", "3", "301"),
    ("DEMO-002", "ignition", "D0000002", "演示用户乙", "演示小区", "2", "1", "5", "502"),
    ("DEMO-003", "repair", "D0000003", "演示用户丙", "演示花园", "7", "2", "1", "101"),
)


TEMP_PREFIX = "fieldkit-demo-"
LOCK_FILE = "in-use.lock"
UNLOCKED_GRACE_S = 600  # a folder with no lock file yet may be a demo starting right now


def _hold(folder: Path) -> sqlite3.Connection:
    """Mark ``folder`` as in use for as long as this process lives."""
    lock = sqlite3.connect(
        folder / LOCK_FILE, timeout=0, isolation_level=None, check_same_thread=False
    )
    lock.execute("BEGIN EXCLUSIVE")
    return lock


def _in_use(folder: Path) -> bool:
    lock_path = folder / LOCK_FILE
    if not lock_path.exists():
        try:
            return time.time() - folder.stat().st_mtime < UNLOCKED_GRACE_S
        except OSError:
            return False
    try:
        probe = sqlite3.connect(lock_path, timeout=0, isolation_level=None)
    except sqlite3.Error:
        return False
    try:
        probe.execute("BEGIN EXCLUSIVE")
    except sqlite3.OperationalError:
        return True  # another demo holds it
    finally:
        probe.close()
    return False


def remove_stale_demo_folders(root: Path | None = None) -> list[Path]:
    """Delete demo folders whose demo is no longer running (killed, crashed); returns them."""
    base = root or Path(tempfile.gettempdir())
    removed = []
    for folder in sorted(base.glob(f"{TEMP_PREFIX}*")):
        if folder.is_dir() and not _in_use(folder):
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                removed.append(folder)
    return removed


@dataclass
class DemoSession:
    settings: Settings
    notes: list[str] = field(default_factory=list)
    banner: str = ""
    """Shown on every screen: where the demo's data goes."""
    _stops: list[Callable[[], None]] = field(default_factory=list)
    _temp: Path | None = None
    _lock: sqlite3.Connection | None = None

    @property
    def folder(self) -> Path | None:
        """The temporary folder of the demo database (None with ``--db``)."""
        return self._temp

    def stop(self) -> None:
        for stop in reversed(self._stops):
            with contextlib.suppress(Exception):
                stop()
        self._stops.clear()
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None


def seed_demo_orders(db_url: str, technician_id: str) -> int:
    """Add the demo customers and work orders (skipping any already there); returns added."""
    from fieldkit.records.db import open_database
    from fieldkit.records.repo import RecordsError, VisitRepository

    database = open_database(db_url)
    added = 0
    try:
        repo = VisitRepository(database)
        existing = _existing_order_nos(database, [row[0] for row in DEMO_ORDERS])
        for (
            order_no,
            kind,
            customer_no,
            name,
            community,
            building,
            unit,
            floor,
            room,
        ) in DEMO_ORDERS:
            if order_no in existing:
                continue
            customer = repo.upsert_customer(
                customer_no,
                name=name,
                community=community,
                building=building,
                unit=unit,
                floor=floor,
                room=room,
            )
            try:
                repo.create_work_order(
                    order_no=order_no,
                    visit_type=kind,
                    customer_id=customer.id,
                    assigned_to=technician_id,
                    scheduled_for=date.today(),
                    notes=_("Demo work order"),
                    work_order_id=uuid.uuid4(),
                )
            except RecordsError:
                continue
            added += 1
    finally:
        database.close()
    return added


def _existing_order_nos(database: object, order_nos: list[str]) -> set[str]:
    """Which of ``order_nos`` the database has, whatever their status (a closed demo
    order is still there after a restart)."""
    from sqlmodel import col, select

    from fieldkit.records.models import WorkOrder

    with database.session(readonly=True) as session:  # type: ignore[attr-defined]
        rows = session.exec(
            select(WorkOrder.order_no).where(col(WorkOrder.order_no).in_(order_nos))
        )
        return set(rows.all())


def _start_emulators(session: DemoSession) -> str | None:
    """Start the meter (and card-reader) emulators if fieldkit.devices provides them."""
    try:
        from fieldkit.devices import emulator
    except ImportError:
        session.notes.append(_("Device emulators are not installed; no serial port."))
        return None
    port: str | None = None
    try:
        meter = emulator.start_meter_emulator()
        session._stops.append(meter.stop)
        port = meter.port_path
    except Exception as exc:
        session.notes.append(_("Meter emulator not started: {error}").format(error=exc))
    start_card = getattr(emulator, "start_card_emulator", None)
    if callable(start_card):
        try:
            card = start_card()
            session._stops.append(card.stop)
        except Exception as exc:
            session.notes.append(_("Card-reader emulator not started: {error}").format(error=exc))
    return port


def start_demo(settings: Settings) -> DemoSession:
    """Prepare the demo: a demo database with work orders, emulators when available."""
    updates: dict[str, object] = {}
    temp: Path | None = None
    lock: sqlite3.Connection | None = None
    if not settings.db_url:
        remove_stale_demo_folders()
        temp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
        lock = _hold(temp)
        updates["db_url"] = f"sqlite:///{(temp / 'demo.db').as_posix()}"
        banner = _("DEMO: what you record is thrown away when fieldkit closes")
    else:
        banner = _("DEMO database: {db}").format(db=settings.db_url)
    technician = settings.technician_id or "DEMO"
    updates["technician_id"] = technician
    session = DemoSession(settings=settings, banner=banner, _temp=temp, _lock=lock)
    try:
        demo_settings = settings.model_copy(update=updates)
        seed_demo_orders(demo_settings.resolved_db_url(), technician)
        port = _start_emulators(session)
        if port is not None:
            demo_settings = demo_settings.model_copy(update={"serial_port": port})
    except Exception as exc:
        session.stop()
        raise DemoError(_("The demo could not start: {error}").format(error=exc)) from exc
    session.settings = demo_settings
    return session
