"""Reading a gas meter over CJ/T 188: requests matched to their replies, raw bytes kept.

Layers: :class:`MeterLink` (transport + profile + codec; :meth:`MeterLink.transact` sends
requests and credits each reply to the request it answers) → :func:`read_meter` (find the
meter: read-address, then a 901F read in the profile's DI order that *confirms* the profile,
the other order on silence) and :func:`probe`. Read-only by default:
:meth:`MeterLink.set_valve` needs a ``confirm`` callback that returns True.

A reply belongs to a request when its control code is the request's with the reply bit, its
address is the request's (any address for a broadcast), and its DI bytes and SER are the
request's (SER when the profile says the meter echoes it). Anything else on the line (our
own echo, noise, a late reply to another request) is ignored. A read ends on a whole frame
or at a deadline, never on a pause between bytes.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from fieldkit.devices import cjt188
from fieldkit.devices.cjt188 import (
    DI,
    ChecksumError,
    Frame,
    FrameDecoder,
    FrameError,
    MeteringData,
)
from fieldkit.devices.profiles import MeterProfile, load_profiles
from fieldkit.devices.transport import NoReplyError, PortError, SerialTransport
from fieldkit.i18n import _

BAUD_RATES = (1200, 2400, 4800, 9600, 19200)
REPLY_ESTIMATE = 40  # bytes of the longest reply waited for (901F with 4 × FE)


class MeterError(Exception):
    """A meter answered, but not with what was asked (error reply, wrong DI, bad payload)."""


class NotConfirmedError(MeterError):
    """A write was refused because the technician did not confirm it."""


class NoDataError(MeterError):
    """The meter answered read-address but not the 901F data read in any DI order."""


def _request_frame(request: bytes) -> Frame:
    items = cjt188.decode_frames(request)
    frame = items[0] if items else None
    if not isinstance(frame, Frame):  # pragma: no cover - our own encoder made it
        raise ValueError("not a frame")
    return frame


def answers(request: Frame, reply: Frame, *, check_ser: bool = True) -> bool:
    """Does ``reply`` answer ``request``? (control code, address, DI, SER)."""
    if not reply.is_reply or reply.function != request.function:
        return False
    if request.address != cjt188.BROADCAST_ADDRESS and reply.address != request.address:
        return False
    if reply.is_error_reply:  # error replies carry no DI (vendors differ on their body)
        return True
    if reply.data[:2] != request.data[:2]:
        return False
    return not (check_ser and len(request.data) >= 3 and reply.ser != request.ser)


@dataclass(frozen=True)
class RawExchange:
    """One request sent and every byte that came back while it was the latest one."""

    request: bytes
    reply: bytes
    frame: Frame | None
    baudrate: int = 0
    attempt: int = 1  # 2, 3 … for a resend
    error: str = ""  # the checksum or framing error seen, if any

    def to_dict(self) -> dict[str, Any]:
        return {
            "request": cjt188.hexstr(self.request),
            "reply": cjt188.hexstr(self.reply),
            "baud": self.baudrate,
            "attempt": self.attempt,
            "answered": self.frame is not None,
            "error": self.error,
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
    from_cache: bool = False

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
    """A meter on an open transport, spoken to with one profile (or several, when probing).

    ``timeout`` overrides the profile's deadlines, ``retries`` its resend count.
    """

    def __init__(
        self,
        transport: SerialTransport,
        profile: MeterProfile,
        *,
        timeout: float | None = None,
        retries: int | None = None,
    ) -> None:
        self.transport = transport
        self.profile = profile
        self.timeout = timeout
        self.retries = profile.timing.retries if retries is None else retries
        self.exchanges: list[RawExchange] = []
        self.errors: list[FrameError] = []  # corrupt frames seen (for the failure message)
        self.heard = False  # any byte other than the echo of our own request came back
        self.found_address: str | None = None  # a meter answered read-address
        self._ser = 0

    def _next_ser(self) -> int:
        self._ser = (self._ser + 1) & 0xFF
        return self._ser

    def wire_time(self, nbytes: int) -> float:
        p = self.profile
        bits = 1 + p.bytesize + (0 if p.parity == "N" else 1) + p.stopbits
        return nbytes * bits / self.transport.baudrate

    @property
    def reply_wait(self) -> float:
        return self.profile.timing.reply if self.timeout is None else self.timeout

    @property
    def probe_wait(self) -> float:
        return self.profile.timing.probe if self.timeout is None else self.timeout

    def transact(
        self,
        requests: Sequence[bytes],
        *,
        window: float,
        wait: float,
        silence_retries: int,
        corrupt_retries: int,
        check_ser: Sequence[bool] | None = None,
    ) -> tuple[int, Frame] | None:
        """Send ``requests`` in turn until one is answered; return (its index, the reply).

        The next request goes out when the one before had no reply within ``window``
        seconds; after the last one, replies are awaited for ``wait`` seconds (both counted
        from when the request has left the wire). A reply answering *any* request sent so
        far is credited to that request, never to a later one. A checksum error resends the
        current request at once (``corrupt_retries``); silence after the last request starts
        the round again (``silence_retries``). None when nothing answered.
        """
        frames = [_request_frame(r) for r in requests]
        ser_checks = (
            list(check_ser) if check_ser is not None else [self.profile.echoes_ser] * len(requests)
        )
        decoder = FrameDecoder()
        sent: list[int] = []
        queue = list(range(len(requests)))
        attempts = [0] * len(requests)
        first = True
        while queue:
            index = queue.pop(0)
            request = requests[index]
            match: list[tuple[int, Frame]] = []
            corrupt: list[FrameError] = []

            def feed(
                chunk: bytes,
                match: list[tuple[int, Frame]] = match,
                corrupt: list[FrameError] = corrupt,
            ) -> bool:
                for item in decoder.feed(chunk):
                    if isinstance(item, ChecksumError):
                        if len(item.raw) > 9 and item.raw[9] & 0x80:
                            corrupt.append(item)
                        continue
                    if isinstance(item, FrameError):
                        continue
                    for j in sent:
                        if answers(frames[j], item, check_ser=ser_checks[j]):
                            match.append((j, item))
                            return True
                return bool(corrupt)

            if not first:  # bytes already here may answer an earlier request
                early = self.transport.drain()
                if early:
                    feed(early)
                    self._late(early, match[0][1] if match else None)
                    if match:
                        return self._answered(match[0])
            self.transport.write(request, flush=first)
            first = False
            attempts[index] += 1
            if index not in sent:
                sent.append(index)
            # counted from when the request has left the wire; the last wait also allows
            # for the reply's own wire time
            deadline = time.monotonic() + self.wire_time(len(request))
            deadline += window if queue else wait + self.wire_time(REPLY_ESTIMATE)
            reply = self.transport.read_until(feed, deadline=deadline)
            self._record(request, reply, match[0][1] if match else None, attempts[index], corrupt)
            if match:
                return self._answered(match[0])
            if corrupt and corrupt_retries > 0:
                corrupt_retries -= 1
                queue.insert(0, index)
                continue
            if not queue and silence_retries > 0:
                silence_retries -= 1
                queue = list(range(len(requests)))
        self.errors += decoder.rejected + decoder.finish()
        return None

    def _record(
        self,
        request: bytes,
        reply: bytes,
        frame: Frame | None,
        attempt: int,
        corrupt: list[FrameError],
    ) -> None:
        if reply.replace(request, b"", 1):
            self.heard = True
        self.errors += corrupt
        self.exchanges.append(
            RawExchange(
                request,
                reply,
                frame,
                baudrate=self.transport.baudrate,
                attempt=attempt,
                error="; ".join(str(e) for e in corrupt),
            )
        )

    def _late(self, data: bytes, frame: Frame | None) -> None:
        """Bytes that arrived after the last exchange's deadline belong to that exchange."""
        self.heard = True
        last = self.exchanges[-1]
        self.exchanges[-1] = replace(last, reply=last.reply + data, frame=last.frame or frame)

    def _answered(self, match: tuple[int, Frame]) -> tuple[int, Frame]:
        index, frame = match
        if frame.is_error_reply:
            raise MeterError(
                _("The meter answered with an error (C={control:02X}): {hex}").format(
                    control=frame.control, hex=frame.hex()
                )
            )
        return index, frame

    def exchange(
        self,
        request: bytes,
        *,
        want_function: int | None = None,
        timeout: float | None = None,
        retries: int | None = None,
    ) -> Frame:
        """Send one request (resent on silence or a bad checksum) and return its reply."""
        tries = self.retries if retries is None else retries
        got = self.transact(
            [request],
            window=0.0,
            wait=self.reply_wait if timeout is None else timeout,
            silence_retries=tries,
            corrupt_retries=tries,
        )
        if got is not None:
            return got[1]
        corrupt = [e for e in self.errors if isinstance(e, ChecksumError)]
        if corrupt:
            raise corrupt[-1]
        raise NoReplyError(self.transport.url, self.silence_message())

    def silence_message(self, address: str | None = None) -> str:
        port, baud = self.transport.url, self.transport.baudrate
        if self.errors:
            return _("Bytes arrived on {port} at {baud} baud, but no valid reply: {error}").format(
                port=port, baud=baud, error=self.errors[-1]
            )
        if self.heard:
            return _(
                "Bytes arrived on {port} at {baud} baud, but none of them was a reply to "
                "fieldkit's request. Check the meter address and the profile."
            ).format(port=port, baud=baud)
        return _(
            "No reply at all from {meter} on {port} at {baud} baud. Check the wiring (A/B) "
            "and the profile; a slow meter needs a longer --timeout."
        ).format(
            meter=address or _("the meter"),
            port=port,
            baud=baud,
        )

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
        # never resent: a write whose reply was lost may still have been carried out
        return self.exchange(
            encode(**self._request_options()), want_function=want_function, retries=0
        )

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


def check_baudrate(baudrate: int | None) -> None:
    if baudrate is not None and baudrate not in BAUD_RATES:
        raise MeterError(
            _("{baud} is not a baud rate meters use; choose one of {rates}.").format(
                baud=baudrate, rates=", ".join(str(b) for b in BAUD_RATES)
            )
        )


def _attach_frames(exc: BaseException, exchanges: list[RawExchange]) -> None:
    """Failures carry every frame sent and received, so ``--raw`` can show them."""
    exc.exchanges = list(exchanges)  # type: ignore[attr-defined]


def frames_of(exc: BaseException) -> list[RawExchange]:
    return list(getattr(exc, "exchanges", []))


@dataclass(frozen=True)
class ProbeResult:
    profile: MeterProfile
    baudrate: int
    address: str
    exchanges: list[RawExchange]
    metering: MeteringData | None = None
    broadcast: bool = True
    from_cache: bool = False

    def reading(self, port: str) -> MeterReading:
        """The confirming 901F read as a :class:`MeterReading`."""
        assert self.metering is not None, "find_meter always confirms with a 901F read"
        return MeterReading(
            port=port,
            profile_id=self.profile.id,
            baudrate=self.baudrate,
            address=self.address,
            metering=self.metering,
            exchanges=list(self.exchanges),
            from_cache=self.from_cache,
        )


def _candidates(profiles: MeterProfile | Iterable[MeterProfile] | None) -> list[MeterProfile]:
    if isinstance(profiles, MeterProfile):
        return [profiles]
    given = list(profiles) if profiles is not None else load_profiles().profiles
    found = [p for p in given if p.probe] if len(given) > 1 else given
    if not found:
        raise MeterError(_("No meter profile is marked for probing."))
    return found


def _first(items: list[Any], wanted: Any) -> list[Any]:
    return [wanted, *(i for i in items if i != wanted)] if wanted in items else items


def _ask(
    link: MeterLink,
    requests: list[bytes],
    candidates: list[MeterProfile],
    window: float,
    directed: bool,
) -> tuple[int, Frame] | None:
    """One request per candidate profile (same order); which one answered and its frame.

    ``directed``: a meter is known to be there, so wait and resend as for one meter;
    otherwise a quick probe without resends on silence.
    """
    return link.transact(
        requests,
        window=window,
        wait=link.reply_wait if directed else link.probe_wait,
        silence_retries=link.retries if directed else 0,
        corrupt_retries=link.retries,
        check_ser=[p.echoes_ser for p in candidates],
    )


def _read_at(
    link: MeterLink,
    candidates: list[MeterProfile],
    address: str | None,
    directed: bool,
) -> tuple[MeterProfile, str, Frame, bool] | None:
    """At the transport's current baud: find the meter (read-address, unless ``address``),
    then confirm a profile with a 901F read in its DI order (the other orders on silence)."""
    first = candidates[0].timing
    broadcast = address is None
    if address is None:
        requests = [
            cjt188.request_read_address(order=p.di_order, ser=link._next_ser(), preamble=p.preamble)
            for p in candidates
        ]
        got = _ask(link, requests, candidates, first.window, directed)
        if got is None:
            return None
        index, frame = got
        address = frame.address
        link.found_address = address
        candidates = _first(candidates, candidates[index])
        directed = True  # the meter is here: wait for it as for one meter
    requests = [
        cjt188.request_read_data(
            address,
            DI.METERING,
            order=p.di_order,
            meter_type=p.meter_type,
            ser=link._next_ser(),
            preamble=p.preamble,
        )
        for p in candidates
    ]
    got = _ask(link, requests, candidates, first.window, directed)
    if got is None:
        return None
    index, frame = got
    return candidates[index], address, frame, broadcast


def find_meter(
    port: str,
    profiles: MeterProfile | Iterable[MeterProfile] | None = None,
    *,
    address: str | None = None,
    baudrate: int | None = None,
    timeout: float | None = None,
    retries: int | None = None,
    cache: Any = None,
) -> ProbeResult:
    """Find and read the meter on ``port``: the profile is confirmed by a real 901F read.

    ``profiles``: one profile, or the candidates (default: every profile marked for probing).
    ``address``: read that meter directly (no broadcast). ``baudrate``: only that rate.
    ``cache`` (a :class:`fieldkit.devices.linkcache.LinkCache`): what worked last time is
    tried first and what works now is remembered. Errors carry ``exchanges`` (see
    :func:`frames_of`).
    """
    if address is not None:
        cjt188.encode_address(address)  # 14 BCD digits, checked before any I/O
        address = address.strip().replace(" ", "").upper()
        if address == cjt188.BROADCAST_ADDRESS:
            address = None
    check_baudrate(baudrate)
    candidates = _candidates(profiles)
    bauds = [baudrate] if baudrate else sorted({b for p in candidates for b in p.bauds})
    bauds = [b for b in bauds if b in BAUD_RATES]
    hint = cache.get(port, address) if cache is not None else None
    if hint is not None:
        wanted = next((p for p in candidates if p.id == hint.profile_id), None)
        if wanted is not None and hint.baudrate in bauds:
            candidates = _first(candidates, wanted)
            bauds = _first(bauds, hint.baudrate)
            if address is None and not hint.broadcast:
                address = hint.address  # a meter that ignores broadcast: ask it by name
        else:
            hint = None
    directed = len(bauds) == 1 and len(candidates) == 1
    link: MeterLink | None = None
    try:
        with open_transport(port, candidates[0], bauds[0]) as transport:
            link = MeterLink(transport, candidates[0], timeout=timeout, retries=retries)
            for baud in bauds:
                transport.set_baudrate(baud)
                here = [p for p in candidates if baudrate or baud in p.bauds]
                got = _read_at(link, here, address, directed)
                if got is not None:
                    profile, found, frame, broadcast = got
                    metering = cjt188.decode_metering(
                        frame.payload, profile.bitmap(), profile.volume_decimals
                    )
                    result = ProbeResult(
                        profile,
                        baud,
                        found,
                        list(link.exchanges),
                        metering,
                        broadcast,
                        from_cache=hint is not None
                        and (hint.profile_id, hint.baudrate) == (profile.id, baud),
                    )
                    if cache is not None:
                        from fieldkit.devices.linkcache import CachedLink

                        cache.put(port, CachedLink(profile.id, baud, found, broadcast))
                    return result
                if link.found_address is not None:
                    raise NoDataError(
                        _(
                            "Meter {address} answered read-address at {baud} baud but not the "
                            "901F data read in either DI order (90 1F, 1F 90). Try "
                            "--profile, a longer --timeout, or check the meter's protocol."
                        ).format(address=link.found_address, baud=baud)
                    )
            raise NoReplyError(port, _nothing_message(link, port, bauds, candidates, address))
    except (PortError, MeterError, FrameError, cjt188.AddressError) as exc:
        _attach_frames(exc, link.exchanges if link is not None else [])
        raise


def _nothing_message(
    link: MeterLink,
    port: str,
    bauds: list[int],
    candidates: list[MeterProfile],
    address: str | None,
) -> str:
    rates = "/".join(str(b) for b in bauds)
    if link.errors:
        return _(
            "Bytes arrived on {port}, but no valid frame ({error}). Check the baud rate "
            "and parity (8E1) and the line for noise."
        ).format(port=port, error=link.errors[-1])
    if link.heard:
        return _(
            "Bytes arrived on {port} at {bauds} baud, but none of them answered fieldkit's "
            "requests. Check the meter address and the profile."
        ).format(port=port, bauds=rates)
    if address is not None:
        return _(
            "Meter {address} did not answer on {port} at {bauds} baud, in any DI order. "
            "Check the address on the meter's label and the wiring (A/B); a slow meter "
            "needs a longer --timeout."
        ).format(address=address, port=port, bauds=rates)
    return _(
        "Nothing at all came back on {port} at {bauds} baud (profiles {profiles}). Check "
        "the wiring (A/B) and that the meter is awake; a meter that ignores broadcast needs "
        "--address, a slow one a longer --timeout."
    ).format(port=port, bauds=rates, profiles=", ".join(p.id for p in candidates))


def read_meter(
    port: str,
    profile: MeterProfile | Iterable[MeterProfile] | None = None,
    *,
    address: str | None = None,
    baudrate: int | None = None,
    timeout: float | None = None,
    retries: int | None = None,
    cache: Any = None,
) -> MeterReading:
    """Read 901F from the meter on ``port`` (see :func:`find_meter`)."""
    found = find_meter(
        port,
        profile,
        address=address,
        baudrate=baudrate,
        timeout=timeout,
        retries=retries,
        cache=cache,
    )
    return found.reading(port)


def probe(
    port: str,
    profiles: Iterable[MeterProfile] | None = None,
    *,
    bauds: Iterable[int] | None = None,
    timeout: float | None = None,
    address: str | None = None,
    cache: Any = None,
) -> ProbeResult:
    """Which profile and baud rate the meter on ``port`` answers to, confirmed by 901F."""
    rates = list(bauds) if bauds else []
    if len(rates) > 1:
        last: BaseException | None = None
        exchanges: list[RawExchange] = []
        for rate in rates:
            try:
                return find_meter(
                    port, profiles, address=address, baudrate=rate, timeout=timeout, cache=cache
                )
            except NoReplyError as exc:
                exchanges += frames_of(exc)
                last = exc
        assert last is not None
        _attach_frames(last, exchanges)
        raise last
    return find_meter(
        port,
        profiles,
        address=address,
        baudrate=rates[0] if rates else None,
        timeout=timeout,
        cache=cache,
    )


__all__ = [
    "BAUD_RATES",
    "MeterError",
    "MeterLink",
    "MeterReading",
    "NoDataError",
    "NotConfirmedError",
    "PortError",
    "ProbeResult",
    "RawExchange",
    "answers",
    "find_meter",
    "frames_of",
    "probe",
    "read_meter",
]
