"""The PC/SC backend for real: pyscard → pcscd → vpcd → a virtual SLE4442 card in Python.

Needs ``bash scripts/install-pcsc`` (pcscd, vsmartcard-vpcd, pyscard); without them every
test here FAILS saying so. Nothing is mocked: the card answers over vpcd's TCP protocol and
records every APDU it receives.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from fieldkit.cli import cli
from fieldkit.devices import cardreader as cr
from fieldkit.devices.cjt188 import hexstr
from fieldkit.devices.emulator import example_user_card
from fieldkit.devices.vpcd import OUT_FOR, VirtualCard, start_vpcd_card
from tests.devices.pcsc_helpers import Pcscd, session_lock, start_pcscd, wait_card_state

if sys.platform == "win32":  # pragma: no cover
    pytest.fail("the PC/SC tests need pcscd and vpcd (Linux)", pytrace=False)

PSC_APDU = bytes.fromhex("FF 20 00 00 03 FF FF FF")


@pytest.fixture(scope="module")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pcscd]:
    """One pcscd + vpcd for this module, under the machine-wide lock, released as soon as
    the module is done (not at the end of the whole test session: other checkouts wait)."""
    lock = session_lock()
    try:
        handle = start_pcscd(tmp_path_factory.mktemp("pcscd"))
    except BaseException:
        lock.close()
        raise
    handle.lock = lock
    yield handle
    handle.release()


@pytest.fixture
def slot0(pcscd: Pcscd) -> str:
    return pcscd.readers[0]


class Slot:
    """The virtual card in slot 0, kept across the module's tests.

    Taking a card out and putting one back costs a second or more (pcscd must poll the slot
    empty first, see fieldkit.devices.vpcd.OUT_FOR), so a test that wants a card gets the
    card already there with its chip swapped in place (a new Sle4442, a fresh APDU record);
    only a test that needs an empty slot, or that pulled the card, pays for the round trip.
    """

    def __init__(self, pcscd: Pcscd) -> None:
        self.pcscd = pcscd
        self.virtual: VirtualCard | None = None

    @property
    def reader(self) -> str:
        return self.pcscd.readers[0]

    def put(self, card: cr.Sle4442 | None) -> VirtualCard:
        virtual = self.virtual
        if card is None:
            self.clear()
            self.virtual = start_vpcd_card(None, port=self.pcscd.port)  # an empty slot
            return self.virtual
        if virtual is not None and virtual.connected and virtual.card is not None:
            virtual.insert(card)  # the card stays in: only its chip changes
        elif virtual is not None:
            virtual.insert(card)  # back in once it has been out long enough
            wait_card_state(self.reader, present=True)
        else:
            virtual = start_vpcd_card(card, port=self.pcscd.port)
            wait_card_state(self.reader, present=True)
        virtual.apdus.clear()
        self.virtual = virtual
        return virtual

    def clear(self) -> None:
        """No virtual card at all on the slot, and pcscd has seen it empty."""
        if self.virtual is not None:
            self.virtual.stop()
            self.virtual = None
            wait_card_state(self.reader, present=False)
            # after a failed transmit pcscd shows the slot empty before its poller has
            # looked; a card back within that poll would never be seen inserted
            time.sleep(OUT_FOR)


@pytest.fixture(scope="module")
def slot(pcscd: Pcscd) -> Iterator[Slot]:
    shared = Slot(pcscd)
    yield shared
    shared.clear()


@pytest.fixture
def insert(slot: Slot) -> Callable[[cr.Sle4442 | None], VirtualCard]:
    """Put a virtual card (or none) into slot 0; pcscd has seen it when this returns."""
    return slot.put


class NotA4442(cr.Sle4442):
    """A card of another chip family: the reader cannot select it as an SLE4442."""

    def apdu(self, apdu: bytes) -> bytes:
        if apdu[:2] == b"\xff\xa4":
            return b"\x6a\x81"
        return super().apdu(apdu)


def cli_run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--lang", "en"])
    return result.exit_code, result.output


# ---------------------------------------------------------------- reading


def test_reads_the_whole_card_through_pcscd(slot0: str, insert: Callable[..., VirtualCard]) -> None:
    card = example_user_card(card_number=87654321, remaining_gas=42.5)
    virtual = insert(card)
    reader = cr.open_reader(None, backend="pcsc")
    try:
        image = reader.read_card()
    finally:
        reader.close()
    assert image.memory == bytes(card.memory)
    assert image.chip == "SLE4442" and image.reader == slot0
    assert virtual.apdus == [
        bytes.fromhex("FF A4 00 00 01 06"),
        bytes.fromhex("FF B0 00 00 80"),
        bytes.fromhex("FF B0 00 80 80"),
    ]
    assert [e.command for e in image.exchanges] == virtual.apdus
    assert card.error_counter == 0b111


def test_reader_chosen_by_index_or_name(pcscd: Pcscd, insert: Callable[..., VirtualCard]) -> None:
    insert(example_user_card())
    assert len(pcscd.readers) == 2  # vpcd configures two slots
    for port, expected in [
        ("0", pcscd.readers[0]),
        ("1", pcscd.readers[1]),
        (pcscd.readers[1][-5:], pcscd.readers[1]),  # "00 01": a substring of the name
        (pcscd.readers[0].upper(), pcscd.readers[0]),  # the exact name, any case
    ]:
        reader = cr.open_reader(port, backend="pcsc")
        assert reader.name == expected, port
        reader.close()
    with pytest.raises(cr.ReaderUnavailableError, match="No PC/SC reader named") as info:
        cr.open_reader("no-such-reader", backend="pcsc")
    assert pcscd.readers[0] in str(info.value)  # the message lists what is connected
    with pytest.raises(cr.ReaderUnavailableError, match="no reader number 7"):
        cr.open_reader("7", backend="pcsc")


def test_cli_card_read_pcsc(slot0: str, insert: Callable[..., VirtualCard]) -> None:
    card = example_user_card(card_number=12345678, remaining_gas=123.4)
    virtual = insert(card)
    code, out = cli_run("card", "read", "--backend", "pcsc", "--port", "0")
    assert code == 0, out
    assert slot0 in out and "12345678" in out and "123.4" in out
    assert f"20: {hexstr(card.memory[0x20:0x30])}" in out  # the raw memory dump
    code, out = cli_run("card", "read", "--backend", "pcsc", "--json")
    assert code == 0, out
    assert json.loads(out)["memory"] == bytes(card.memory).hex().upper()
    assert all(apdu[:2] != b"\xff\x20" for apdu in virtual.apdus)


# ---------------------------------------------------------------- errors


def test_no_card_in_the_reader(slot0: str, insert: Callable[..., VirtualCard]) -> None:
    virtual = insert(None)
    reader = cr.open_reader("0", backend="pcsc")
    with pytest.raises(cr.NoCardError, match=f"No card in {slot0}"):
        reader.read_card()
    reader.close()
    assert virtual.apdus == []
    code, out = cli_run("card", "read", "--backend", "pcsc", "--port", "0")
    assert code == 1
    assert out.startswith(f"Error: No card in {slot0}") and "Traceback" not in out


def test_card_pulled_out_mid_read(slot0: str, insert: Callable[..., VirtualCard]) -> None:
    virtual = insert(example_user_card())
    virtual.pull_after(2)  # the select is answered, the first read is not
    reader = cr.open_reader(None, backend="pcsc")
    with pytest.raises(cr.CardRemovedError, match="taken out"):
        reader.read_card()
    reader.close()  # closing after a pulled card raises nothing
    assert len(virtual.apdus) == 2
    wait_card_state(slot0, present=False)
    # put it back: the next read works again
    virtual.insert(example_user_card())
    wait_card_state(slot0, present=True)
    reader = cr.open_reader(None, backend="pcsc")
    assert len(reader.read_card().memory) == 256
    reader.close()


def test_card_pulled_out_mid_read_cli(insert: Callable[..., VirtualCard]) -> None:
    virtual = insert(example_user_card())
    virtual.pull_after(3)
    code, out = cli_run("card", "read", "--backend", "pcsc")
    assert code == 1
    assert out.startswith("Error: The card was taken out") and "Traceback" not in out


def test_wrong_chip_is_a_typed_error(insert: Callable[..., VirtualCard]) -> None:
    virtual = insert(NotA4442())
    reader = cr.open_reader(None, backend="pcsc")
    with pytest.raises(cr.WrongCardError, match="not answer as an SLE4442") as info:
        reader.read_card()
    reader.close()
    assert isinstance(info.value, cr.NoCardError)  # still "no usable card" for callers
    assert virtual.apdus == [bytes.fromhex("FF A4 00 00 01 06")]  # nothing after the select


# ---------------------------------------------------------------- the PSC


def test_fieldkit_never_presents_the_psc(insert: Callable[..., VirtualCard]) -> None:
    card = example_user_card()
    card.psc = b"\x12\x34\x56"
    virtual = insert(card)
    reader = cr.PcscReader()
    with pytest.raises(cr.CardError, match="PSC"):
        reader.transmit(PSC_APDU)
    reader.read_card()
    reader.close()
    code, _out = cli_run("card", "read", "--backend", "pcsc")
    assert code == 0
    assert virtual.apdus and all(apdu[:2] != b"\xff\x20" for apdu in virtual.apdus)
    assert card.error_counter == 0b111 and not card.verified


def test_the_recorder_would_see_a_psc(insert: Callable[..., VirtualCard], slot0: str) -> None:
    """The check above can fail: a PSC sent with plain pyscard reaches the card and counts."""
    from smartcard.System import readers

    card = example_user_card()
    card.psc = b"\x12\x34\x56"
    virtual = insert(card)
    (reader,) = [r for r in readers() if str(r) == slot0]
    connection = reader.createConnection()
    connection.connect()
    connection.transmit(list(cr.APDU_SELECT_SLE4442))
    _data, sw1, sw2 = connection.transmit(list(PSC_APDU))
    connection.disconnect()
    assert (sw1, sw2) == (0x90, 0b110)
    assert PSC_APDU in virtual.apdus and card.error_counter == 0b110


# ---------------------------------------------------------------- pcscd going away


def test_virtual_card_reconnects_after_pcscd_restarts(
    pcscd: Pcscd, tmp_path: Path, insert: Callable[..., VirtualCard]
) -> None:
    if pcscd.process is None:
        pytest.fail("restarting needs the tests' own pcscd: stop the system pcscd first")
    card = example_user_card()
    virtual = insert(card)
    pcscd.stop()
    with pytest.raises(cr.ReaderUnavailableError, match="PC/SC service is not running"):
        cr.open_reader(None, backend="pcsc")
    restarted = start_pcscd(tmp_path, port=pcscd.port)  # the same vpcd port as before
    pcscd.process, pcscd.log = restarted.process, restarted.log
    wait_card_state(pcscd.readers[0], present=True)
    assert virtual.connected  # the same VirtualCard found the new pcscd by itself
    reader = cr.open_reader(None, backend="pcsc")
    assert reader.read_card().memory == bytes(card.memory)
    reader.close()


def test_emulate_card_pcsc_for_demos(pcscd: Pcscd, slot: Slot, slot0: str) -> None:
    """``fieldkit emulate card --pcsc PORT`` in its own process, read back through pcscd."""
    slot.clear()  # vpcd serves one card per slot: this one comes from the other process
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fieldkit",
            "emulate",
            "card",
            "--card-number",
            "24681357",
            "--pcsc",
            str(pcscd.port),
            "--lang",
            "en",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert f"TCP port {pcscd.port}" in process.stdout.readline()
        wait_card_state(slot0, present=True)
        code, out = cli_run("card", "read", "--backend", "pcsc", "--port", slot0)
        assert code == 0, out
        assert "24681357" in out
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    wait_card_state(slot0, present=False)
    time.sleep(OUT_FOR)


def test_a_missing_part_fails_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without vpcd (or pcscd, or pyscard) these tests fail, saying what to run."""
    from tests.devices import pcsc_helpers

    monkeypatch.setattr(pcsc_helpers, "VPCD_DRIVER", Path("/nonexistent/libifdvpcd.so"))
    with pytest.raises(pytest.fail.Exception, match=r"vsmartcard-vpcd.*scripts/install-pcsc"):
        pcsc_helpers.require_pcsc()
