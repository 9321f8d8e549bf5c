"""CJ/T 188 frames, sans-IO: build requests, decode a byte stream, read 901F and addresses.

No I/O happens here. :func:`encode_frame` and the ``request_*`` helpers return bytes;
:class:`FrameDecoder` is fed arbitrary chunks and returns whole :class:`Frame` objects or
typed :class:`FrameError` values (it never raises anything else).

Frame (research/protocols.md §1.3)::

    [FE…] 68 T A0..A6 C L DATA(L) CS 16      CS = sum(68 … last data byte) mod 256

The data field is ``DI(2) SER(1) payload``; the DI byte order differs between editions and
vendors (2004: ``90 1F`` on the wire, 2018: ``1F 90``) and is a meter-profile setting.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Literal

from fieldkit.i18n import _

START = 0x68
END = 0x16
PREAMBLE = 0xFE
HEADER_LEN = 11  # 68 T A0..A6 C L
MIN_FRAME = HEADER_LEN + 2
MAX_DATA_LEN = 0xFF  # L is one byte: every length the standard allows (0..255)
BROADCAST_ADDRESS = "AAAAAAAAAAAAAA"
WILDCARD_TYPE = 0xAA
GAS_METER_TYPE = 0x30

DiOrder = Literal["big", "little"]


class Function(IntEnum):
    """Control-code function bits D4..D0 (research §1.4)."""

    READ_DATA = 0x01
    READ_ADDRESS = 0x03
    WRITE_DATA = 0x04
    READ_KEY_VERSION = 0x09
    WRITE_ADDRESS = 0x15
    WRITE_BASE_VALUE = 0x16


class DI(IntEnum):
    """Data identifiers fieldkit uses (research §1.6)."""

    METERING = 0x901F
    ADDRESS = 0x810A
    VALVE = 0xA017
    WRITE_ADDRESS = 0xA018


VALVE_OPEN = 0x55
VALVE_CLOSE = 0x99

# Unit codes (ng-gateway ``Unit::from_code``, KingDa ``CJT_188_UnitType``; research §1.6).
# 0x36 is disputed between the two sources and left out on purpose.
UNITS: dict[int, str] = {
    0x01: "J",
    0x02: "Wh",
    0x05: "kWh",
    0x08: "MWh",
    0x0B: "kJ",
    0x0E: "MJ",
    0x11: "GJ",
    0x14: "W",
    0x17: "kW",
    0x1A: "MW",
    0x29: "L",
    0x2C: "m³",
    0x2D: "m³×10",
    0x2E: "m³×100",
    0x32: "L/h",
    0x35: "m³/h",
}


# ---------------------------------------------------------------- errors


class FrameError(Exception):
    """Base of every error the codec reports. ``raw`` holds the offending bytes."""

    def __init__(self, message: str, raw: bytes = b"") -> None:
        super().__init__(message)
        self.raw = bytes(raw)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.raw == other.raw  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self.raw))


class ChecksumError(FrameError):
    """A frame whose length and terminator look right but whose CS does not match."""


class TerminatorError(FrameError):
    """A 68 … frame whose byte at the length's end is not 16."""


class LengthError(FrameError):
    """A frame cut short: its length byte promises more bytes than ever arrived."""


class PayloadError(FrameError):
    """A well-formed frame whose data field is not what the DI promises."""


class AddressError(ValueError):
    """An address that is not 14 BCD digits (or 14 × A for broadcast)."""


# ---------------------------------------------------------------- helpers


def checksum(data: bytes | bytearray | memoryview) -> int:
    return sum(data) & 0xFF


def encode_address(address: str) -> bytes:
    """Human order ``A6..A0`` (e.g. ``78330011223344``) → wire order ``A0..A6``."""
    text = address.strip().replace(" ", "").upper()
    if len(text) != 14:
        raise AddressError(
            _("A meter address has 14 digits, not {address!r}.").format(address=address)
        )
    try:
        human = bytes.fromhex(text)
    except ValueError as exc:
        raise AddressError(
            _("The meter address {address!r} is not made of digits (BCD).").format(address=address)
        ) from exc
    return human[::-1]


def decode_address(wire: bytes) -> str:
    return wire[::-1].hex().upper()


def encode_di(di: int, order: DiOrder) -> bytes:
    return di.to_bytes(2, "big" if order == "big" else "little")


def decode_bcd_le(raw: bytes) -> int:
    """BCD digits stored least-significant byte first (``00 34 12 00`` → 123400)."""
    value = 0
    for byte in reversed(raw):
        hi, lo = byte >> 4, byte & 0x0F
        if hi > 9 or lo > 9:
            raise PayloadError(_("Not BCD digits: {hex}").format(hex=raw.hex(" ").upper()), raw)
        value = value * 100 + hi * 10 + lo
    return value


def encode_bcd_le(value: int, length: int) -> bytes:
    if value < 0 or value >= 10 ** (2 * length):
        raise ValueError(f"{value} does not fit in {length} BCD bytes")
    digits = f"{value:0{2 * length}d}"
    return bytes(int(digits[i : i + 2], 16) for i in range(0, 2 * length, 2))[::-1]


def hexstr(raw: bytes) -> str:
    return raw.hex(" ").upper()


# ---------------------------------------------------------------- frames


@dataclass(frozen=True)
class Frame:
    """One CJ/T 188 frame, with the exact bytes it came from (preamble excluded)."""

    meter_type: int
    address: str  # human order A6..A0, 14 hex digits
    control: int
    data: bytes
    raw: bytes = b""

    @property
    def function(self) -> int:
        return self.control & 0x1F

    @property
    def is_reply(self) -> bool:
        return bool(self.control & 0x80)

    @property
    def is_error_reply(self) -> bool:
        return bool(self.control & 0x40)

    def di(self, order: DiOrder) -> int | None:
        if len(self.data) < 2:
            return None
        return int.from_bytes(self.data[:2], "big" if order == "big" else "little")

    def di_order_for(self, di: int) -> DiOrder | None:
        """Which byte order makes this frame's DI equal ``di`` (None if neither)."""
        for order in ("big", "little"):
            if self.di(order) == di:  # type: ignore[arg-type]
                return order  # type: ignore[return-value]
        return None

    @property
    def ser(self) -> int | None:
        return self.data[2] if len(self.data) >= 3 else None

    @property
    def payload(self) -> bytes:
        return self.data[3:]

    def hex(self) -> str:
        return hexstr(
            self.raw
            or encode_frame(self.meter_type, self.address, self.control, self.data, preamble=0)
        )


def encode_frame(
    meter_type: int, address: str, control: int, data: bytes, *, preamble: int = 3
) -> bytes:
    if len(data) > 0xFF:
        raise ValueError("data field longer than 255 bytes")
    body = (
        bytes((START, meter_type & 0xFF))
        + encode_address(address)
        + bytes((control & 0xFF, len(data)))
        + bytes(data)
    )
    return bytes([PREAMBLE]) * preamble + body + bytes((checksum(body), END))


def request_read_data(
    address: str,
    di: int = DI.METERING,
    *,
    order: DiOrder = "big",
    meter_type: int = GAS_METER_TYPE,
    ser: int = 0,
    preamble: int = 3,
) -> bytes:
    return _request(address, Function.READ_DATA, di, b"", order, meter_type, ser, preamble)


def _request(
    address: str,
    function: int,
    di: int,
    payload: bytes,
    order: DiOrder,
    meter_type: int,
    ser: int,
    preamble: int,
) -> bytes:
    """A request to one meter: DI, SER, then the function's own payload."""
    data = encode_di(di, order) + bytes((ser & 0xFF,)) + payload
    return encode_frame(meter_type, address, function, data, preamble=preamble)


def request_read_address(*, order: DiOrder = "big", ser: int = 0, preamble: int = 3) -> bytes:
    """Broadcast read-address (T=AA, A=7×AA, C=03, DI 810A) — answered by the one meter on the line."""
    return _request(
        BROADCAST_ADDRESS,
        Function.READ_ADDRESS,
        DI.ADDRESS,
        b"",
        order,
        WILDCARD_TYPE,
        ser,
        preamble,
    )


def request_valve(
    address: str,
    open_valve: bool,
    *,
    order: DiOrder = "big",
    meter_type: int = GAS_METER_TYPE,
    ser: int = 0,
    preamble: int = 3,
) -> bytes:
    """Valve write (C=04, DI A017, 55 open / 99 close). Callers must confirm first."""
    payload = bytes((VALVE_OPEN if open_valve else VALVE_CLOSE,))
    return _request(
        address, Function.WRITE_DATA, DI.VALVE, payload, order, meter_type, ser, preamble
    )


def request_write_address(
    address: str,
    new_address: str,
    *,
    order: DiOrder = "big",
    meter_type: int = GAS_METER_TYPE,
    ser: int = 0,
    preamble: int = 3,
) -> bytes:
    """Address write (C=15, DI A018, new address A0..A6). Callers must confirm first."""
    payload = encode_address(new_address)
    return _request(
        address, Function.WRITE_ADDRESS, DI.WRITE_ADDRESS, payload, order, meter_type, ser, preamble
    )


# ---------------------------------------------------------------- incremental decoder


class FrameDecoder:
    """Incremental decoder: ``feed(chunk)`` → list of :class:`Frame` or :class:`FrameError`.

    Skips FE/FF preambles and noise, resyncs on 68, checks L, the 16 terminator and CS.
    A candidate 68 that has not yet received its full length does not hide a complete,
    valid frame further on in the buffer (noise before a frame never hides it).

    Frame-shaped input that is dropped is not dropped silently: a 68 … whose byte at the
    length's end is not 16 is kept as a :class:`TerminatorError` in :attr:`rejected` (the
    last few; noise makes many), and :meth:`finish` says why the bytes still waiting are no
    frame (a :class:`LengthError` when the length byte promised more than arrived).
    """

    REJECTED_KEPT = 8

    def __init__(self) -> None:
        self._buf = bytearray()
        self.skipped = 0  # noise bytes dropped so far
        self.rejected: list[FrameError] = []

    def reset(self) -> None:
        self._buf.clear()
        self.rejected.clear()

    def _reject(self, error: FrameError) -> None:
        self.rejected.append(error)
        del self.rejected[: -self.REJECTED_KEPT]

    def finish(self) -> list[FrameError]:
        """At the end of a reply (deadline passed): why the waiting bytes are not a frame.

        Returns a :class:`LengthError` for a 68-headed candidate cut short, and nothing for
        bytes without a frame header. The buffer is cleared.
        """
        buf = bytes(self._buf)
        self._buf.clear()
        out: list[FrameError] = []
        idx = buf.find(bytes((START,)))
        if idx >= 0 and len(buf) - idx >= HEADER_LEN:
            length = buf[idx + 10]
            out.append(
                LengthError(
                    _(
                        "Frame cut short: its length byte says {want} data bytes, "
                        "only {got} arrived: {hex}"
                    ).format(want=length, got=len(buf) - idx - HEADER_LEN, hex=hexstr(buf[idx:])),
                    buf[idx:],
                )
            )
        return out

    @property
    def pending(self) -> bytes:
        return bytes(self._buf)

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[Frame | FrameError]:
        buf = self._buf
        buf += chunk
        out: list[Frame | FrameError] = []
        pos = 0
        n = len(buf)
        find = buf.find
        while True:
            idx = find(START, pos)
            if idx < 0:
                self.skipped += n - pos
                pos = n
                break
            if n - idx < HEADER_LEN:
                self.skipped += idx - pos
                pos = idx
                break
            length = buf[idx + 10]  # every value 0..255 is a length the standard allows
            end = idx + HEADER_LEN + length + 2
            if end > n:
                ahead = self._complete_frame_after(idx + 1, n)
                if ahead is None:
                    self.skipped += idx - pos
                    pos = idx
                    break
                self.skipped += ahead - pos
                pos = ahead
                continue
            if buf[end - 1] != END:
                raw = bytes(buf[idx:end])
                self._reject(
                    TerminatorError(
                        _("No 16 at the end of a frame ({got:02X} instead): {hex}").format(
                            got=raw[-1], hex=hexstr(raw)
                        ),
                        raw,
                    )
                )
                self.skipped += idx + 1 - pos
                pos = idx + 1
                continue
            if (sum(buf[idx : end - 2]) & 0xFF) != buf[end - 2]:
                raw = bytes(buf[idx:end])
                out.append(
                    ChecksumError(
                        _("Checksum {got:02X} should be {want:02X}: {hex}").format(
                            got=raw[-2], want=checksum(raw[:-2]), hex=hexstr(raw)
                        ),
                        raw,
                    )
                )
                self.skipped += idx + 1 - pos
                pos = idx + 1
                continue
            inner = self._inner_frame(idx, end)
            if inner is not None:
                # a whole valid frame inside this one: the outer 68 was noise whose length
                # happened to land on a later frame's 16 with a matching checksum
                self.skipped += inner - pos
                pos = inner
                continue
            raw = bytes(buf[idx:end])
            out.append(
                Frame(
                    meter_type=raw[1],
                    address=raw[8:1:-1].hex().upper(),
                    control=raw[9],
                    data=raw[HEADER_LEN:-2],
                    raw=raw,
                )
            )
            self.skipped += idx - pos
            pos = end
        if pos:
            del buf[:pos]
        return out

    def _inner_frame(self, idx: int, end: int) -> int | None:
        buf = self._buf
        inner = buf.find(START, idx + 1, end - MIN_FRAME + 1)
        while inner >= 0:
            inner_end = inner + HEADER_LEN + buf[inner + 10] + 2
            if (
                inner_end <= end
                and buf[inner_end - 1] == END
                and (sum(buf[inner : inner_end - 2]) & 0xFF) == buf[inner_end - 2]
            ):
                return inner
            inner = buf.find(START, inner + 1, end - MIN_FRAME + 1)
        return None

    def _complete_frame_after(self, start: int, n: int) -> int | None:
        """Offset of the first complete, valid frame at or after ``start`` (or None)."""
        buf = self._buf
        idx = buf.find(START, start)
        while 0 <= idx <= n - MIN_FRAME:
            length = buf[idx + 10]
            end = idx + HEADER_LEN + length + 2
            if (
                end <= n
                and buf[end - 1] == END
                and (sum(buf[idx : end - 2]) & 0xFF) == buf[end - 2]
            ):
                return idx
            idx = buf.find(START, idx + 1)
        return None


def decode_frames(data: bytes) -> list[Frame | FrameError]:
    """Decode a complete byte string (convenience for tests and traces)."""
    return FrameDecoder().feed(data)


# ---------------------------------------------------------------- payloads


class ValveState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    ABNORMAL = "abnormal"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class StatusBitMap:
    """Where the ST word keeps the valve and battery bits (a meter-profile setting)."""

    valve_byte: int = 0
    valve_mask: int = 0x03
    valve_values: dict[int, ValveState] = field(
        default_factory=lambda: {
            0x00: ValveState.OPEN,
            0x01: ValveState.CLOSED,
            0x03: ValveState.ABNORMAL,
        }
    )
    battery_byte: int = 0
    battery_mask: int = 0x04
    vendor_bits: dict[str, tuple[int, int]] = field(default_factory=dict)  # name → (byte, mask)


@dataclass(frozen=True)
class MeterStatus:
    """The ST word decoded; ``raw`` is the two bytes as sent."""

    raw: bytes
    valve: ValveState
    low_battery: bool
    vendor: dict[str, bool]
    other_bits: int  # bits of the ST word not explained by the bit map (vendor-defined)

    @property
    def valve_abnormal(self) -> bool:
        return self.valve is ValveState.ABNORMAL


def decode_status(raw: bytes, bitmap: StatusBitMap | None = None) -> MeterStatus:
    if len(raw) != 2:
        raise PayloadError(_("The status word (ST) is 2 bytes, not {n}.").format(n=len(raw)), raw)
    bm = bitmap or StatusBitMap()
    valve_bits = raw[bm.valve_byte] & bm.valve_mask
    valve = bm.valve_values.get(valve_bits, ValveState.UNKNOWN)
    low_battery = bool(raw[bm.battery_byte] & bm.battery_mask)
    vendor = {name: bool(raw[b] & m) for name, (b, m) in bm.vendor_bits.items()}
    word = [raw[0], raw[1]]
    word[bm.valve_byte] &= ~bm.valve_mask & 0xFF
    word[bm.battery_byte] &= ~bm.battery_mask & 0xFF
    for b, m in bm.vendor_bits.values():
        word[b] &= ~m & 0xFF
    return MeterStatus(
        raw=bytes(raw),
        valve=valve,
        low_battery=low_battery,
        vendor=vendor,
        other_bits=(word[0] << 8) | word[1],
    )


def decode_clock(raw: bytes) -> dt.datetime | None:
    """``ss mm hh DD MM YY CC`` (BCD) → datetime; an all-zero or impossible clock → None."""
    if len(raw) != 7:
        raise PayloadError(_("The meter clock is 7 bytes, not {n}.").format(n=len(raw)), raw)
    try:
        ss, mi, hh, dd, mo, yy, cc = (decode_bcd_le(bytes([b])) for b in raw)
    except PayloadError:
        return None
    try:
        return dt.datetime(cc * 100 + yy, mo, dd, hh, mi, ss)
    except ValueError:
        return None


def encode_clock(when: dt.datetime | None) -> bytes:
    if when is None:
        return bytes(7)
    parts = (
        when.second,
        when.minute,
        when.hour,
        when.day,
        when.month,
        when.year % 100,
        when.year // 100,
    )
    return b"".join(encode_bcd_le(p, 1) for p in parts)


@dataclass(frozen=True)
class Volume:
    value: float
    unit_code: int

    @property
    def unit(self) -> str:
        return UNITS.get(self.unit_code, f"unit 0x{self.unit_code:02X}")

    def __str__(self) -> str:
        return f"{self.value:.2f} {self.unit}"


@dataclass(frozen=True)
class MeteringData:
    """The 901F reply decoded (research §1.6), with the 19 payload bytes kept."""

    current: Volume
    settlement: Volume
    clock: dt.datetime | None
    status: MeterStatus
    raw: bytes


METERING_PAYLOAD_LEN = 19


def decode_metering(
    payload: bytes, bitmap: StatusBitMap | None = None, decimals: int = 2
) -> MeteringData:
    if len(payload) < METERING_PAYLOAD_LEN:
        raise PayloadError(
            _("The metering data (901F) is {want} bytes, not {n}.").format(
                want=METERING_PAYLOAD_LEN, n=len(payload)
            ),
            payload,
        )
    p = payload[:METERING_PAYLOAD_LEN]
    scale = 10**decimals
    return MeteringData(
        current=Volume(decode_bcd_le(p[0:4]) / scale, p[4]),
        settlement=Volume(decode_bcd_le(p[5:9]) / scale, p[9]),
        clock=decode_clock(p[10:17]),
        status=decode_status(p[17:19], bitmap),
        raw=bytes(p),
    )


def encode_metering(
    current: float,
    settlement: float,
    clock: dt.datetime | None,
    st: bytes,
    *,
    unit: int = 0x2C,
    decimals: int = 2,
) -> bytes:
    scale = 10**decimals
    return (
        encode_bcd_le(round(current * scale), 4)
        + bytes((unit,))
        + encode_bcd_le(round(settlement * scale), 4)
        + bytes((unit,))
        + encode_clock(clock)
        + bytes(st)
    )
