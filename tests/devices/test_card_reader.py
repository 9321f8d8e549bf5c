"""Card reading: ACR30 framing vectors, the in-memory SLE4442, a reader on a real pty."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldkit.devices import cardreader as cr
from fieldkit.devices.emulator import example_user_card, start_card_emulator
from fieldkit.devices.transport import PortNotFoundError


def test_acr30_command_vector() -> None:
    # research §3.4 C: 01 A2 01 3D 9F goes on the wire as STX "01A2013D9F" ETX
    assert cr.acr30_encode_command(0xA2, b"\x3d") == bytes.fromhex(
        "02 30 31 41 32 30 31 33 44 39 46 03"
    )


def test_acr30_reply_vector() -> None:
    reply = cr.acr30_parse_reply(bytes.fromhex("01 90 00 03 11 22 33 92"))
    assert (reply.sw1, reply.sw2, reply.data, reply.ok) == (0x90, 0x00, b"\x11\x22\x33", True)


@pytest.mark.parametrize(
    "frame",
    ["01 90 00 03 11 22 33 93", "02 90 00 00 92", "01 90 00 05 11 22 33 90", "01 90"],
)
def test_acr30_bad_replies_are_typed(frame: str) -> None:
    with pytest.raises(cr.ReaderProtocolError):
        cr.acr30_parse_reply(bytes.fromhex(frame))


def test_acr30_decoder_resyncs_and_flags_non_hex() -> None:
    decoder = cr.Acr30Decoder()
    good = cr.acr30_encode_reply(0x90, 0x00, b"\x01")
    items = decoder.feed(b"junk\x02ZZ\x03" + good[:5])
    assert len(items) == 1 and isinstance(items[0], cr.ReaderProtocolError)
    items = decoder.feed(good[5:])
    assert items == [bytes.fromhex("01 90 00 01 01 91")]


def test_status_table_maps_to_types() -> None:
    with pytest.raises(cr.NoCardError):
        cr.raise_for_status(cr.Acr30Reply(0x67, 0x00, b"", b""))
    with pytest.raises(cr.ReaderStatusError) as info:
        cr.raise_for_status(cr.Acr30Reply(0x60, 0x01, b"", b""))
    assert (info.value.sw1, info.value.sw2) == (0x60, 0x01)


def test_sle4442_model_locks_after_three_wrong_pscs() -> None:
    card = cr.Sle4442(psc=b"\x12\x34\x56")
    assert card.apdu(cr.APDU_SELECT_SLE4442) == b"\x90\x00"
    wrong = bytes.fromhex("FF 20 00 00 03 00 00 00")
    assert card.apdu(wrong) == b"\x90\x06"
    assert card.apdu(wrong) == b"\x90\x04"
    assert card.apdu(wrong) == b"\x90\x00"
    assert card.locked
    # even the right code no longer helps: this is why fieldkit never presents a PSC itself
    assert card.apdu(bytes.fromhex("FF 20 00 00 03 12 34 56")) == b"\x90\x00"
    assert card.apdu(bytes.fromhex("FF D0 00 40 01 00")) == b"\x69\x82"


def test_read_card_over_pty() -> None:
    card = example_user_card(card_number=87654321, remaining_gas=42.5)
    with (
        start_card_emulator(card, pace=False) as handle,
        cr.Acr30SerialReader(handle.port_path) as reader,
    ):
        image = reader.read_card()
        assert image.memory == bytes(card.memory)
        assert image.chip == "SLE4442"
        assert [e.command[:2] for e in image.exchanges] == [b"\xff\xa4", b"\xff\xb0", b"\xff\xb0"]
        # no PSC was ever presented
        assert all(apdu[:2] != b"\xff\x20" for apdu in handle.emulator.apdus)
        assert card.error_counter == 0b111


def test_reader_never_sends_a_psc() -> None:
    with (
        start_card_emulator(example_user_card(), pace=False) as handle,
        cr.Acr30SerialReader(handle.port_path) as reader,
    ):
        with pytest.raises(cr.CardError):
            reader.transmit(bytes.fromhex("FF 20 00 00 03 FF FF FF"))
        assert handle.emulator.apdus == []


def test_no_card_in_reader() -> None:
    with (
        start_card_emulator(None, pace=False) as handle,
        cr.Acr30SerialReader(handle.port_path) as reader,
        pytest.raises(cr.NoCardError, match="card inserted"),
    ):
        reader.read_card()


def test_unplugged_reader() -> None:
    with pytest.raises(cr.ReaderUnavailableError):
        cr.open_reader("/dev/ttyUSB-fieldkit-missing")
    with pytest.raises(PortNotFoundError):
        cr.Acr30SerialReader("/dev/ttyUSB-fieldkit-missing")


def test_silent_port_is_reader_unavailable() -> None:
    from fieldkit.devices.emulator import MeterState, start_meter_emulator

    # a meter (not a card reader) on the port: it never answers ACR30 frames
    with (
        start_meter_emulator(state=MeterState(silent=True), pace=False) as handle,
        cr.Acr30SerialReader(handle.port_path, reply_timeout=0.2) as reader,
        pytest.raises(cr.ReaderUnavailableError, match="did not answer"),
    ):
        reader.read_card()


def test_pcsc_backend_without_pyscard_says_how_to_install() -> None:
    try:
        import smartcard  # noqa: F401
    except ImportError:
        with pytest.raises(cr.ReaderUnavailableError, match=r"fieldkit\[pcsc\]"):
            cr.open_reader(None, backend="pcsc")
    else:  # pragma: no cover - with pyscard installed the message is about readers instead
        with pytest.raises(cr.ReaderUnavailableError):
            cr.PcscReader("no-such-reader-name-fieldkit")


@pytest.mark.hardware
def test_real_card_reader(request: pytest.FixtureRequest) -> None:
    port = request.config.getoption("--port")
    with cr.Acr30SerialReader(port) as reader:
        assert len(reader.read_card().memory) == 256


@settings(max_examples=200)
@given(st.binary(max_size=300), st.lists(st.integers(0, 400), max_size=10))
def test_acr30_decoder_any_bytes_only_typed_results(data: bytes, cuts: list[int]) -> None:
    decoder = cr.Acr30Decoder()
    points = sorted({c % (len(data) + 1) for c in cuts})
    last = 0
    for p in [*points, len(data)]:
        for item in decoder.feed(data[last:p]):
            assert isinstance(item, bytes | cr.ReaderProtocolError)
            if isinstance(item, bytes):
                with contextlib.suppress(cr.ReaderProtocolError):
                    cr.acr30_parse_reply(item)
        last = p


@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=255))
def test_acr30_reply_round_trip(sw1: int, sw2: int, data: bytes) -> None:
    (binary,) = cr.Acr30Decoder().feed(cr.acr30_encode_reply(sw1, sw2, data))
    assert isinstance(binary, bytes)
    reply = cr.acr30_parse_reply(binary)
    assert (reply.sw1, reply.sw2, reply.data) == (sw1, sw2, data)


class NotA4442(cr.Sle4442):
    """An emulated card of another chip family: it refuses the SLE4442 select."""

    def apdu(self, apdu: bytes) -> bytes:
        if apdu[:2] == b"\xff\xa4":
            return b"\x6a\x81"
        return super().apdu(apdu)


def test_wrong_chip_is_a_clear_error() -> None:
    with (
        start_card_emulator(NotA4442(), pace=False) as handle,
        cr.Acr30SerialReader(handle.port_path) as reader,
        pytest.raises(cr.NoCardError, match="not answer as an SLE4442"),
    ):
        reader.read_card()
