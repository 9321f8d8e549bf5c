"""Meter reading over a real pty against the emulator (pyserial's real code path)."""

from __future__ import annotations

from pathlib import Path

import pytest
import serial

from fieldkit.devices import cjt188
from fieldkit.devices.cjt188 import ChecksumError, ValveState
from fieldkit.devices.emulator import EmulatorHandle, MeterState, start_meter_emulator
from fieldkit.devices.meter import MeterError, MeterLink, NotConfirmedError, probe, read_meter
from fieldkit.devices.profiles import MeterProfile
from fieldkit.devices.transport import (
    NoReplyError,
    PortInUseError,
    PortNotFoundError,
    SerialTransport,
    classify_open_error,
)


def test_read_meter_by_broadcast_address(
    meter_2004: EmulatorHandle, meter_state: MeterState, profiles: dict[str, MeterProfile]
) -> None:
    meter_state.current = 4321.07
    meter_state.valve = ValveState.CLOSED
    meter_state.low_battery = True
    reading = read_meter(meter_2004.port_path, profiles["cjt188-2004"], timeout=1.0)
    assert reading.address == meter_state.address
    assert reading.metering.current.value == pytest.approx(4321.07)
    assert reading.metering.status.valve is ValveState.CLOSED
    assert reading.metering.status.low_battery
    assert reading.metering.clock == meter_state.clock
    # the raw frames are kept: broadcast read-address, then 901F
    assert len(reading.exchanges) == 2
    assert reading.exchanges[0].request == cjt188.request_read_address(order="big", ser=1)
    assert reading.exchanges[1].reply.lstrip(b"\xfe")[0] == 0x68
    as_dict = reading.to_dict()
    assert as_dict["valve"] == "closed" and as_dict["frames"][1]["reply"].startswith("FE FE FE 68")


def test_wrong_di_order_gets_no_reply(
    meter_2004: EmulatorHandle, profiles: dict[str, MeterProfile]
) -> None:
    with SerialTransport(meter_2004.port_path) as t:
        link = MeterLink(t, profiles["cjt188-2018"], timeout=0.3, retries=1)
        with pytest.raises(NoReplyError, match="No reply at all"):
            link.read_address()
        assert [e.attempt for e in link.exchanges] == [1, 2]  # resent once on silence


def test_corrupt_reply_is_a_checksum_error(
    meter_2004: EmulatorHandle, meter_state: MeterState, profiles: dict[str, MeterProfile]
) -> None:
    meter_state.corrupt_next_reply = True
    with SerialTransport(meter_2004.port_path) as t:
        link = MeterLink(t, profiles["cjt188-2004"], retries=0)
        with pytest.raises(ChecksumError):
            link.read_metering(meter_state.address)
        # the next read works: nothing was lost, the line resyncs
        assert link.read_metering(meter_state.address).current.value == pytest.approx(123.45)


def test_corrupt_reply_is_resent_by_default(
    meter_2004: EmulatorHandle, meter_state: MeterState, profiles: dict[str, MeterProfile]
) -> None:
    meter_state.corrupt_next_reply = True
    with SerialTransport(meter_2004.port_path) as t:
        link = MeterLink(t, profiles["cjt188-2004"])
        assert link.read_metering(meter_state.address).current.value == pytest.approx(123.45)
    first, second = link.exchanges
    assert "Checksum" in first.error and first.frame is None
    assert second.attempt == 2 and second.frame is not None
    assert second.request == first.request  # the same request (same SER) again


def test_adapter_echo_is_ignored(profiles: dict[str, MeterProfile]) -> None:
    with start_meter_emulator(profiles["cjt188-2018"], pace=False, echo=True) as h:
        reading = read_meter(h.port_path, profiles["cjt188-2018"], timeout=1.0)
        assert reading.metering.current.value == pytest.approx(123.45)


def test_probe_finds_baud_and_di_order(profiles: dict[str, MeterProfile]) -> None:
    with start_meter_emulator(profiles["cjt188-2018"], baudrate=9600, pace=False) as h:
        result = probe(
            h.port_path, [profiles["cjt188-2004"], profiles["cjt188-2018"]], timeout=0.25
        )
        assert (result.profile.id, result.baudrate) == ("cjt188-2018", 9600)
        assert result.address == "30000000123456"
        # 2400×2, 4800×2 read-address unanswered; 9600: 2004 silent, 2018 answered; 901F 1F 90
        assert len(result.exchanges) == 7
        assert result.exchanges[-1].request[-5:-3] == b"\x1f\x90"  # DI, then SER, CS, 16
        assert result.metering is not None and result.metering.current.value == pytest.approx(
            123.45
        )


def test_probe_with_nothing_there_says_so(profiles: dict[str, MeterProfile]) -> None:
    state = MeterState(silent=True)
    with (
        start_meter_emulator(profiles["cjt188-2004"], state, pace=False) as h,
        pytest.raises(NoReplyError, match="Nothing at all came back"),
    ):
        probe(h.port_path, [profiles["cjt188-2004"]], bauds=[2400], timeout=0.2)


def test_valve_write_needs_confirmation(
    meter_2004: EmulatorHandle, meter_state: MeterState, profiles: dict[str, MeterProfile]
) -> None:
    emulator = meter_2004.emulator
    with SerialTransport(meter_2004.port_path, reply_timeout=0.5) as t:
        link = MeterLink(t, profiles["cjt188-2004"])
        with pytest.raises(NotConfirmedError):
            link.set_valve(meter_state.address, False, confirm=lambda _what: False)
        assert emulator.received == b""  # nothing was sent
        asked: list[str] = []
        link.set_valve(meter_state.address, False, confirm=lambda what: asked.append(what) or True)
        assert meter_state.valve is ValveState.CLOSED
        assert meter_state.address in asked[0]


def test_port_in_use(meter_2004: EmulatorHandle) -> None:
    with (
        SerialTransport(meter_2004.port_path),
        pytest.raises(PortInUseError, match="in use by another program"),
    ):
        SerialTransport(meter_2004.port_path)


def test_unplugged_port(tmp_path: object) -> None:
    with pytest.raises(PortNotFoundError, match="fieldkit ports"):
        SerialTransport("/dev/ttyUSB-fieldkit-missing")


def test_loop_url_works() -> None:
    with SerialTransport("loop://", reply_timeout=0.2) as t:
        request = cjt188.request_read_address()
        t.write(request)
        assert t.read_until(lambda _c: False) == request


@pytest.mark.hardware
def test_real_meter(request: pytest.FixtureRequest, profiles: dict[str, MeterProfile]) -> None:
    port = request.config.getoption("--port")
    result = probe(port, list(profiles.values()))
    reading = read_meter(port, result.profile, address=result.address, baudrate=result.baudrate)
    assert reading.metering.raw and len(reading.metering.raw) == 19


def test_windows_permission_error_reads_as_port_in_use() -> None:
    # the exception pyserial's Windows backend raises when another program holds the port
    exc = serial.SerialException(
        "could not open port 'COM3': PermissionError(13, 'Access is denied.', None, 5)"
    )
    error = classify_open_error("COM3", exc)
    assert isinstance(error, PortInUseError)
    assert "in use by another program" in str(error) and "COM3" in str(error)
    missing = serial.SerialException(
        "could not open port 'COM9': FileNotFoundError(2, 'The system cannot find the file "
        "specified.', None, 2)"
    )
    assert isinstance(classify_open_error("COM9", missing), PortNotFoundError)


def test_spy_url_traces_every_byte(
    meter_2004: EmulatorHandle, profiles: dict[str, MeterProfile], tmp_path: Path
) -> None:
    trace = tmp_path / "trace.txt"
    url = f"spy://{meter_2004.port_path}?file={trace}"
    reading = read_meter(url, profiles["cjt188-2004"], timeout=1.0)
    assert reading.metering.current.value == pytest.approx(123.45)
    text = trace.read_text(encoding="utf-8")
    assert "TX   0000  FE FE FE 68 AA AA AA AA" in text  # the broadcast read-address
    assert "83 03 81 0A" in text  # the meter's address reply


def test_babbling_line_does_not_hang(profiles: dict[str, MeterProfile]) -> None:
    import threading
    import time

    with SerialTransport("loop://", reply_timeout=0.2) as t:
        stop = threading.Event()

        def babble() -> None:
            while not stop.is_set():
                t._port.write(b"\xfe\x00\x68" * 10)
                time.sleep(0.005)

        thread = threading.Thread(target=babble, daemon=True)
        thread.start()
        started = time.monotonic()
        try:
            with pytest.raises((NoReplyError, ChecksumError)):
                MeterLink(t, profiles["cjt188-2004"]).read_address(timeout=0.2)
        finally:
            stop.set()
            thread.join()
        assert time.monotonic() - started < 2.0


def test_address_write_needs_confirmation_and_own_address(
    meter_2004: EmulatorHandle, meter_state: MeterState, profiles: dict[str, MeterProfile]
) -> None:
    old = meter_state.address
    with SerialTransport(meter_2004.port_path, reply_timeout=0.5) as t:
        link = MeterLink(t, profiles["cjt188-2004"])
        with pytest.raises(NotConfirmedError):
            link.write_address(old, "30000000999999", confirm=lambda _what: False)
        with pytest.raises(MeterError):
            link.write_address(cjt188.BROADCAST_ADDRESS, "30000000999999", confirm=lambda _w: True)
        assert meter_2004.emulator.received == b""
        link.write_address(old, "30000000999999", confirm=lambda _what: True)
        assert meter_state.address == "30000000999999"
        assert link.read_address() == "30000000999999"


def test_a_late_reply_is_never_credited_to_a_later_request(
    profiles: dict[str, MeterProfile],
) -> None:
    from fieldkit.devices.emulator import MeterFaults

    state = MeterState()
    profile = profiles["cjt188-2004"]
    with (
        start_meter_emulator(profile, state, pace=False, faults=MeterFaults(delay=0.5)) as h,
        SerialTransport(h.port_path) as t,
    ):
        link = MeterLink(t, profile, retries=0)
        first = cjt188.request_read_data(state.address, ser=1)
        second = cjt188.request_read_data(state.address, ser=2)
        with pytest.raises(NoReplyError):
            link.exchange(first, timeout=0.1)
        frame = link.exchange(second, timeout=2.0)
        assert frame.ser == 2  # the reply to `first` came in between and was passed over
        assert link.exchanges[-1].reply.count(b"\x68\x30") == 2  # both replies were on the line


def test_while_probing_a_late_reply_counts_for_its_own_request(
    profiles: dict[str, MeterProfile],
) -> None:
    """The first DI order's reply arrives after the second order was sent: it is the first
    order that is credited (and confirmed by 901F), not the request sent last."""
    from fieldkit.devices.emulator import MeterFaults

    faults = MeterFaults(delay=0.6)  # the window is 0.3 s: the 2018 order goes out meanwhile
    with start_meter_emulator(profiles["cjt188-2004"], pace=False, faults=faults) as h:
        reading = read_meter(h.port_path, [profiles["cjt188-2004"], profiles["cjt188-2018"]])
    assert reading.profile_id == "cjt188-2004"
    read_address = [e for e in reading.exchanges if e.request[-5:-3] in (b"\x81\x0a", b"\x0a\x81")]
    assert len(read_address) == 2  # 90 1F-order, then (window over) 1F 90-order
    late = read_address[1].frame  # arrived while the second was the latest request …
    assert late is not None and late.data[:2] == b"\x81\x0a"  # … but answers the first
    assert read_address[1].request[-5:-3] == b"\x0a\x81"
