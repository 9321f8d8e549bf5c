"""Serial transport: pyserial's ``serial_for_url``, opened exclusively, half-duplex timing.

Any URL pyserial knows works: ``COM3``, ``/dev/ttyUSB0``, a pty path, ``loop://``,
``socket://host:port``, ``rfc2217://…`` and ``spy://COM3`` (hex trace on stderr).
Opening errors become typed :class:`PortError` subclasses whose message tells the
technician what to do; nothing else escapes as a raw ``SerialException``.
"""

from __future__ import annotations

import contextlib
import errno
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import serial

from fieldkit.i18n import _

# Half-duplex RS-485 / M-Bus: a battery meter may need a few hundred ms to wake up and
# answer. A read ends when the caller recognises a whole frame, or at this deadline; there
# is no inter-byte gap rule (meters that send a reply in pieces are common).
DEFAULT_REPLY_TIMEOUT = 1.5


class PortError(Exception):
    """Base of every error opening or using a serial port."""

    def __init__(self, port: str, message: str) -> None:
        super().__init__(message)
        self.port = port


class PortNotFoundError(PortError):
    """The port does not exist (unplugged adapter, wrong name)."""


class PortInUseError(PortError):
    """Another program holds the port open."""


class PortIOError(PortError):
    """Reading or writing failed after the port was open (adapter pulled out)."""


class NoReplyError(PortError):
    """Nothing (or nothing valid) came back within the reply timeout."""


def _in_use_message(port: str) -> str:
    return _(
        "Port {port} is in use by another program. Close the other program that uses it "
        "(vendor card software, a terminal, another fieldkit) and try again."
    ).format(port=port)


def _not_found_message(port: str) -> str:
    return _(
        "Port {port} was not found. Check that the reader or adapter is plugged in, then "
        "run `fieldkit ports` to see the ports this computer has."
    ).format(port=port)


def classify_open_error(port: str, exc: BaseException) -> PortError:
    """Turn whatever pyserial raised while opening into a typed, actionable error."""
    text = str(exc)
    err = getattr(exc, "errno", None)
    if isinstance(exc, PermissionError) or err in (errno.EACCES, errno.EBUSY):
        if sys.platform == "win32" or err == errno.EBUSY:
            return PortInUseError(port, _in_use_message(port))
        return PortInUseError(
            port,
            _(
                "No permission to open {port}. On Linux add your user to the 'dialout' group "
                "(then log in again); if another program uses the port, close it."
            ).format(port=port),
        )
    if "PermissionError" in text or "Access is denied" in text or "exclusively lock" in text:
        return PortInUseError(port, _in_use_message(port))
    if (
        isinstance(exc, FileNotFoundError)
        or err in (errno.ENOENT, errno.ENODEV, errno.ENXIO)
        or "FileNotFoundError" in text
        or "cannot find the file" in text
    ):
        return PortNotFoundError(port, _not_found_message(port))
    if err == errno.ENOTTY or "Inappropriate ioctl" in text:
        return PortNotFoundError(
            port,
            _(
                "{port} is not a serial port. Run `fieldkit ports` to see the ports this "
                "computer has."
            ).format(port=port),
        )
    if port.startswith(("socket://", "rfc2217://")) and (
        "refused" in text or "not known" in text or "timed out" in text or "resolve" in text
    ):
        return PortNotFoundError(
            port,
            _(
                "Nothing answers at {port}. Check the serial server's address and port, and "
                "that it is switched on and on this network."
            ).format(port=port),
        )
    return PortIOError(port, _("Cannot open port {port}: {error}").format(port=port, error=text))


def _bad_port_message(port: str) -> str:
    return _(
        "{port!r} is not a port fieldkit can open. Give a serial port (COM3, /dev/ttyUSB0) or "
        "socket://host:port (port 1-65535); `fieldkit ports` lists this computer's ports."
    ).format(port=port)


def check_port_name(port: str) -> None:
    """Refuse, before any I/O, a port name pyserial would choke on with a library message."""
    from urllib.parse import urlsplit

    text = port.strip()
    if not text or any(ord(ch) < 32 for ch in text):
        raise PortError(port, _bad_port_message(port))
    if "://" not in text:
        return
    scheme = text.split("://", 1)[0].lower()
    if scheme in ("loop", "spy", "alt", "hwgrep"):
        return
    if scheme not in ("socket", "rfc2217"):
        raise PortError(port, _bad_port_message(port))
    try:
        parts = urlsplit(text)
        number = parts.port
    except ValueError:
        number = None
    if not parts.hostname or number is None or not 1 <= number <= 65535:
        raise PortError(port, _bad_port_message(port))


def _open_port(port: Any, baudrate: int) -> None:
    """Open, working around kernels whose ptys reject (EINVAL) a tcsetattr that enables
    parity without changing the speed: open at another speed first, then switch."""
    try:
        import termios
    except ImportError:  # Windows: no ptys, no quirk
        port.open()
        return
    try:
        port.open()
        return
    except termios.error as exc:
        if not exc.args or exc.args[0] != errno.EINVAL:
            raise serial.SerialException(str(exc)) from exc
    last: BaseException | None = None
    for other in (baudrate * 2, baudrate * 4):
        try:
            port.baudrate = other
            port.open()
            port.baudrate = baudrate
            return
        except termios.error as exc:
            last = exc
            if port.is_open:
                port.close()
    raise serial.SerialException(f"could not configure port: {last}")


@dataclass
class Traffic:
    """Every byte sent and received, with the time it happened (for --raw and records)."""

    entries: list[tuple[float, str, bytes]] = field(default_factory=list)

    def add(self, direction: str, data: bytes) -> None:
        if data:
            self.entries.append((time.time(), direction, bytes(data)))


class SerialTransport:
    """One open serial port. Use as a context manager; ``close()`` is idempotent."""

    def __init__(
        self,
        url: str,
        *,
        baudrate: int = 2400,
        parity: str = "E",
        bytesize: int = 8,
        stopbits: int = 1,
        reply_timeout: float = DEFAULT_REPLY_TIMEOUT,
    ) -> None:
        self.url = url
        self.reply_timeout = reply_timeout
        self.traffic = Traffic()
        check_port_name(url)
        try:
            port = serial.serial_for_url(url, do_not_open=True)
            port.baudrate = baudrate
            port.parity = parity
            port.bytesize = bytesize
            port.stopbits = stopbits
            port.timeout = 0.01
            port.write_timeout = 2.0
            if hasattr(port, "exclusive") and not url.startswith(("loop://", "socket://")):
                port.exclusive = True
            _open_port(port, baudrate)
        except (serial.SerialException, OSError) as exc:
            raise classify_open_error(url, exc) from exc
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # pyserial's URL handlers let their parsing errors out raw ('<=' not supported…)
            raise PortError(url, _bad_port_message(url)) from exc
        self._port: Any = port

    # -- context manager
    def __enter__(self) -> SerialTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        port = getattr(self, "_port", None)
        if port is not None and port.is_open:
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()

    @property
    def baudrate(self) -> int:
        return int(self._port.baudrate)

    def set_baudrate(self, baudrate: int) -> None:
        if baudrate == self._port.baudrate:
            return  # re-applying identical settings makes some Linux ptys answer EINVAL
        try:
            self._port.baudrate = baudrate
        except Exception as exc:  # termios.error is not an OSError
            raise PortIOError(self.url, str(exc)) from exc

    def drain(self) -> bytes:
        """Whatever has arrived and not been read yet, without waiting (logged as rx)."""
        try:
            waiting = self._port.in_waiting
            chunk = self._port.read(waiting) if waiting else b""
        except (serial.SerialException, OSError, TypeError) as exc:
            raise self._read_failed(exc) from exc
        self.traffic.add("rx", chunk)
        return bytes(chunk)

    def _read_failed(self, exc: BaseException) -> PortIOError:
        return PortIOError(
            self.url,
            _("Reading from {port} failed ({error}); is the adapter still plugged in?").format(
                port=self.url, error=exc
            ),
        )

    def write(self, data: bytes, *, flush: bool = True) -> None:
        """Send ``data``; with ``flush`` (the default) stale input is discarded first."""
        try:
            if flush:
                self._port.reset_input_buffer()
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise PortIOError(
                self.url,
                _("Writing to {port} failed ({error}); is the adapter still plugged in?").format(
                    port=self.url, error=exc
                ),
            ) from exc
        self.traffic.add("tx", data)

    def read_until(
        self,
        done: Callable[[bytes], bool],
        timeout: float | None = None,
        *,
        deadline: float | None = None,
    ) -> bytes:
        """Read chunks, calling ``done(chunk)`` on each, until it returns True or the deadline
        (``time.monotonic()`` value; default now + ``timeout``) passes. The caller decides when
        a reply is complete (a whole frame), never a gap between bytes."""
        if deadline is None:
            deadline = time.monotonic() + (self.reply_timeout if timeout is None else timeout)
        received = bytearray()
        port = self._port
        while True:
            try:
                waiting = port.in_waiting
                chunk = port.read(waiting or 1)
            except (serial.SerialException, OSError, TypeError) as exc:
                raise self._read_failed(exc) from exc
            if chunk:
                received += chunk
                self.traffic.add("rx", chunk)
                if done(bytes(chunk)):
                    break
            if time.monotonic() >= deadline:
                break
        return bytes(received)


@dataclass(frozen=True)
class PortInfo:
    device: str
    description: str
    vid_pid: str | None
    serial_number: str | None

    def label(self) -> str:
        parts = [self.device]
        if self.vid_pid:
            parts.append(self.vid_pid)
        if self.description and self.description != "n/a":
            parts.append(self.description)
        return "  ".join(parts)


def list_ports() -> list[PortInfo]:
    """Serial ports on this computer with USB VID:PID when known (COM ports on Windows)."""
    from serial.tools import list_ports as lp

    found = []
    for info in sorted(lp.comports(), key=lambda p: p.device):
        vid_pid = f"{info.vid:04X}:{info.pid:04X}" if info.vid is not None else None
        found.append(
            PortInfo(
                device=info.device,
                description=info.description or "",
                vid_pid=vid_pid,
                serial_number=info.serial_number,
            )
        )
    return found
