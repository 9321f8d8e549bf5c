"""``fieldkit serve --workers N`` on Linux: one listening socket per worker (SO_REUSEPORT),
so the kernel spreads connections over the workers; the workers stop with the parent."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.sync.conftest import ServerProcess


def _listening_inodes(pid: int, port: int) -> set[int]:
    """Inodes of the sockets ``pid`` listens on at ``port``."""
    wanted = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:  # LISTEN
            wanted.add(int(fields[9]))
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inode = int(target[len("socket:[") : -1])
            if inode in wanted:
                held.add(inode)
    return held


def _workers(server: ServerProcess, count: int = 2) -> list[psutil.Process]:
    """The worker processes listening on the server's port (waits for ``count``: the
    server answers as soon as its first worker does)."""
    assert server.proc is not None
    parent = psutil.Process(server.proc.pid)
    deadline = time.monotonic() + 30
    while True:
        found = [p for p in parent.children() if _listening_inodes(p.pid, server.port)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.fixture
def two_workers(tmp_path: Path):  # type: ignore[no-untyped-def]
    server = ServerProcess(f"sqlite:///{(tmp_path / 'server.db').as_posix()}", tmp_path,
                           "--workers", "2")  # fmt: skip
    server.start()
    yield server
    server.stop()


def test_each_worker_listens_on_its_own_socket(two_workers: ServerProcess) -> None:
    workers = _workers(two_workers)
    assert len(workers) == 2, two_workers.log()
    inodes = [_listening_inodes(w.pid, two_workers.port) for w in workers]
    assert all(len(i) == 1 for i in inodes), inodes
    assert inodes[0] != inodes[1], "the workers share one listening socket"
    clients = [httpx.Client(base_url=two_workers.url) for _ in range(40)]
    try:
        for client in clients:
            assert client.get("/healthz").status_code == 200
        held = []
        for worker in workers:
            mine = [
                c
                for c in worker.net_connections("tcp")
                if c.status == "ESTABLISHED" and c.laddr.port == two_workers.port
            ]
            held.append(len(mine))
        assert sum(held) == 40 and min(held) >= 8, held  # spread by the kernel's hash
    finally:
        for client in clients:
            client.close()


def test_the_port_of_a_running_server_is_refused(two_workers: ServerProcess) -> None:
    """A second server on the same port is an error, as with a single socket (it does not
    join the first one's workers)."""
    assert len(_workers(two_workers)) == 2
    other = subprocess.run(
        [sys.executable, "-m", "fieldkit", "serve", "--port", str(two_workers.port),
         "--db", two_workers.db_url, "--workers", "2", "--lang", "en"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert other.returncode == 1, (other.stdout, other.stderr)
    assert "in use" in other.stderr and "Traceback" not in other.stderr, other.stderr


def test_the_workers_stop_with_the_server(two_workers: ServerProcess) -> None:
    workers = _workers(two_workers)
    assert len(workers) == 2
    assert two_workers.proc is not None
    two_workers.proc.send_signal(signal.SIGKILL)  # a power cut of the parent alone
    two_workers.proc.wait(10)
    _gone, alive = psutil.wait_procs(workers, timeout=20)
    assert not alive, alive
    with socket.socket() as probe:  # the port is free again
        probe.bind(("127.0.0.1", two_workers.port))
