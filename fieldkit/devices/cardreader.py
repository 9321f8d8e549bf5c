"""IC-card readers: one :class:`CardReader` interface, a serial ACR30 backend, a PC/SC backend.

Both backends read SLE4442 memory cards with the ACS pseudo-APDUs (research/protocols.md
§3.4 A): ``FF A4 00 00 01 06`` selects SLE4432/4442/5532/5542, ``FF B0 00 addr len`` reads.
Reading needs no PSC. **fieldkit never presents a PSC on its own**: three wrong
presentations lock a customer's card for good, so there is no code path that sends
``FF 20`` without a technician typing the code and confirming (and the CLI does not offer
it at all).

Serial backend — ACS ACR30 RS-232 framing (research §3.4 C): a command ``01 INS LEN DATA
CHK`` (CHK = XOR of all bytes) travels as ASCII hex between STX and ETX; a reply is
``01 SW1 SW2 LEN DATA CHK`` (e.g. ``01 90 00 03 11 22 33 92``), SW1 90 = OK, 60 = data error,
67 = execution error, FF = status message. **[U]** The ACR30 instruction that carries a
memory-card pseudo-APDU is not in the pages we have; fieldkit uses ``INS A0`` as the ACR38
reference does for the same purpose (research §3.4 B), and the line speed defaults to
9600 8N1. Check both against the reader's manual before relying on a real ACR30.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from fieldkit.devices.cjt188 import hexstr
from fieldkit.devices.transport import NoReplyError, PortError, SerialTransport
from fieldkit.i18n import _

SLE4442_SIZE = 256
STX, ETX = 0x02, 0x03
ACR30_HEADER = 0x01
INS_MEMORY_CARD = 0xA0  # [U] see the module docstring

APDU_SELECT_SLE4442 = bytes.fromhex("FF A4 00 00 01 06")


def apdu_read(address: int, length: int) -> bytes:
    if not (0 <= address < SLE4442_SIZE and 1 <= length <= 0xFF):
        raise ValueError(f"bad read {address=} {length=}")
    return bytes((0xFF, 0xB0, 0x00, address, length))


# ---------------------------------------------------------------- errors


class CardError(Exception):
    """Base of every card-reading error; the message says what to do."""


class ReaderUnavailableError(CardError):
    """No reader: backend not installed, reader unplugged, or no reader at that name."""


class NoCardError(CardError):
    """The reader answered but found no card (or a card it cannot talk to)."""


class WrongCardError(NoCardError):
    """A card is there, but the reader cannot select it as an SLE4442 (another chip)."""


class CardRemovedError(NoCardError):
    """The card was taken out (or lost contact) in the middle of a read."""


class ReaderProtocolError(CardError):
    """A reply that does not follow the reader's framing (bad checksum, bad hex, short)."""


class ReaderStatusError(CardError):
    """The reader reported an error status."""

    def __init__(self, message: str, sw1: int, sw2: int) -> None:
        super().__init__(message)
        self.sw1, self.sw2 = sw1, sw2


# ---------------------------------------------------------------- ACR30 framing (sans-IO)


def xor(data: bytes) -> int:
    value = 0
    for b in data:
        value ^= b
    return value


def acr30_encode_command(ins: int, data: bytes = b"") -> bytes:
    """``01 INS LEN DATA CHK`` as ASCII hex between STX and ETX."""
    if len(data) > 0xFF:
        raise ValueError("ACR30 command data is at most 255 bytes")
    body = bytes((ACR30_HEADER, ins, len(data))) + data
    body += bytes((xor(body),))
    return bytes((STX,)) + body.hex().upper().encode("ascii") + bytes((ETX,))


@dataclass(frozen=True)
class Acr30Reply:
    sw1: int
    sw2: int
    data: bytes
    raw: bytes  # the binary frame (after hex decoding), for traces

    @property
    def ok(self) -> bool:
        return self.sw1 == 0x90


def acr30_encode_reply(sw1: int, sw2: int, data: bytes = b"") -> bytes:
    body = bytes((ACR30_HEADER, sw1, sw2, len(data))) + data
    body += bytes((xor(body),))
    return bytes((STX,)) + body.hex().upper().encode("ascii") + bytes((ETX,))


def acr30_parse_body(binary: bytes) -> bytes:
    """Validate a hex-decoded frame's header and XOR check; return it (raises on error)."""
    if len(binary) < 4 or binary[0] != ACR30_HEADER:
        raise ReaderProtocolError(
            _("Card reader sent a malformed frame: {hex}").format(hex=hexstr(binary))
        )
    if xor(binary) != 0:
        raise ReaderProtocolError(
            _("Card reader frame has a bad check byte: {hex}").format(hex=hexstr(binary))
        )
    return binary


def acr30_parse_reply(binary: bytes) -> Acr30Reply:
    body = acr30_parse_body(binary)
    if len(body) < 5 or body[3] != len(body) - 5:
        raise ReaderProtocolError(
            _("Card reader reply has a wrong length: {hex}").format(hex=hexstr(body))
        )
    return Acr30Reply(body[1], body[2], body[4:-1], body)


class Acr30Decoder:
    """Incremental STX…ETX decoder: ``feed(chunk)`` → hex-decoded binary frames or errors."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> list[bytes | ReaderProtocolError]:
        self._buf += chunk
        out: list[bytes | ReaderProtocolError] = []
        while True:
            start = self._buf.find(STX)
            if start < 0:
                self._buf.clear()
                break
            end = self._buf.find(ETX, start + 1)
            if end < 0:
                del self._buf[:start]
                break
            text = bytes(self._buf[start + 1 : end])
            del self._buf[: end + 1]
            try:
                out.append(bytes.fromhex(text.decode("ascii")))
            except (UnicodeDecodeError, ValueError):
                out.append(
                    ReaderProtocolError(
                        _("Card reader sent something that is not hex: {text!r}").format(text=text)
                    )
                )
        return out


# Reader status → typed error (iec62056-21 ERROR_MAP style).
ACR30_STATUS: dict[int, tuple[type[CardError], str]] = {
    0x60: (ReaderStatusError, "The card reader reports a data error (SW {sw})."),
    0x67: (
        NoCardError,
        "The card reader could not execute the command (SW {sw}): is an SLE4442 card inserted "
        "the right way round (chip up, towards the reader)?",
    ),
    0xFF: (ReaderStatusError, "The card reader sent a status message instead of data (SW {sw})."),
}


def raise_for_status(reply: Acr30Reply) -> None:
    if reply.ok:
        return
    kind, message = ACR30_STATUS.get(
        reply.sw1, (ReaderStatusError, "The card reader answered with status {sw}.")
    )
    text = _(message).format(sw=f"{reply.sw1:02X} {reply.sw2:02X}")
    if kind is ReaderStatusError:
        raise ReaderStatusError(text, reply.sw1, reply.sw2)
    raise kind(text)


# ---------------------------------------------------------------- the card image


@dataclass(frozen=True)
class CardExchange:
    command: bytes
    reply: bytes

    def to_dict(self) -> dict[str, str]:
        return {"command": hexstr(self.command), "reply": hexstr(self.reply)}


@dataclass(frozen=True)
class CardImage:
    """What was read from a memory card: all 256 bytes, plus every exchange as bytes."""

    chip: str
    memory: bytes
    reader: str
    exchanges: list[CardExchange] = field(default_factory=list)
    taken_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def hexdump(self, width: int = 16) -> str:
        lines = []
        for offset in range(0, len(self.memory), width):
            lines.append(f"{offset:02X}: {hexstr(self.memory[offset : offset + width])}")
        return "\n".join(lines)


class CardReader(Protocol):
    """Anything that can read a memory card's image. Backends must never present a PSC."""

    name: str

    def read_card(self) -> CardImage: ...

    def close(self) -> None: ...


# ---------------------------------------------------------------- serial ACR30 backend


class Acr30SerialReader:
    """An ACS ACR30 on a serial port (COM3, /dev/ttyUSB0, a pty, socket://…)."""

    def __init__(self, port: str, *, baudrate: int = 9600, reply_timeout: float = 1.0) -> None:
        self.name = f"ACR30 ({port})"  # the same in every language
        self.port = port
        self._transport = SerialTransport(
            port, baudrate=baudrate, parity="N", reply_timeout=reply_timeout
        )
        self._exchanges: list[CardExchange] = []
        self.wire: list[CardExchange] = []  # ACR30 frames as sent and received

    def __enter__(self) -> Acr30SerialReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    def _command(self, ins: int, data: bytes) -> Acr30Reply:
        wire = acr30_encode_command(ins, data)
        decoder = Acr30Decoder()
        frames: list[bytes | ReaderProtocolError] = []

        def done(chunk: bytes) -> bool:
            frames.extend(decoder.feed(chunk))
            return bool(frames)

        self._transport.write(wire)
        received = self._transport.read_until(done)
        self.wire.append(CardExchange(wire, received))
        if not frames:
            raise ReaderUnavailableError(
                _(
                    "The card reader on {port} did not answer. Check that it is an ACR30, "
                    "powered, and plugged into this port."
                ).format(port=self.port)
            )
        first = frames[0]
        if isinstance(first, ReaderProtocolError):
            raise first
        return acr30_parse_reply(first)

    def transmit(self, apdu: bytes) -> bytes:
        """Send one pseudo-APDU; returns the card's response (data + SW1 SW2)."""
        if apdu[:2] == b"\xff\x20":
            raise CardError(_("Presenting a PSC is not done by the card reader backend."))
        reply = self._command(INS_MEMORY_CARD, apdu)
        raise_for_status(reply)
        return reply.data

    def read_card(self) -> CardImage:
        self._exchanges = []
        try:
            return _read_sle4442(self.transmit, self.name, self._exchanges)
        except (PortError, NoReplyError) as exc:
            raise ReaderUnavailableError(str(exc)) from exc


def _check_sw(response: bytes, what: str) -> bytes:
    if len(response) < 2:
        raise ReaderProtocolError(_("Short card response to {what}").format(what=what))
    if response[-2:] != b"\x90\x00":
        sw = hexstr(response[-2:])
        if response[-2] in (0x62, 0x69, 0x6A, 0x6F):
            raise WrongCardError(
                _(
                    "The card did not answer as an SLE4442 (SW {sw}). It may be a different chip "
                    "(102, 24C, Mifare, CPU card) or inserted wrongly."
                ).format(sw=sw)
            )
        raise ReaderStatusError(
            _("The card answered {sw} to {what}").format(sw=sw, what=what),
            response[-2],
            response[-1],
        )
    return response[:-2]


def _read_sle4442(
    transmit: Callable[[bytes], bytes], reader: str, exchanges: list[CardExchange]
) -> CardImage:
    def send(apdu: bytes) -> bytes:
        response = transmit(apdu)
        exchanges.append(CardExchange(apdu, response))
        return response

    _check_sw(send(APDU_SELECT_SLE4442), "select SLE4442")
    memory = b""
    for address in (0x00, 0x80):
        memory += _check_sw(send(apdu_read(address, 0x80)), "read")[:0x80]
    if len(memory) != SLE4442_SIZE:
        raise ReaderProtocolError(
            _("Read {n} bytes from the card instead of 256").format(n=len(memory))
        )
    return CardImage("SLE4442", memory, reader, list(exchanges))


# ---------------------------------------------------------------- PC/SC backend


class PcscReader:
    """A PC/SC reader (CCID) through pyscard, with the ACS pseudo-APDUs.

    pyscard is an optional extra (``pip install 'fieldkit[pcsc]'``) imported only here.
    ``reader`` chooses among the connected readers: ``None`` → the first, ``"0"``, ``"1"`` …
    → by position in the PC/SC reader list, otherwise the exact name or a part of it (any
    case; the first reader whose name contains it).
    """

    def __init__(self, reader: str | None = None) -> None:
        try:
            from smartcard.System import readers
        except ImportError as exc:
            raise ReaderUnavailableError(
                _(
                    "PC/SC support is not installed. Install it with: pip install "
                    "'fieldkit[pcsc]' (on Linux also the pcscd service)."
                )
            ) from exc
        try:
            available = list(readers())
        except Exception as exc:  # pyscard raises its own types when pcscd is down
            raise ReaderUnavailableError(
                _("The PC/SC service is not running or not reachable: {error}").format(error=exc)
            ) from exc
        if not available:
            raise ReaderUnavailableError(_("No PC/SC card reader is connected."))
        self._reader: Any = choose_reader(available, reader)
        self.name = str(self._reader)
        self._connection: Any = None

    def __enter__(self) -> PcscReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> Any:
        if self._connection is None:
            connection = self._reader.createConnection()
            try:
                connection.connect()
            except Exception as exc:
                _release(connection)
                raise NoCardError(
                    _("No card in {reader}, or the card cannot be powered: {error}").format(
                        reader=self.name, error=exc
                    )
                ) from exc
            self._connection = connection
        return self._connection

    def transmit(self, apdu: bytes) -> bytes:
        if apdu[:2] == b"\xff\x20":
            raise CardError(_("Presenting a PSC is not done by the card reader backend."))
        connection = self._connect()
        try:
            data, sw1, sw2 = connection.transmit(list(apdu))
        except Exception as exc:  # pyscard's CardConnectionException: card gone, reader gone
            self.close()
            raise CardRemovedError(
                _(
                    "The card was taken out of {reader} during the read (or lost contact): "
                    "put it back and read again. ({error})"
                ).format(reader=self.name, error=exc)
            ) from exc
        return bytes(data) + bytes((sw1, sw2))

    def read_card(self) -> CardImage:
        return _read_sle4442(self.transmit, self.name, [])

    def close(self) -> None:
        """Disconnect; never raises (the card may already be gone)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            _release(connection)


def _release(connection: Any) -> None:
    """Disconnect and free the PC/SC context now (pyscard would otherwise do it in
    ``__del__``, and complain there if pcscd has gone meanwhile)."""
    with contextlib.suppress(Exception):
        connection.disconnect()
    with contextlib.suppress(Exception):
        (getattr(connection, "release", None) or (lambda: None))()


def choose_reader(available: list[Any], wanted: str | None) -> Any:
    """Pick a PC/SC reader: ``None`` → the first; ``"2"`` → by index; else by (part of) name."""
    if not wanted:
        return available[0]
    names = ", ".join(f"{i}: {r}" for i, r in enumerate(available))
    if wanted.strip().isdigit():
        index = int(wanted)
        if index >= len(available):
            raise ReaderUnavailableError(
                _("There is no reader number {index}; connected: {names}").format(
                    index=index, names=names
                )
            )
        return available[index]
    exact = [r for r in available if str(r).lower() == wanted.lower()]
    matches = exact or [r for r in available if wanted.lower() in str(r).lower()]
    if not matches:
        raise ReaderUnavailableError(
            _("No PC/SC reader named {name}; connected: {names}").format(name=wanted, names=names)
        )
    return matches[0]


def open_reader(port: str | None, *, backend: str = "acr30", baudrate: int = 9600) -> CardReader:
    """``backend="acr30"`` needs ``port``; ``backend="pcsc"``: an optional reader index or name."""
    if backend == "pcsc":
        return PcscReader(port)
    if backend == "acr30":
        if not port:
            raise ReaderUnavailableError(_("Give the card reader's port with --port."))
        try:
            return Acr30SerialReader(port, baudrate=baudrate)
        except PortError as exc:
            raise ReaderUnavailableError(str(exc)) from exc
    raise ReaderUnavailableError(_("Unknown card reader backend {name}").format(name=backend))


# ---------------------------------------------------------------- an in-memory SLE4442


@dataclass
class Sle4442:
    """An in-memory SLE4442 answering the ACS pseudo-APDUs (for the emulator and tests).

    256 bytes of main memory, 32 protection bits, a 3-byte PSC and a 3-try error counter.
    Writes need the PSC; three wrong presentations lock the card for good.
    """

    memory: bytearray = field(default_factory=lambda: bytearray(b"\xff" * SLE4442_SIZE))
    psc: bytes = b"\xff\xff\xff"
    error_counter: int = 0b111
    verified: bool = False
    selected: bool = False

    @property
    def locked(self) -> bool:
        return self.error_counter == 0

    def apdu(self, apdu: bytes) -> bytes:
        if len(apdu) < 4 or apdu[0] != 0xFF:
            return b"\x6e\x00"
        ins = apdu[1]
        if ins == 0xA4:
            if apdu[4:6] == b"\x01\x06":
                self.selected = True
                return b"\x90\x00"
            return b"\x6a\x81"
        if not self.selected:
            return b"\x69\x85"
        if ins == 0xB0 and len(apdu) == 5:
            address, length = apdu[3], apdu[4]
            end = min(SLE4442_SIZE, address + length)
            return bytes(self.memory[address:end]) + b"\x90\x00"
        if ins == 0x20 and len(apdu) == 8:
            if self.locked:
                return b"\x90\x00"
            if apdu[5:8] == self.psc:
                self.error_counter = 0b111
                self.verified = True
                return b"\x90\x07"
            self.error_counter = (self.error_counter << 1) & 0b111
            return bytes((0x90, self.error_counter))
        if ins == 0xD0 and len(apdu) >= 5:
            if not self.verified:
                return b"\x69\x82"
            address, length = apdu[3], apdu[4]
            self.memory[address : address + length] = apdu[5 : 5 + length]
            return b"\x90\x00"
        return b"\x6d\x00"
