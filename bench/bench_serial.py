"""Serial benchmarks (devices area); every time is set against a baseline from the same run.

1. A 901F request/reply over a real pty against the emulator pacing at 2400 baud 8E1, with
   the profile known: total time against the wire time of the bytes (11 bits a byte).
   Target: ≤ wire time + 30 ms.
2. Time to a *confirmed* read (profile found by read-address + a 901F read) from a cold
   start with no cache, for meters answering in each DI order (2004 "90 1F", 2018 "1F 90",
   and 2018 data with read-address in any order) × 2400/4800/9600 baud, against the wire
   time of the frames exchanged. Targets: ≤ 1.5 s at 2400 baud; with a cache hit (the same
   port again) ≤ wire time + 50 ms.
3. Nothing attached (a port where nobody answers), default settings: a clear answer in
   ≤ 5 s; ratio to one probe window.
4. The TUI's F6 screen: its first open (composed and mounted) against a bare screen with a
   Label and a Footer in the same app. Target: ≤ 200 ms.
5. Decoder throughput on a 10 MB stream of mixed frames and noise, fed in 4 KiB chunks:
   frames/s (target ≥ 50,000), and the ratio to a naive per-byte decoder measured on the
   same stream in the same run.

    python bench/run.py serial
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fieldkit.devices import cjt188
from fieldkit.devices.cjt188 import Frame, FrameDecoder

READ_TARGET_MS = 30.0
COLD_TARGET_S = 1.5
CACHE_TARGET_MS = 50.0
NOTHING_TARGET_S = 5.0
F6_TARGET_MS = 200.0
FRAMES_PER_S_TARGET = 50_000
STREAM_BYTES = 10 * 1024 * 1024


def _wire(exchanges: list[Any], baud: int) -> float:
    return sum(len(e.request) + len(e.reply) for e in exchanges) * 11 / baud


def bench_meter_read(rounds: int = 15) -> bool:
    if sys.platform == "win32":  # pragma: no cover
        print("meter read: skipped (no pty on Windows; use a com0com pair)")
        return True
    from fieldkit.devices.emulator import MeterState, start_meter_emulator
    from fieldkit.devices.meter import MeterLink
    from fieldkit.devices.profiles import load_profiles
    from fieldkit.devices.transport import SerialTransport

    profile = load_profiles().profile("cjt188-2004")
    state = MeterState()
    totals: list[float] = []
    wires: list[float] = []
    with (
        start_meter_emulator(profile, state, baudrate=2400, pace=True) as handle,
        SerialTransport(handle.port_path, baudrate=2400, parity="E") as transport,
    ):
        link = MeterLink(transport, profile)
        link.read_metering(state.address)  # warm-up
        for _ in range(rounds):
            link.exchanges.clear()
            started = time.perf_counter()
            link.read_metering(state.address)
            totals.append(time.perf_counter() - started)
            wires.append(_wire(link.exchanges[-1:], 2400))
    total = statistics.median(totals) * 1000
    worst = max(totals) * 1000
    wire = statistics.median(wires) * 1000
    ok = total <= wire + READ_TARGET_MS
    print(
        f"meter read @2400 8E1: median {total:.1f} ms (worst {worst:.1f} ms), wire time "
        f"{wire:.1f} ms, overhead {total - wire:+.1f} ms (target ≤ +{READ_TARGET_MS:.0f} ms), "
        f"ratio to wire time {total / wire:.3f}  {'OK' if ok else 'MISSED'}"
    )
    return ok


METERS = [
    ("2004", "cjt188-2004", None),
    ("2018", "cjt188-2018", None),
    ("2018 data, address any order", "cjt188-2018", (("little",), ("big", "little"))),
]


def bench_confirmed_reads() -> bool:
    if sys.platform == "win32":  # pragma: no cover
        print("confirmed reads: skipped (no pty on Windows)")
        return True
    from fieldkit.devices.emulator import MeterFaults, MeterState, start_meter_emulator
    from fieldkit.devices.linkcache import LinkCache
    from fieldkit.devices.meter import read_meter

    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for name, profile_id, orders in METERS:
            faults = (
                MeterFaults(data_orders=orders[0], address_orders=orders[1]) if orders else None
            )
            for baud in (2400, 4800, 9600):
                cache = LinkCache(Path(tmp) / f"{profile_id}-{name}-{baud}.json")
                with start_meter_emulator(
                    profile_id, MeterState(), baudrate=baud, pace=True, faults=faults
                ) as handle:
                    started = time.perf_counter()
                    cold = read_meter(handle.port_path, cache=cache)
                    cold_s = time.perf_counter() - started
                    cold_wire = _wire(cold.exchanges, baud)
                    started = time.perf_counter()
                    hit = read_meter(handle.port_path, cache=cache)
                    hit_s = time.perf_counter() - started
                    hit_wire = _wire(hit.exchanges, baud)
                cold_ok = baud != 2400 or cold_s <= COLD_TARGET_S
                hit_ok = hit.from_cache and hit_s <= hit_wire + CACHE_TARGET_MS / 1000
                ok = ok and cold_ok and hit_ok
                print(
                    f"meter {name} @{baud}: cold {cold_s * 1000:.0f} ms "
                    f"({len(cold.exchanges)} requests, wire {cold_wire * 1000:.0f} ms, ratio "
                    f"{cold_s / cold_wire:.2f}"
                    + (f", target ≤ {COLD_TARGET_S} s" if baud == 2400 else "")
                    + f") {'OK' if cold_ok else 'MISSED'}; cache hit {hit_s * 1000:.0f} ms "
                    f"(wire {hit_wire * 1000:.0f} ms, overhead {(hit_s - hit_wire) * 1000:+.0f} "
                    f"ms, target ≤ +{CACHE_TARGET_MS:.0f}) {'OK' if hit_ok else 'MISSED'}"
                )
    return ok


def bench_nothing_attached() -> bool:
    if sys.platform == "win32":  # pragma: no cover
        return True
    from fieldkit.devices.emulator import MeterState, start_meter_emulator
    from fieldkit.devices.meter import NoReplyError, read_meter
    from fieldkit.devices.profiles import load_profiles

    window = load_profiles().profile("cjt188-2004").timing.probe
    with start_meter_emulator("cjt188-2004", MeterState(silent=True), pace=True) as handle:
        started = time.perf_counter()
        try:
            read_meter(handle.port_path)
            message = "a meter answered?"
        except NoReplyError as exc:
            message = str(exc)
        elapsed = time.perf_counter() - started
    ok = elapsed <= NOTHING_TARGET_S and message != "a meter answered?"
    print(
        f"nothing attached: answer in {elapsed:.2f} s (target ≤ {NOTHING_TARGET_S:.0f} s; "
        f"{elapsed / window:.1f}× one probe wait of {window} s): {message[:60]}…  "
        f"{'OK' if ok else 'MISSED'}"
    )
    return ok


def bench_f6_open(rounds: int = 5) -> bool:
    """Wall time and the UI thread's CPU time (steady on a loaded machine) to open F6."""
    import asyncio

    from textual.app import App
    from textual.screen import Screen
    from textual.widgets import Footer, Label

    from fieldkit.tui.screens.device import DeviceScreen

    class Bare(Screen[None]):
        def compose(self) -> Any:
            yield Label("fieldkit")
            yield Footer()

    times: dict[str, list[tuple[float, float]]] = {"bare": [], "device": []}

    async def measure() -> None:
        app: App[None] = App()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            for _round in range(rounds + 1):
                for name, kind in (("device", DeviceScreen), ("bare", Bare)):
                    wall, cpu = time.perf_counter(), time.thread_time()
                    await app.push_screen(kind())
                    times[name].append((time.perf_counter() - wall, time.thread_time() - cpu))
                    await pilot.pause()
                    await app.pop_screen()
                    await pilot.pause()

    asyncio.run(measure())
    first_wall, first_cpu = (t * 1000 for t in times["device"][0])
    device_wall = statistics.median(t[0] for t in times["device"][1:]) * 1000
    device_cpu = statistics.median(t[1] for t in times["device"][1:]) * 1000
    bare_wall = statistics.median(t[0] for t in times["bare"][1:]) * 1000
    bare_cpu = statistics.median(t[1] for t in times["bare"][1:]) * 1000
    ok = first_cpu <= F6_TARGET_MS
    import os

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"F6 device screen: first open {first_wall:.0f} ms wall / {first_cpu:.0f} ms UI-thread "
        f"CPU (target ≤ {F6_TARGET_MS:.0f} ms), then median {device_wall:.0f} / "
        f"{device_cpu:.0f} ms; bare screen {bare_wall:.0f} / {bare_cpu:.0f} ms; ratio "
        f"{device_cpu / bare_cpu:.1f}× (load average {load:.1f})  {'OK' if ok else 'MISSED'}"
    )
    return ok


def make_stream(size: int, seed: int = 188) -> tuple[bytes, int]:
    rng = random.Random(seed)
    frames = []
    for i in range(64):
        payload = cjt188.encode_metering(
            rng.randrange(0, 10**6) / 100,
            rng.randrange(0, 10**6) / 100,
            dt.datetime(2026, 1, 1),
            bytes((i & 7, 0)),
        )
        address = f"{rng.randrange(10**14):014d}"
        frames.append(
            cjt188.encode_frame(
                0x30, address, 0x81, b"\x90\x1f\x00" + payload, preamble=rng.randrange(0, 5)
            )
        )
    noise = bytes(rng.randrange(256) for _ in range(1 << 16))
    out = bytearray()
    count = 0
    while len(out) < size:
        if rng.random() < 0.3:
            start = rng.randrange(len(noise) - 32)
            out += noise[start : start + rng.randrange(1, 24)]
        out += frames[rng.randrange(len(frames))]
        count += 1
    return bytes(out), count


def naive_decode(data: bytes) -> int:
    """The per-byte loop the real decoder avoids (reference for the ratio)."""
    found = 0
    buf = bytearray()
    for byte in data:
        buf.append(byte)
        while buf and buf[0] != 0x68:
            del buf[0]
        if len(buf) < 11:
            continue
        end = 13 + buf[10]
        if len(buf) < end:
            continue
        total = 0
        for b in buf[: end - 2]:
            total = (total + b) & 0xFF
        if buf[end - 1] == 0x16 and total == buf[end - 2]:
            found += 1
            del buf[:end]
        else:
            del buf[0]
    return found


def bench_decoder() -> bool:
    stream, sent = make_stream(STREAM_BYTES)
    chunk = 4096
    decoder = FrameDecoder()
    started = time.perf_counter()
    frames = 0
    for offset in range(0, len(stream), chunk):
        for item in decoder.feed(stream[offset : offset + chunk]):
            frames += isinstance(item, Frame)
    elapsed = time.perf_counter() - started
    rate = frames / elapsed

    sample = stream[: 256 * 1024]
    started = time.perf_counter()
    naive_frames = naive_decode(sample)
    naive_elapsed = time.perf_counter() - started
    naive_rate = naive_frames / naive_elapsed
    ok = rate >= FRAMES_PER_S_TARGET and frames >= sent
    print(
        f"decoder: {len(stream) / 1e6:.1f} MB, {frames} frames of {sent} sent in {elapsed:.2f} s = "
        f"{rate:,.0f} frames/s (target ≥ {FRAMES_PER_S_TARGET:,}); naive per-byte decoder "
        f"{naive_rate:,.0f} frames/s on the first 256 KiB; ratio {rate / naive_rate:.1f}×  "
        f"{'OK' if ok else 'MISSED'}"
    )
    return ok


def main() -> int:
    results = [
        bench_meter_read(),
        bench_confirmed_reads(),
        bench_nothing_attached(),
        bench_f6_open(),
        bench_decoder(),
    ]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
