"""Bad input to the device commands: a clear error in the user's language, before any I/O;
and output that degrades on a console that cannot encode Chinese or "m³", never a crash."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from fieldkit.cli import cli
from fieldkit.devices.cjt188 import ValveState
from fieldkit.devices.emulator import MeterState, example_user_card, start_card_emulator
from fieldkit.devices.emulator import start_meter_emulator as start_meter


def run(*args: str, lang: str = "en") -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--lang", lang])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "port",
    ["socket://nohost:99999", "rfc2217://x", "", "   ", "socket://:80", "bogus://x", "a\x01b"],
)
def test_unusable_port_names_are_one_clear_line(port: str) -> None:
    code, out = run("meter", "read", "--port", port)
    assert code == 2, out
    assert "is not a port fieldkit can open" in out
    for library_text in ("debug|info", "'<=' not supported", "Traceback"):
        assert library_text not in out
    code, out = run("meter", "read", "--port", port, lang="zh")
    assert "不是 fieldkit 能打开的端口" in out


def test_unusable_port_in_chinese_names_the_port() -> None:
    code, out = run("meter", "scan", "--port", "rfc2217://x", lang="zh")
    assert code == 2 and "'rfc2217://x'" in out


@pytest.mark.parametrize("baud", ["0", "123", "-9600", "2401"])
def test_meter_baud_must_be_a_meter_rate(baud: str) -> None:
    for command in (
        ("meter", "read", "--port", "/dev/null"),
        ("meter", "scan", "--port", "/dev/null"),
        ("emulate", "meter"),
    ):
        code, out = run(*command, "--baud", baud)
        assert code == 2, (command, out)
        assert "not a baud rate meters use" in out and "2400" in out


@pytest.mark.parametrize("address", ["abc", "3000000012345", "300000001234567", "3000000012345Z"])
def test_address_checked_before_any_io(address: str) -> None:
    state = MeterState()
    with start_meter("cjt188-2004", state, pace=False) as h:
        code, out = run("meter", "read", "--port", h.port_path, "--address", address)
        assert code == 2, out
        assert "14 digits" in out or "not made of digits" in out
        assert h.emulator.received == b""  # nothing was sent
    code, out = run("emulate", "meter", "--address", address)
    assert code == 2 and "Traceback" not in out


def test_unknown_device_is_refused_with_the_known_ones() -> None:
    code, out = run("meter", "read", "--port", "/dev/null", "--device", "nosuch")
    assert code == 2
    assert "nosuch" in out and "meihua-ic" in out
    code, out = run("card", "read", "--port", "/dev/null", "--device", "nosuch", lang="zh")
    assert code == 2 and "没有设备" in out


def test_raw_prints_the_frames_also_on_failure() -> None:
    with start_meter("cjt188-2004", MeterState(silent=True), pace=False) as h:
        code, out = run(
            "meter",
            "read",
            "--port",
            h.port_path,
            "--profile",
            "cjt188-2004",
            "--baud",
            "2400",
            "--timeout",
            "0.1",
            "--raw",
        )
    assert code == 1
    assert out.count(">> FE FE FE 68") == 3  # the first try and two resends, all shown
    assert "resend 2" in out and "(no reply)" in out
    assert "Nothing at all came back" in out


# ---------------------------------------------------------------- console encodings


def fieldkit(args: list[str], encoding: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    return subprocess.run(
        [sys.executable, "-m", "fieldkit", *args],
        capture_output=True,
        env=env,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("encoding", "lang"),
    [
        ("gbk", "zh"),  # a Chinese Windows console: Chinese fits, "m³" does not
        ("cp1252", "en"),  # a Western one: the English diagnosis still names 低电关阀
    ],
)
def test_no_console_encoding_crashes_meter_card_code_or_search(encoding: str, lang: str) -> None:
    state = MeterState(low_battery=True, valve=ValveState.CLOSED)  # a diagnosis: 低电关阀
    with (
        start_meter("cjt188-2004", state, pace=False) as meter,
        start_card_emulator(example_user_card(), pace=False) as card,
    ):
        runs = [
            ["meter", "read", "--port", meter.port_path, "--device", "meihua-ic"],
            ["card", "read", "--port", card.port_path],
            ["code", "ERR-1"],
            ["search", "低电"],
        ]
        for args in runs:
            done = fieldkit([*args, "--lang", lang], encoding)
            assert done.returncode == 0, (args, done.stderr.decode(errors="replace"))
            assert b"Traceback" not in done.stderr and b"UnicodeEncodeError" not in done.stderr
            text = done.stdout.decode(encoding)  # what was written is valid in that encoding
            assert text.strip(), args
            if args[0] == "meter" and encoding == "gbk":
                assert "123.45 m?" in text and "低电关阀" in text  # "³" degraded, not fatal
            if args[0] == "meter" and encoding == "cp1252":
                assert "123.45 m³" in text and "????" in text  # the Chinese name degraded
            if args[0] == "card":
                assert "12345678" in text


def test_not_a_serial_port_and_nobody_listening_are_said_plainly() -> None:
    code, out = run("meter", "read", "--port", "/dev/null")
    assert code == 1 and "/dev/null is not a serial port" in out
    assert "ioctl" not in out
    code, out = run("meter", "read", "--port", "socket://127.0.0.1:1")
    assert code == 1 and "Nothing answers at socket://127.0.0.1:1" in out
    assert "Errno" not in out
