"""Reading a gas meter over CJ/T 188: one request, one reply, raw bytes kept beside the values.

Layers: :class:`MeterLink` (transport + profile + codec) → :func:`read_meter`,
:func:`scan_address`, :func:`probe`. Read-only by default: :meth:`MeterLink.set_valve`
needs a ``confirm`` callback that returns True, and the CLI asks the technician first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fieldkit.devices import cjt188
from fieldkit.devices.cjt188 import DI, Frame, FrameDecoder, FrameError, MeteringData
from fieldkit.devices.profiles import MeterProfile, load_profiles
from fieldkit.devices.transport import NoReplyError, PortError, SerialTransport
from fieldkit.i18n import _


class MeterError(Exception):
    """A meter answered, but not with what was asked (error reply, wrong DI, bad payload)."""


class NotConfirmedError(MeterError):
    """A write was refused because the technician did not confirm it."""


@dataclass(frozen=True)
class RawExchange:
    """One request and what came back, as bytes (the technician can always see them)."""

    request: bytes
    reply: bytes
    frame: Frame | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "request": cjt188.hexstr(self.request),
            "reply": cjt188.hexstr(self.reply),
        }


@dataclass(frozen=True)
class MeterReading:
    """What a meter said: the decoded 901F data, its address, and every exchange."""

    port: str
    profile_id: str
    baudrate: int
    address: str
    metering: MeteringData
    exchanges: list[RawExchange] = field(default_factory=list)
    taken_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def to_dict(self) -> dict[str, Any]:
        m = self.metering
        return {
            "kind": "meter",
            "port": self.port,
            "profile": self.profile_id,
            "baudrate": self.baudrate,
            "address": self.address,
            "taken_at": self.taken_at.isoformat(),
            "current_volume": m.current.value,
            "current_unit": m.current.unit,
            "settlement_volume": m.settlement.value,
            "settlement_unit": m.settlement.unit,
            "meter_clock": m.clock.isoformat() if m.clock else None,
            "valve": m.status.valve.value,
            "low_battery": m.status.low_battery,
            "status_raw": cjt188.hexstr(m.status.raw),
            "status_vendor": m.status.vendor,
            "status_other_bits": f"{m.status.other_bits:04X}",
            "frames": [e.to_dict() for e in self.exchanges],
        }


class MeterLink:
    """A meter on an open transport, spoken to with one profile."""

    def __init__(self, transport: SerialTransport, profile: MeterProfile) -> None:
        self.transport = transport
        self.profile = profile
        self.exchanges: list[RawExchange] = []
        self._ser = 0

    def _next_ser(self) -> int:
        self._ser = (self._ser + 1) & 0xFF
        return self._ser

    def exchange(
        self, request: bytes, *, want_function: int, timeout: float | None = None
    ) -> Frame:
        """Send ``request`` and return the first reply frame for ``want_function``.

        Our own request echoed back by an RS-485 adapter is ignored (direction bit clear).
        A corrupt reply with no good frame after it raises the codec's :class:`FrameError`.
        """
        decoder = FrameDecoder()
        found: list[Frame] = []
        errors: list[FrameError] = []

        def done(chunk: bytes) -> bool:
            for item in decoder.feed(chunk):
                if isinstance(item, FrameError):
                    errors.append(item)
                elif item.is_reply and item.function == want_function:
                    found.append(item)
            return bool(found)

        self.transport.write(request)
        reply = self.transport.read_until(done, timeout)
        frame = found[0] if found else None
        self.exchanges.append(RawExchange(request, reply, frame))
        if frame is None:
            if errors:
                raise errors[-1]
            raise NoReplyError(
                self.transport.url,
                _("No reply from the meter on {port} at {baud} baud.").format(
                    port=self.transport.url, baud=self.transport.baudrate
                )
                + (
                    " " + _("Received: {hex}").format(hex=cjt188.hexstr(reply))
                    if reply
                    else " " + _("Check the wiring (A/B), the meter address and the profile.")
                ),
            )
        if frame.is_error_reply:
            raise MeterError(
                _("The meter answered with an error (C={control:02X}): {hex}").format(
                    control=frame.control, hex=frame.hex()
                )
            )
        return frame

    def read_address(self, timeout: float | None = None) -> str:
        p = self.profile
        request = cjt188.request_read_address(
            order=p.di_order, ser=self._next_ser(), preamble=p.preamble
        )
        frame = self.exchange(request, want_function=cjt188.Function.READ_ADDRESS, timeout=timeout)
        return frame.address

    def _request_options(self) -> dict[str, Any]:
        """The profile's framing, and the next sequence number, for a request to one meter."""
        p = self.profile
        return {
            "order": p.di_order,
            "meter_type": p.meter_type,
            "ser": self._next_ser(),
            "preamble": p.preamble,
        }

    def read_metering(self, address: str, timeout: float | None = None) -> MeteringData:
        p = self.profile
        request = cjt188.request_read_data(address, DI.METERING, **self._request_options())
        frame = self.exchange(request, want_function=cjt188.Function.READ_DATA, timeout=timeout)
        if frame.di(p.di_order) != DI.METERING:
            raise MeterError(
                _("The meter answered DI {got} instead of 901F: {hex}").format(
                    got=frame.data[:2].hex(" ").upper(), hex=frame.hex()
                )
            )
        return cjt188.decode_metering(frame.payload, p.bitmap(), p.volume_decimals)

    def _confirmed_write(
        self,
        what: str,
        confirm: Callable[[str], bool],
        encode: Callable[..., bytes],
        want_function: int,
    ) -> Frame:
        """Ask ``confirm(what)``; only on True is the request from ``encode`` sent."""
        if not confirm(what):
            raise NotConfirmedError(_("Not confirmed: nothing was sent to the meter."))
        return self.exchange(encode(**self._request_options()), want_function=want_function)

    def set_valve(self, address: str, open_valve: bool, *, confirm: Callable[[str], bool]) -> Frame:
        """Open or close the valve. ``confirm`` receives a description and must return True."""
        what = (
            _("OPEN the valve of meter {address}")
            if open_valve
            else _("CLOSE the valve of meter {address}")
        ).format(address=address)
        return self._confirmed_write(
            what,
            confirm,
            lambda **framing: cjt188.request_valve(address, open_valve, **framing),
            cjt188.Function.WRITE_DATA,
        )

    def write_address(
        self, address: str, new_address: str, *, confirm: Callable[[str], bool]
    ) -> Frame:
        """Give the meter at ``address`` a new address (never by broadcast)."""
        cjt188.encode_address(new_address)  # a bad new address fails before asking
        if address.upper() == cjt188.BROADCAST_ADDRESS:
            raise MeterError(_("An address write needs the meter's own address, not broadcast."))
        what = _("change the address of meter {address} to {new}").format(
            address=address, new=new_address
        )
        return self._confirmed_write(
            what,
            confirm,
            lambda **framing: cjt188.request_write_address(address, new_address, **framing),
            cjt188.Function.WRITE_ADDRESS,
        )


def open_transport(
    port: str, profile: MeterProfile, baudrate: int | None = None
) -> SerialTransport:
    return SerialTransport(
        port,
        baudrate=baudrate or profile.bauds[0],
        parity=profile.parity,
        bytesize=profile.bytesize,
        stopbits=profile.stopbits,
    )


def read_meter(
    port: str,
    profile: MeterProfile,
    *,
    address: str | None = None,
    baudrate: int | None = None,
    timeout: float | None = None,
) -> MeterReading:
    """Read 901F from one meter. Without ``address`` the meter is found by broadcast first."""
    with open_transport(port, profile, baudrate) as transport:
        link = MeterLink(transport, profile)
        if address is None:
            address = link.read_address(timeout)
        metering = link.read_metering(address, timeout)
        return MeterReading(
            port=port,
            profile_id=profile.id,
            baudrate=transport.baudrate,
            address=address,
            metering=metering,
            exchanges=list(link.exchanges),
        )


@dataclass(frozen=True)
class ProbeResult:
    profile: MeterProfile
    baudrate: int
    address: str
    exchanges: list[RawExchange]


def probe(
    port: str,
    profiles: Iterable[MeterProfile] | None = None,
    *,
    bauds: Iterable[int] | None = None,
    timeout: float = 0.6,
) -> ProbeResult:
    """Find the baud rate and DI order a meter answers to (broadcast read-address).

    Tries every baud rate (each profile's list, or ``bauds``) with every probing profile,
    8E1 unless the profile says otherwise. The port is opened once and re-configured.
    """
    candidates = [p for p in (profiles or load_profiles().profiles) if p.probe]
    if not candidates:
        raise MeterError(_("No meter profile is marked for probing."))
    rates = list(bauds) if bauds else sorted({b for p in candidates for b in p.bauds})
    tried: list[RawExchange] = []
    first = candidates[0]
    with open_transport(port, first, rates[0]) as transport:
        for baud in rates:
            transport.set_baudrate(baud)
            for profile in candidates:
                if not bauds and baud not in profile.bauds:
                    continue
                link = MeterLink(transport, profile)
                try:
                    address = link.read_address(timeout)
                except (NoReplyError, FrameError, MeterError):
                    tried.extend(link.exchanges)
                    continue
                tried.extend(link.exchanges)
                return ProbeResult(profile, baud, address, tried)
    raise NoReplyError(
        port,
        _("No meter answered on {port} at {bauds} baud with profiles {profiles}.").format(
            port=port,
            bauds="/".join(str(b) for b in rates),
            profiles=", ".join(p.id for p in candidates),
        ),
    )


__all__ = [
    "MeterError",
    "MeterLink",
    "MeterReading",
    "NotConfirmedError",
    "PortError",
    "ProbeResult",
    "RawExchange",
    "probe",
    "read_meter",
]
