"""Several server worker processes, each listening on its own socket (Linux SO_REUSEPORT).

uvicorn's ``--workers`` shares one listening socket between its processes: whichever wakes
first accepts a connection and keeps it (keep-alive). Measured with 51 laptops connecting
at once to two workers: 29 to 38 of them ended on one worker, which then worked alone
while the other core idled, and set the slowest answer (``bench/bench_sync.py`` prints
the split). Here each worker binds its own socket to the same address with
``SO_REUSEPORT``; the kernel spreads new connections over them by a hash of their
addresses, evenly on average.

The parent process checks the address is free first (a plain bind: an address another
server holds, with or without SO_REUSEPORT, is refused as before), starts the workers
(``spawn``), restarts one that dies, and on SIGTERM/SIGINT stops them all gracefully.
Elsewhere (no SO_REUSEPORT) ``fieldkit serve`` keeps uvicorn's own ``--workers``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import time
from typing import Any

STOP_TIMEOUT = 20.0  # seconds a worker has to stop gracefully before it is killed


def supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _listening_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def check_free(host: str, port: int) -> None:
    """OSError (errno EADDRINUSE …) when ``host:port`` cannot be bound."""
    _listening_socket(host, port, reuse_port=False).close()


def _die_with_parent(parent: int) -> None:
    """SIGTERM this worker when the parent process dies, even by SIGKILL (Linux)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))
    if os.getppid() != parent:  # it died before the line above
        raise SystemExit(0)


def _worker(options: dict[str, Any], host: str, port: int, parent: int) -> None:
    import uvicorn  # a spawned process: imported here

    _die_with_parent(parent)
    sock = _listening_socket(host, port, reuse_port=True)
    uvicorn.Server(uvicorn.Config(**options)).run(sockets=[sock])


def run(options: dict[str, Any], host: str, port: int, workers: int) -> int:
    """Serve with ``workers`` processes until SIGTERM/SIGINT; the exit status."""
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> multiprocessing.process.BaseProcess:
        process = context.Process(
            target=_worker, args=(options, host, port, os.getpid()), daemon=False
        )
        process.start()
        return process

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    processes = [start() for _ in range(workers)]
    started = time.monotonic()
    status = 0
    try:
        while not stopping:
            time.sleep(0.2)
            for index, process in enumerate(processes):
                if process.is_alive() or stopping:
                    continue
                if time.monotonic() - started < 10:  # cannot start at all (port, database)
                    stopping, status = True, 1
                    break
                processes[index] = start()  # died while serving: replaced, as uvicorn does
    finally:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                process.terminate()  # SIGTERM: uvicorn's graceful shutdown
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(5)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status
