"""CJ/T 188 codec: golden vectors from research/protocols.md §1.7, negative cases, hypothesis."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldkit.devices import cjt188
from fieldkit.devices.cjt188 import (
    ChecksumError,
    Frame,
    FrameDecoder,
    FrameError,
    PayloadError,
    StatusBitMap,
    ValveState,
    decode_frames,
    decode_metering,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# (source, wire bytes, expected: (T, address, C, L) or None for a ✗ vector)
GOOD = [
    (
        "aixiwang read 901F",
        "68 10 12 00 00 00 00 00 00 01 03 90 1F 00 3D 16",
        (0x10, "00000000000012", 0x01, 3),
    ),
    (
        "aixiwang 901F reply",
        "FE FE FE 68 10 12 00 00 00 00 00 00 81 16 90 1F 00 10 00 10 00 2C 10 00 10 00 2C 00 00 00 00 00 00 00 00 FF 67 16",
        (0x10, "00000000000012", 0x81, 0x16),
    ),
    (
        "aixiwang broadcast read-address",
        "FE FE FE 68 AA AA AA AA AA AA AA AA 03 03 81 0A 00 49 16",
        (0xAA, "AAAAAAAAAAAAAA", 0x03, 3),
    ),
    (
        "aixiwang read-address reply",
        "FE FE FE 68 10 12 00 00 00 00 00 00 83 03 81 0A 00 9B 16",
        (0x10, "00000000000012", 0x83, 3),
    ),
    (
        "hftangyu read 901F",
        "FE FE FE FE 68 10 44 33 22 11 00 33 78 01 03 1F 90 00 80 16",
        (0x10, "78330011223344", 0x01, 3),
    ),
    (
        "paobo universal read",
        "FE FE FE 68 10 AA AA AA AA AA AA AA 01 03 90 1F 01 D2 16",
        (0x10, "AAAAAAAAAAAAAA", 0x01, 3),
    ),
    (
        "gas module open valve",
        "FE FE FE 68 30 03 00 00 00 00 00 00 04 04 17 A0 01 55 B0 16",
        (0x30, "00000000000003", 0x04, 4),
    ),
    (
        "gas module close valve",
        "FE FE FE 68 30 03 00 00 00 00 00 00 04 04 17 A0 01 99 F4 16",
        (0x30, "00000000000003", 0x04, 4),
    ),
    (
        "gas module read 901F",
        "FE FE FE 68 30 03 00 00 00 00 00 00 01 03 1F 90 FF 4D 16",
        (0x30, "00000000000003", 0x01, 3),
    ),
    (
        "gas module write address",
        "FE FE FE 68 30 03 00 00 00 00 00 00 15 0A 18 A0 FF 05 00 00 00 00 00 00 76 16",
        (0x30, "00000000000003", 0x15, 10),
    ),
    (
        "gas module set base",
        "FE FE FE 68 30 03 00 00 00 00 00 00 16 08 16 A0 FF 78 56 34 12 00 82 16",
        (0x30, "00000000000003", 0x16, 8),
    ),
]

BAD_CHECKSUM = [
    (
        "hftangyu 901F reply (stated 08, computed 13)",
        "FE FE FE FE 68 10 44 33 22 11 00 33 78 81 16 1F 90 00 00 77 66 55 2C 00 77 66 55 2C 31 01 22 11 05 15 20 21 84 08 16",
        0x13,
    ),
    (
        "gas module set time (CS placeholder)",
        "FE FE FE 68 30 03 00 00 00 00 00 00 04 0A 15 A0 FF 40 50 12 16 07 15 20 00 16",
        None,
    ),
]


@pytest.mark.parametrize(("name", "wire", "expected"), GOOD, ids=[g[0] for g in GOOD])
def test_golden_frames_decode(name: str, wire: str, expected: tuple[int, str, int, int]) -> None:
    items = decode_frames(h(wire))
    assert len(items) == 1 and isinstance(items[0], Frame), items
    frame = items[0]
    assert (frame.meter_type, frame.address, frame.control, len(frame.data)) == expected
    # re-encoding gives back the same bytes (preamble aside)
    again = cjt188.encode_frame(
        frame.meter_type, frame.address, frame.control, frame.data, preamble=0
    )
    assert again == frame.raw == h(wire).lstrip(b"\xfe")


@pytest.mark.parametrize(
    ("name", "wire", "computed"), BAD_CHECKSUM, ids=[b[0] for b in BAD_CHECKSUM]
)
def test_wrong_checksum_vectors_are_typed_errors(
    name: str, wire: str, computed: int | None
) -> None:
    items = decode_frames(h(wire))
    assert [type(i) for i in items] == [ChecksumError]
    error = items[0]
    assert isinstance(error, ChecksumError)
    assert error.raw == h(wire).lstrip(b"\xfe")
    if computed is not None:
        assert f"should be {computed:02X}" in str(error)


def test_aixiwang_901f_payload() -> None:
    (frame,) = decode_frames(h(GOOD[1][1]))
    assert isinstance(frame, Frame)
    assert frame.di("big") == 0x901F and frame.di_order_for(0x901F) == "big"
    data = decode_metering(frame.payload)
    assert data.current.value == pytest.approx(1000.10)
    assert data.current.unit == "m³"
    assert data.settlement.value == pytest.approx(1000.10)
    assert data.clock is None  # an all-zero clock is "not set", not 0000-00-00
    assert data.status.raw == b"\x00\xff"
    assert data.status.valve is ValveState.OPEN and not data.status.low_battery
    assert data.status.other_bits == 0x00FF  # the vendor byte is kept, not interpreted


def test_hftangyu_payload_decodes_once_checksum_is_fixed() -> None:
    wire = bytearray(h(BAD_CHECKSUM[0][1]))
    wire[-2] = 0x13
    (frame,) = decode_frames(bytes(wire))
    assert isinstance(frame, Frame)
    assert frame.di_order_for(0x901F) == "little"
    data = decode_metering(frame.payload)
    assert data.current.value == pytest.approx(556677.00)
    assert data.clock == dt.datetime(2015, 5, 11, 22, 1, 31)
    # ST 21 84: D1D0 = 01 → valve closed; D2 = 0 → battery fine; D5 and byte 2 vendor bits
    assert data.status.valve is ValveState.CLOSED
    assert not data.status.low_battery
    assert data.status.other_bits == 0x2084


def test_status_bit_maps() -> None:
    assert cjt188.decode_status(b"\x03\x00").valve is ValveState.ABNORMAL
    assert cjt188.decode_status(b"\x05\x00").low_battery
    assert cjt188.decode_status(b"\x02\x00").valve is ValveState.UNKNOWN
    msb = StatusBitMap(
        valve_mask=0xC0,
        valve_values={0x00: ValveState.OPEN, 0x40: ValveState.CLOSED, 0xC0: ValveState.ABNORMAL},
        battery_mask=0x20,
    )
    status = cjt188.decode_status(b"\x60\x00", msb)
    assert status.valve is ValveState.CLOSED and status.low_battery


def test_encoders_match_golden_requests() -> None:
    assert cjt188.request_read_address(order="big") == h(GOOD[2][1])
    assert cjt188.request_read_data(
        "78330011223344", order="little", meter_type=0x10, ser=0, preamble=4
    ) == h(GOOD[4][1])
    assert cjt188.request_valve("00000000000003", True, order="little", ser=1, preamble=3) == h(
        GOOD[6][1]
    )
    assert cjt188.request_valve("00000000000003", False, order="little", ser=1, preamble=3) == h(
        GOOD[7][1]
    )


def test_bad_inputs_are_typed() -> None:
    with pytest.raises(cjt188.AddressError):
        cjt188.encode_address("123")
    with pytest.raises(PayloadError):
        decode_metering(b"\x00" * 5)
    with pytest.raises(PayloadError):
        cjt188.decode_bcd_le(b"\x0a")


def test_echo_then_corrupt_then_good_frame() -> None:
    good = h(GOOD[1][1])
    corrupt = bytearray(good)
    corrupt[20] ^= 0x01
    items = decode_frames(b"\xff\x00\x68\x68" + bytes(corrupt) + b"\x11\x22" + good)
    assert isinstance(items[-1], Frame) and items[-1].raw == good.lstrip(b"\xfe")
    assert any(isinstance(i, ChecksumError) for i in items)


# ---------------------------------------------------------------- hypothesis

addresses = st.text(alphabet="0123456789", min_size=14, max_size=14)
payloads = st.binary(min_size=0, max_size=cjt188.MAX_DATA_LEN)


@given(st.integers(0, 255), addresses, st.integers(0, 255), payloads, st.integers(0, 6))
def test_round_trip(mtype: int, address: str, control: int, data: bytes, preamble: int) -> None:
    wire = cjt188.encode_frame(mtype, address, control, data, preamble=preamble)
    items = [i for i in decode_frames(wire) if isinstance(i, Frame)]
    assert items and items[-1].data == data and items[-1].address == address
    assert items[-1].meter_type == mtype and items[-1].control == control


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in [*points, len(data)]:
        out.append(data[last:p])
        last = p
    return out


@settings(max_examples=300)
@given(st.binary(max_size=400), st.lists(st.integers(0, 10_000), max_size=20))
def test_any_bytes_any_chunking_only_typed_results(data: bytes, cuts: list[int]) -> None:
    decoder = FrameDecoder()
    for chunk in _chunks(data, cuts):
        for item in decoder.feed(chunk):
            assert isinstance(item, Frame | FrameError)


@settings(max_examples=300)
@given(
    st.binary(max_size=300),
    addresses,
    payloads,
    st.lists(st.integers(0, 10_000), max_size=12),
)
def test_noise_before_a_frame_never_hides_it(
    noise: bytes, address: str, data: bytes, cuts: list[int]
) -> None:
    wire = cjt188.encode_frame(0x30, address, 0x81, data, preamble=2)
    decoder = FrameDecoder()
    frames: list[Frame] = []
    for chunk in _chunks(noise + wire, cuts):
        frames += [i for i in decoder.feed(chunk) if isinstance(i, Frame)]
    assert any(f.raw == wire[2:] for f in frames)


def test_noise_68_whose_length_spans_real_frames_does_not_swallow_them() -> None:
    # found by bench_serial's 10 MB stream: a noise 68 whose L and CS happened to fit
    noise = h("68 16 E3 91 7F 05")
    first = h(
        "68 30 28 04 27 92 97 41 83 81 16 90 1F 00 07 28 03 00 2C 53 71 89 00 2C"
        " 00 00 00 01 01 26 20 03 00 40 16"
    )
    second = h(
        "68 30 38 39 86 31 34 39 48 81 16 90 1F 00 25 30 75 00 2C 05 38 52 00 2C"
        " 00 00 00 01 01 26 20 04 00 B8 16"
    )
    frames = [i for i in decode_frames(noise + first + second) if isinstance(i, Frame)]
    assert [f.raw for f in frames] == [first, second]


def test_write_address_encoder_matches_golden_vector() -> None:
    wire = cjt188.request_write_address(
        "00000000000003", "00000000000005", order="little", ser=0xFF, preamble=3
    )
    assert wire == h(GOOD[9][1])


def test_a_wrong_terminator_is_a_typed_error_not_silence() -> None:
    good = cjt188.encode_frame(0x30, "30000000123456", 0x81, b"\x90\x1f\x01", preamble=0)
    bad = good[:-1] + b"\x17"
    decoder = FrameDecoder()
    assert decoder.feed(bad) == []  # no frame …
    (error,) = decoder.rejected  # … but the caller can know why
    assert isinstance(error, cjt188.TerminatorError) and error.raw == bad
    assert "17" in str(error)


def test_a_frame_cut_short_is_a_length_error_at_the_end() -> None:
    good = cjt188.encode_frame(0x30, "30000000123456", 0x81, bytes(22), preamble=2)
    decoder = FrameDecoder()
    assert decoder.feed(good[:-5]) == []
    (error,) = decoder.finish()
    assert isinstance(error, cjt188.LengthError)
    assert "22" in str(error) and error.raw == good[2:-5]
    assert decoder.finish() == []  # the buffer was cleared
    assert FrameDecoder().finish() == []


@pytest.mark.parametrize("length", [0, 1, 0x64, 0x65, 0xC8, 0xFF])
def test_every_length_the_standard_allows(length: int) -> None:
    data = bytes((i * 7) & 0xFF for i in range(length))
    wire = cjt188.encode_frame(0x30, "30000000123456", 0x81, data)
    (frame,) = decode_frames(b"\x00\x68" + wire)  # with noise in front
    assert isinstance(frame, Frame) and frame.data == data
