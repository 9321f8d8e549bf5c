"""``fieldkit --demo``: emulated devices and a few made-up work orders to try the TUI on.

The demo never touches the technician's real visit database: unless ``--db`` is given it
uses a fresh database in a temporary folder. The meter and card-reader emulators (from
:mod:`fieldkit.devices`, when installed) answer on a pty; the meter's port becomes the
``serial_port`` setting for this session only. All customers here are invented.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
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


@dataclass
class DemoSession:
    settings: Settings
    notes: list[str] = field(default_factory=list)
    _stops: list[Callable[[], None]] = field(default_factory=list)
    _temp: Path | None = None

    def stop(self) -> None:
        for stop in reversed(self._stops):
            with contextlib.suppress(Exception):
                stop()
        self._stops.clear()
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
        existing = {o.order_no for o in repo.open_work_orders()}
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
    if not settings.db_url:
        temp = Path(tempfile.mkdtemp(prefix="fieldkit-demo-"))
        updates["db_url"] = f"sqlite:///{(temp / 'demo.db').as_posix()}"
    technician = settings.technician_id or "DEMO"
    updates["technician_id"] = technician
    session = DemoSession(settings=settings, _temp=temp)
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
