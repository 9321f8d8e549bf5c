"""Serial benchmarks (devices area).

1. A meter read over a real pty against the emulator pacing at 2400 baud 8E1: the total
   time of one 901F request/reply against the wire time of the request + reply bytes
   (11 bits a byte). Target: ≤ wire time + 30 ms.
2. Decoder throughput on a 10 MB stream of mixed frames and noise, fed in 4 KiB chunks:
   frames/s (target ≥ 50,000), and the ratio to a naive per-byte decoder measured on the
   same stream in the same run.

    python bench/run.py serial
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import sys
import time

from fieldkit.devices import cjt188
from fieldkit.devices.cjt188 import Frame, FrameDecoder

READ_TARGET_MS = 30.0
FRAMES_PER_S_TARGET = 50_000
STREAM_BYTES = 10 * 1024 * 1024


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
            exchange = link.exchanges[-1]
            nbytes = len(exchange.request) + len(exchange.reply)
            wires.append(nbytes * 11 / 2400)
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
    ok_read = bench_meter_read()
    ok_decoder = bench_decoder()
    return 0 if ok_read and ok_decoder else 1


if __name__ == "__main__":
    sys.exit(main())
