"""A real pcscd with the vpcd virtual reader for the PC/SC tests (no mocks).

:func:`start_pcscd` runs ``pcscd --foreground`` with a private reader.conf directory that
loads the vpcd driver (Debian ``vsmartcard-vpcd``) on a free TCP port, and waits until
pyscard lists its readers. pcscd's client socket is fixed at ``/run/pcscd/pcscd.comm`` in
Debian's build, so only one pcscd can run: if one is already running (e.g. socket-activated
by systemd), it is used as it is, with the vpcd slot Debian configures
(``/etc/reader.conf.d/vpcd``, port 35963).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

INSTALL_HINT = "run `bash scripts/install-pcsc` (as root or with sudo)"
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
READER_PREFIX = "fieldkit vpcd"  # the tests' own pcscd
SYSTEM_PREFIX = "Virtual PCD"  # Debian's /etc/reader.conf.d/vpcd
LOCK_FILE = Path(tempfile.gettempdir()) / "fieldkit-pcsc-tests.lock"


@dataclass
class Pcscd:
    """The pcscd the tests talk to: the vpcd port of slot 0, the reader names, its log."""

    port: int
    readers: list[str]
    log: Path | None
    process: subprocess.Popen[bytes] | None
    lock: IO[bytes] | None = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.process.kill()
                self.process.wait()

    def release(self) -> None:
        """Stop pcscd and let the next test session (another checkout, another user) run."""
        self.stop()
        if self.lock is not None:
            self.lock.close()
            self.lock = None


def session_lock(timeout: float = 600.0) -> IO[bytes]:
    """One PC/SC test session at a time on this machine: there is only one pcscd socket, so
    two concurrent sessions would read each other's virtual cards."""
    lock = LOCK_FILE.open("ab")
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return lock
        except BlockingIOError:
            if time.monotonic() > deadline:
                lock.close()
                pytest.fail(f"another PC/SC test session has held {LOCK_FILE} for {timeout} s")
            time.sleep(0.2)


def require_pcsc() -> None:
    """FAIL (never skip) with the install hint when a part of the PC/SC chain is missing."""
    missing = []
    if shutil.which("pcscd") is None and not Path("/usr/sbin/pcscd").exists():
        missing.append("pcscd (Debian package pcscd)")
    if not VPCD_DRIVER.exists():
        missing.append(f"the vpcd driver {VPCD_DRIVER} (Debian package vsmartcard-vpcd)")
    try:
        import smartcard.System  # noqa: F401
    except ImportError:
        missing.append("pyscard in .venv")
    if missing:
        pytest.fail(f"PC/SC test chain incomplete, missing: {'; '.join(missing)}. {INSTALL_HINT}")


def reader_names() -> list[str]:
    from smartcard.System import readers

    return [str(r) for r in readers()]


def _free_port_pair() -> int:
    """A port p with p and p+1 free (vpcd listens on one port per slot, two slots)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port >= 65535:
            continue
        with socket.socket() as s2:
            try:
                s2.bind(("0.0.0.0", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free TCP port pair for vpcd")


def _wait_for_readers(deadline: float, process: subprocess.Popen[bytes] | None) -> list[str]:
    last: object = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            break
        try:
            names = [n for n in reader_names() if n.startswith(READER_PREFIX)]
            if names:
                return names
            last = "no Virtual PCD reader listed"
        except Exception as exc:  # pyscard's own types while pcscd starts
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"pcscd did not list the vpcd reader: {last}")


def start_pcscd(workdir: Path, port: int | None = None) -> Pcscd:
    require_pcsc()
    pcscd = shutil.which("pcscd") or "/usr/sbin/pcscd"
    names: list[str] = []
    with contextlib.suppress(Exception):
        names = reader_names()
    if any(n.startswith(READER_PREFIX) for n in names):
        pytest.fail(
            "a pcscd started by an earlier fieldkit test session is still running "
            f"({', '.join(names)}); stop it (kill the pid in /run/pcscd/pcscd.pid)"
        )
    system = [n for n in names if n.startswith(SYSTEM_PREFIX)]
    if system:  # a system pcscd already serves Debian's vpcd slot
        return Pcscd(35963, system, None, None)
    if PCSCD_SOCKET.exists() and os.geteuid() != 0:
        pytest.fail(f"a pcscd is running without the vpcd reader; stop it or {INSTALL_HINT}")
    if os.geteuid() != 0 and not os.access(PCSCD_SOCKET.parent, os.W_OK):
        pytest.fail(
            f"starting pcscd needs write access to {PCSCD_SOCKET.parent} (run the tests as root, "
            f"or start the system pcscd after installing vsmartcard-vpcd); {INSTALL_HINT}"
        )
    port = port or _free_port_pair()
    conf = workdir / "reader.conf.d"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "vpcd").write_text(
        f'FRIENDLYNAME "{READER_PREFIX}"\n'
        f"DEVICENAME   /dev/null:0x{port:04X}\n"
        f"LIBPATH      {VPCD_DRIVER}\n"
        f"CHANNELID    0x{port:04X}\n",
        encoding="ascii",
    )
    log = workdir / "pcscd.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [pcscd, "--foreground", "--apdu", "--info", "-c", str(conf)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        names = _wait_for_readers(time.monotonic() + 15, process)
    except RuntimeError as exc:
        handle = Pcscd(port, [], log, process)
        handle.stop()
        pytest.fail(f"{exc}\n--- pcscd log ---\n{log.read_text(errors='replace')[-3000:]}")
    return Pcscd(port, names, log, process)


def card_present(reader: str) -> bool:
    """What pcscd currently says about the slot (SCardGetStatusChange, no waiting)."""
    from smartcard import scard

    result, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert result == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(result)
    try:
        result, states = scard.SCardGetStatusChange(
            context, 0, [(reader, scard.SCARD_STATE_UNAWARE)]
        )
        assert result == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(result)
        return bool(states[0][1] & scard.SCARD_STATE_PRESENT)
    finally:
        scard.SCardReleaseContext(context)


def wait_card_state(reader: str, present: bool, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if card_present(reader) == present:
            return
        time.sleep(0.05)
    raise AssertionError(f"pcscd never saw the card {'inserted' if present else 'removed'}")
