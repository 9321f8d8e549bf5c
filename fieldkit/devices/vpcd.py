"""A virtual SLE4442 card for the vpcd virtual PC/SC reader (vsmartcard), for tests and demos.

The chain is: pyscard → pcscd → vpcd (the ``vsmartcard-vpcd`` reader driver, which listens
on TCP, port 35963 for its first slot by default) → this card, which connects to vpcd. The
vpcd protocol (vsmartcard ``virtualsmartcard/src/vpcd/vpcd.c``): every message is a 2-byte
big-endian length and a payload. A 1-byte payload is a control code (0 power off, 1 power
on, 2 reset, 4 "send the ATR"; only 4 is answered); a longer payload is an APDU, answered
with the response data and SW1 SW2. vpcd sees a card as inserted while a client is connected
and answers the ATR request, so "no card" is "not connected" and "card pulled" is "close".

The card answers like an ACS reader (ACR38/ACR39 family) holding an SLE4442 (the ACS
pseudo-APDUs, research/protocols.md §3.4 A) using the in-memory :class:`Sle4442` model; it
keeps every APDU it received in :attr:`VirtualCard.apdus` so a test can prove that fieldkit
never presented a PSC (``FF 20``).

**[U]** The ATR given is ``3B 04`` + ``A2 13 10 91`` (an ISO ATR header wrapping the 4-byte
SLE4442 answer-to-reset header). What a given ACS reader reports for an SLE4442 was not
checked against a reader's manual; fieldkit does not look at the ATR.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field

from fieldkit.devices.cardreader import Sle4442

VPCD_HOST = "127.0.0.1"
VPCD_PORT = 35963  # vpcd's default (CHANNELID 0x8C7B in /etc/reader.conf.d/vpcd)

CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0, 1, 2, 4
SLE4442_ATR = bytes.fromhex("3B 04 A2 13 10 91")  # [U] see the module docstring
# A card taken out stays out this long (a hand is never faster): pcscd polls a vpcd slot
# every 400 ms, and a card back before it looked is never seen as removed and reinserted,
# so pcscd would keep the slot "empty".
OUT_FOR = 1.0


@dataclass
class VirtualCard:
    """A card (or an empty slot) on one vpcd slot, served by a background thread.

    ``card=None`` is an empty reader. :meth:`insert` and :meth:`remove` change that while
    running; :meth:`pull_after` removes the card in the middle of a read (after ``n`` more
    APDUs, without answering the last one). The thread reconnects when pcscd restarts.
    """

    card: Sle4442 | None
    host: str = VPCD_HOST
    port: int = VPCD_PORT
    atr: bytes = SLE4442_ATR
    apdus: list[bytes] = field(default_factory=list)
    _pull_after: int | None = field(default=None, init=False, repr=False)
    _out_until: float = field(default=0.0, init=False, repr=False)
    _sock: socket.socket | None = field(default=None, init=False, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    # ------------------------------------------------------------ control

    def start(self) -> VirtualCard:
        self._thread = threading.Thread(target=self._run, name="vpcd-card", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._disconnect()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> VirtualCard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def insert(self, card: Sle4442) -> None:
        with self._lock:
            self.card = card
            self._pull_after = None

    def remove(self) -> None:
        with self._lock:
            self.card = None
            self._out_until = time.monotonic() + OUT_FOR
        self._disconnect()

    def pull_after(self, apdus: int) -> None:
        """Pull the card out when the ``apdus``-th next APDU arrives (it gets no answer)."""
        with self._lock:
            self._pull_after = apdus

    @property
    def connected(self) -> bool:
        return self._sock is not None

    # ------------------------------------------------------------ the thread

    def _disconnect(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            if self.card is None or time.monotonic() < self._out_until:
                time.sleep(0.05)
                continue
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
            except OSError:
                time.sleep(0.2)  # vpcd (pcscd) not up yet, or restarting
                continue
            sock.settimeout(None)
            self._sock = sock
            try:
                self._serve(sock)
            except OSError:
                pass
            finally:
                if self._sock is sock:
                    self._disconnect()

    def _serve(self, sock: socket.socket) -> None:
        while not self._stopping.is_set():
            header = _recv_exactly(sock, 2)
            if header is None:
                return
            payload = _recv_exactly(sock, int.from_bytes(header, "big"))
            if payload is None:
                return
            reply = self._answer(payload)
            if reply is None:
                continue
            sock.sendall(len(reply).to_bytes(2, "big") + reply)

    def _answer(self, payload: bytes) -> bytes | None:
        with self._lock:
            card = self.card
            if card is None:
                raise OSError("card removed")
            if len(payload) == 1:
                if payload[0] in (CTRL_ON, CTRL_RESET, CTRL_OFF):
                    card.selected = card.verified = False  # a power cycle forgets both
                    return None
                if payload[0] == CTRL_ATR:
                    return self.atr
                return None
            self.apdus.append(payload)
            if self._pull_after is not None:
                self._pull_after -= 1
                if self._pull_after <= 0:
                    self._pull_after = None
                    self.card = None
                    self._out_until = time.monotonic() + OUT_FOR
                    raise OSError("card pulled out")
            return card.apdu(payload)


def _recv_exactly(sock: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def start_vpcd_card(
    card: Sle4442 | None, host: str = VPCD_HOST, port: int = VPCD_PORT
) -> VirtualCard:
    """Start a virtual card on the vpcd slot at ``host:port``; ``card=None``: an empty slot.

    Returns the running :class:`VirtualCard`; call ``.stop()`` (or use it in ``with``).
    """
    return VirtualCard(card, host=host, port=port).start()
