"""Device emulators answering over a real pseudo-terminal, so the real pyserial path runs.

:func:`start_meter_emulator` starts a gas meter speaking CJ/T 188 (profile and state
configurable); :func:`start_card_emulator` starts an ACR30-framed card reader holding an
in-memory SLE4442. Both return an :class:`EmulatorHandle` with the pty path to open and a
``stop()``. They pace their bytes at the configured baud rate (11 bits a byte for 8E1) and,
like a real meter, ignore a request sent at another baud rate or parity.

Pseudo-terminals exist on Linux and macOS only. On Windows install a com0com virtual
null-modem pair and run the emulator on one side (not provided here): the functions raise
:class:`EmulatorUnavailable` saying so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fieldkit.devices import cjt188
from fieldkit.devices.cardreader import (
    INS_MEMORY_CARD,
    Acr30Decoder,
    Sle4442,
    acr30_encode_reply,
    acr30_parse_body,
)
from fieldkit.devices.cjt188 import DI, Frame, FrameDecoder, ValveState
from fieldkit.devices.profiles import MeterProfile, load_profiles
from fieldkit.i18n import _


class EmulatorUnavailable(RuntimeError):
    pass


@dataclass
class EmulatorHandle:
    """A running emulator: open ``port_path`` with pyserial; call ``stop()`` when done."""

    port_path: str
    stop: Callable[[], None]
    emulator: PtyEmulator

    def __enter__(self) -> EmulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def bits_per_byte(parity: str = "E", bytesize: int = 8, stopbits: int = 1) -> int:
    return 1 + bytesize + (0 if parity == "N" else 1) + stopbits


class PtyEmulator:
    """A thread answering on the master side of a pty; subclasses implement ``respond``."""

    def __init__(
        self,
        *,
        baudrate: int,
        parity: str = "E",
        bytesize: int = 8,
        stopbits: int = 1,
        pace: bool = True,
        check_line_settings: bool = True,
    ) -> None:
        if sys.platform == "win32":
            raise EmulatorUnavailable(
                _(
                    "Emulators need a pseudo-terminal, which Windows lacks. Install a com0com "
                    "virtual null-modem pair (e.g. COM8<->COM9) and point fieldkit at one side."
                )
            )
        self.baudrate = baudrate
        self.parity = parity
        self.bytesize = bytesize
        self.stopbits = stopbits
        self.pace = pace
        self.check_line_settings = check_line_settings
        self.echo = False  # an RS-485 adapter that hears what the PC sends
        self.received = bytearray()
        self.sent = bytearray()
        self.ignored_wrong_settings = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._master = -1
        self._slave = -1
        self.port_path = ""

    @property
    def byte_time(self) -> float:
        return bits_per_byte(self.parity, self.bytesize, self.stopbits) / self.baudrate

    # -- lifecycle
    def start(self) -> EmulatorHandle:
        import tty

        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        tty.setraw(self._master)
        self.port_path = os.ttyname(self._slave)
        self._thread = threading.Thread(
            target=self._run, name=f"{type(self).__name__}:{self.port_path}", daemon=True
        )
        self._thread.start()
        return EmulatorHandle(self.port_path, self.stop, self)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        for fd in (self._master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = -1

    # -- the line
    def line_settings_match(self) -> bool:
        """Did the client open the port at our baud rate? (a real UART garbles bytes
        otherwise; a pty records the setting without applying it)."""
        if not self.check_line_settings:
            return True
        import termios

        try:
            attrs = termios.tcgetattr(self._slave)
        except termios.error:
            return True
        speed = getattr(termios, f"B{self.baudrate}", None)
        # Linux ptys keep the baud rate but drop PARENB, so parity cannot be checked here.
        return speed is None or attrs[5] == speed

    def _run(self) -> None:
        import select

        first_at: float | None = None
        count = 0
        while not self._stop.is_set():
            try:
                ready, _w, _x = select.select([self._master], [], [], 0.02)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            try:
                chunk = os.read(self._master, 4096)
            except OSError:
                # EIO: nobody has the slave open right now; wait and try again.
                time.sleep(0.02)
                continue
            if not chunk:
                continue
            now = time.monotonic()
            if first_at is None:
                first_at = now
            count += len(chunk)
            self.received += chunk
            if self.echo:
                os.write(self._master, chunk)
            if not self.line_settings_match():
                self.ignored_wrong_settings += 1
                first_at, count = None, 0
                continue
            replies = self.respond(chunk)
            if not replies:
                continue
            # the request's last byte reaches the device count × byte_time after the first
            if self.pace:
                self._sleep_until(first_at + count * self.byte_time)
            first_at, count = None, 0
            for reply in replies:
                if isinstance(reply, float):  # a pause inside or before a reply
                    self._sleep_until(time.monotonic() + reply)
                else:
                    self._send(reply)

    def _sleep_until(self, when: float) -> None:
        delay = when - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def _send(self, data: bytes) -> None:
        if not self.pace:
            os.write(self._master, data)
            self.sent += data
            return
        # byte i has left the UART (and reaches the far end) at start + (i + 1) × byte_time
        start = time.monotonic()
        bt = self.byte_time
        i = 0
        while i < len(data) and not self._stop.is_set():
            self._sleep_until(start + (i + 1) * bt)
            done = min(len(data), max(i + 1, int((time.monotonic() - start) / bt)))
            os.write(self._master, data[i:done])
            self.sent += data[i:done]
            i = done

    def respond(self, chunk: bytes) -> list[bytes | float]:  # pragma: no cover - abstract
        """What to send back: bytes, and pauses (float seconds) between them."""
        raise NotImplementedError


# ---------------------------------------------------------------- meter


@dataclass
class MeterState:
    """What the emulated meter reports in 901F, and how it answers."""

    address: str = "30000000123456"
    current: float = 123.45
    settlement: float = 100.00
    clock: dt.datetime | None = field(default_factory=lambda: dt.datetime(2026, 11, 23, 9, 30, 0))
    valve: ValveState = ValveState.OPEN
    low_battery: bool = False
    status_byte2: int = 0x00  # vendor-defined second ST byte
    unit: int = 0x2C
    corrupt_next_reply: bool = False  # flip the checksum of the next reply once
    silent: bool = False  # answer nothing (a dead meter)


DI_ORDERS = {"2004": ("big",), "2018": ("little",), "both": ("big", "little")}
NOISE_BEFORE = bytes.fromhex("00 68 16 FF 68 10")  # stray 68/16 bytes, as on a noisy line
NOISE_AFTER = bytes.fromhex("68 16")


@dataclass
class MeterFaults:
    """How a real meter (or its line) misbehaves; every default is a well-behaved meter.

    ``data_orders``: the DI byte orders it answers 901F in (None: its profile's).
    ``address_orders``: the orders it answers read-address in (None: as ``data_orders``).
    ``echo``: the RS-485 adapter echoes the request. ``noise``: stray 68/16 bytes around
    each reply. ``split``: the reply comes in three pieces this many seconds apart.
    ``delay``: seconds before the reply starts. ``corrupt_first``: the first reply has a bad
    checksum. ``broadcast``: False for a meter that ignores broadcast read-address.
    """

    data_orders: tuple[str, ...] | None = None
    address_orders: tuple[str, ...] | None = None
    echo: bool = False
    noise: bool = False
    split: float = 0.0
    delay: float = 0.0
    corrupt_first: bool = False
    broadcast: bool = True


class MeterEmulator(PtyEmulator):
    def __init__(
        self,
        profile: MeterProfile,
        state: MeterState | None = None,
        *,
        baudrate: int | None = None,
        pace: bool = True,
        echo: bool = False,
        faults: MeterFaults | None = None,
    ) -> None:
        super().__init__(
            baudrate=baudrate or profile.bauds[0],
            parity=profile.parity,
            bytesize=profile.bytesize,
            stopbits=profile.stopbits,
            pace=pace,
        )
        self.profile = profile
        self.state = state or MeterState()
        self.faults = faults or MeterFaults()
        self.echo = echo or self.faults.echo
        if self.faults.corrupt_first:
            self.state.corrupt_next_reply = True
        self.data_orders = self.faults.data_orders or (profile.di_order,)
        self.address_orders = self.faults.address_orders or self.data_orders
        self._decoder = FrameDecoder()
        self.requests: list[Frame] = []

    def _status_bytes(self) -> bytes:
        st = [0, self.state.status_byte2 & 0xFF]
        v = self.profile.status.valve
        code = {val: key for key, val in v.values.items()}.get(self.state.valve)
        if code is not None:
            st[v.byte] |= code
        if self.state.low_battery:
            b = self.profile.status.low_battery
            st[b.byte] |= b.mask
        return bytes(st)

    def _reply(self, request: Frame, data: bytes) -> bytes:
        p = self.profile
        raw = cjt188.encode_frame(
            p.meter_type,
            self.state.address,
            request.control | 0x80,
            data,
            preamble=p.preamble,
        )
        if self.state.corrupt_next_reply:
            self.state.corrupt_next_reply = False
            raw = raw[:-2] + bytes(((raw[-2] + 1) & 0xFF,)) + raw[-1:]
        return raw

    def respond(self, chunk: bytes) -> list[bytes | float]:
        out: list[bytes | float] = []
        f = self.faults
        for item in self._decoder.feed(chunk):
            if isinstance(item, Frame) and not item.is_reply:
                self.requests.append(item)
                reply = self._answer(item)
                if not reply:
                    continue
                if f.delay:
                    out.append(float(f.delay))
                if f.noise:
                    reply = NOISE_BEFORE + reply + NOISE_AFTER
                if f.split:
                    cut1, cut2 = len(reply) // 3, 2 * len(reply) // 3
                    out += [reply[:cut1], float(f.split), reply[cut1:cut2], float(f.split)]
                    out.append(reply[cut2:])
                else:
                    out.append(reply)
        return out

    def _order(self, req: Frame, di: int, orders: tuple[str, ...]) -> bool:
        return any(req.di(order) == di for order in orders)  # type: ignore[arg-type]

    def _answer(self, req: Frame) -> bytes | None:
        p, s = self.profile, self.state
        if s.silent:
            return None
        if req.address not in (s.address, cjt188.BROADCAST_ADDRESS):
            return None
        if req.address == cjt188.BROADCAST_ADDRESS and not self.faults.broadcast:
            return None
        if req.meter_type not in (p.meter_type, cjt188.WILDCARD_TYPE):
            return None
        ser = bytes((req.ser or 0,))
        di_bytes = req.data[:2]
        if req.function == cjt188.Function.READ_ADDRESS and self._order(
            req, DI.ADDRESS, self.address_orders
        ):
            return self._reply(req, di_bytes + ser)
        if req.function == cjt188.Function.READ_DATA and self._order(
            req, DI.METERING, self.data_orders
        ):
            payload = cjt188.encode_metering(
                s.current,
                s.settlement,
                s.clock,
                self._status_bytes(),
                unit=s.unit,
                decimals=p.volume_decimals,
            )
            return self._reply(req, di_bytes + ser + payload)
        if (
            req.function == cjt188.Function.WRITE_DATA
            and self._order(req, DI.VALVE, self.data_orders)
            and len(req.data) >= 4
        ):
            command = req.data[3]
            if command == cjt188.VALVE_OPEN:
                s.valve = ValveState.OPEN
            elif command == cjt188.VALVE_CLOSE:
                s.valve = ValveState.CLOSED
            return self._reply(req, di_bytes + ser)
        if (
            req.function == cjt188.Function.WRITE_ADDRESS
            and self._order(req, DI.WRITE_ADDRESS, self.data_orders)
            and len(req.data) == 10
            and req.address == s.address  # never by broadcast
        ):
            reply = self._reply(req, di_bytes + ser)
            s.address = cjt188.decode_address(req.data[3:10])
            return reply
        return None  # unknown DI or the other DI byte order: a real meter stays silent


_RUNNING: dict[str, str] = {}  # port → "meter" / "card": emulators running in this process


def running_emulators() -> dict[str, str]:
    """The emulators this process runs (port → kind), so a screen can offer their ports."""
    return dict(_RUNNING)


def _track(handle: EmulatorHandle, kind: str) -> EmulatorHandle:
    _RUNNING[handle.port_path] = kind
    stop = handle.stop

    def stop_and_forget() -> None:
        _RUNNING.pop(handle.port_path, None)
        stop()

    handle.stop = stop_and_forget
    return handle


def start_meter_emulator(
    profile: MeterProfile | str = "cjt188-2004",
    state: MeterState | None = None,
    *,
    baudrate: int | None = None,
    pace: bool = True,
    echo: bool = False,
    faults: MeterFaults | None = None,
) -> EmulatorHandle:
    if isinstance(profile, str):
        profile = load_profiles().profile(profile)
    emulator = MeterEmulator(profile, state, baudrate=baudrate, pace=pace, echo=echo, faults=faults)
    return _track(emulator.start(), "meter")


# ---------------------------------------------------------------- card reader


class CardReaderEmulator(PtyEmulator):
    """An ACR30-framed reader (research §3.4 C) holding an in-memory SLE4442, or no card."""

    def __init__(
        self,
        card: Sle4442 | None = None,
        *,
        baudrate: int = 9600,
        pace: bool = True,
    ) -> None:
        super().__init__(baudrate=baudrate, parity="N", pace=pace)
        self.card = card
        self._decoder = Acr30Decoder()
        self.apdus: list[bytes] = []

    def insert(self, card: Sle4442 | None) -> None:
        self.card = card

    def respond(self, chunk: bytes) -> list[bytes | float]:
        out: list[bytes | float] = []
        for item in self._decoder.feed(chunk):
            if isinstance(item, Exception):
                out.append(acr30_encode_reply(0x60, 0x00))
                continue
            try:
                body = acr30_parse_body(item)
            except Exception:
                out.append(acr30_encode_reply(0x60, 0x00))
                continue
            ins, data = body[1], body[3:-1]
            if ins != INS_MEMORY_CARD or len(data) != body[2]:
                out.append(acr30_encode_reply(0x60, 0x00))
                continue
            self.apdus.append(bytes(data))
            if self.card is None:
                out.append(acr30_encode_reply(0x67, 0x00))
                continue
            out.append(acr30_encode_reply(0x90, 0x00, self.card.apdu(bytes(data))))
        return out


_EXAMPLE_CARD: Any = object()


def start_card_emulator(
    card: Sle4442 | None = _EXAMPLE_CARD, *, baudrate: int = 9600, pace: bool = True
) -> EmulatorHandle:
    """A card reader on a pty. Default: holding :func:`example_user_card`; ``None``: empty."""
    if card is _EXAMPLE_CARD:
        card = example_user_card()
    return _track(CardReaderEmulator(card, baudrate=baudrate, pace=pace).start(), "card")


def example_user_card(
    card_number: int = 12345678, remaining_gas: float = 123.4, area: int = 7
) -> Sle4442:
    """An SLE4442 filled like the public example user-card layout (research §3.3)."""
    card = Sle4442()
    mem = card.memory
    mem[0x20] = 0xDD
    digits = f"{card_number:08d}"
    mem[0x21:0x25] = bytes(int(digits[i : i + 2]) for i in range(0, 8, 2))
    tenths = round(remaining_gas * 10)
    mem[0x3D:0x40] = bytes((tenths // 1000, (tenths // 10) % 100, tenths % 10))
    mem[0x47] = area
    return card
