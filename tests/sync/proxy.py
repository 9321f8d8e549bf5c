"""A small threaded TCP proxy that cuts connections at chosen points (test helper)."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class CutPlan:
    """What to do with the next connection: pass it through, or cut it after ``limit``
    bytes in one direction ("up": client → server, i.e. before the response; "down":
    server → client, i.e. during or after a response)."""

    direction: str | None = None
    limit: int = 0


@dataclass
class FaultyProxy:
    target_port: int
    fault_rate: float = 0.4
    max_cut: int = 30_000
    seed: int = 1
    port: int = 0
    cuts: dict[str, int] = field(default_factory=lambda: {"up": 0, "down": 0, "none": 0})

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _plan(self) -> CutPlan:
        # Keep-alive connections carry many requests, so a faulty connection is cut after a
        # random number of bytes (possibly several requests later).
        with self._lock:
            if self._rng.random() >= self.fault_rate:
                self.cuts["none"] += 1
                return CutPlan()
            direction = self._rng.choice(["up", "down"])
            self.cuts[direction] += 1
            return CutPlan(direction, self._rng.randint(0, self.max_cut))

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _addr = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            plan = self._plan()
            state = {"closed": False}
            lock = threading.Lock()

            def close_both(
                a: socket.socket = client,
                b: socket.socket = upstream,
                state: dict[str, bool] = state,
                lock: threading.Lock = lock,
            ) -> None:
                with lock:
                    if state["closed"]:
                        return
                    state["closed"] = True
                for s in (a, b):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)
                    s.close()

            for src, dst, name in ((client, upstream, "up"), (upstream, client, "down")):
                limit = plan.limit if plan.direction == name else None
                threading.Thread(
                    target=self._pipe, args=(src, dst, limit, close_both), daemon=True
                ).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket, limit: int | None, close_both) -> None:
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) >= limit:
                    dst.sendall(data[: max(0, limit - sent)])
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        close_both()

    def close(self) -> None:
        self._stop.set()
        self._server.close()
