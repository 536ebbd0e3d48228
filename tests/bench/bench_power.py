"""The power-fail flush: from the edge on the wire (the simulator's GPIO_ACFAILSIG assert, CLOCK_MONOTONIC) to the
journal's last fsync, through the sim pin factory and the real discretes component, with orders in flight.

Reference, measured in the same run on the same journal with the same writers: one plain fsync (what the flush
cannot go below). Goal: p99 under 50 ms (DO-160 warning budget, shared/reference/crash-safety.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

from appliance.discretes.component import build as build_discretes
from appliance.ports import StorageRefused
from tests.bench import Figure
from tests.hardware.harness import FsyncJournal, SimThread, StopRecorder, make_ctx, until

RUNS = 120
WRITERS = 4


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _writer(journal: FsyncJournal) -> None:
    n = 0
    while True:
        n += 1
        try:
            await journal.append("booking", {"item": f"i{n}"})
        except StorageRefused:
            await asyncio.sleep(0.001)


async def _measure(directory: Path) -> tuple[list[float], list[float], list[float], int, int]:
    sim = SimThread()
    device = sim.start()
    ctx = make_ctx(directory, {"pin_factory": "sim", "pin_address": device.pins.address},
                   request_stop=StopRecorder())
    journal = FsyncJournal(directory / "journal.jsonl")
    ctx.flushables.append(journal)
    component = build_discretes(ctx)
    await component.start()
    writers = [asyncio.create_task(_writer(journal)) for _ in range(WRITERS)]
    wire: list[float] = []
    recorded: list[float] = []
    plain: list[float] = []
    try:
        await asyncio.sleep(0.2)
        for _ in range(RUNS):
            flushes = journal.flushes
            sim.call(device.set_power_fail, "GPIO_ACFAILSIG", True)
            edge = device.power_events[-1]["asserted_ns"] / 1e9
            await until(lambda f=flushes: journal.flushes > f, 2.0)
            assert journal.last_fsync is not None and component.power is not None
            wire.append(journal.last_fsync - edge)
            recorded.append(component.power.last_flush_seconds or 0.0)
            sim.call(device.set_power_fail, "GPIO_ACFAILSIG", False)
            await until(lambda: not journal.frozen, 2.0)
            await asyncio.sleep(0.02)  # writes in flight again
            started = time.monotonic()
            await asyncio.to_thread(os.fsync, journal._fd)
            plain.append(time.monotonic() - started)
        stops = len(ctx.request_stop.reasons)
        acknowledged_lost = len(set(journal.acknowledged) - set(journal.durable_seqs()))
    finally:
        for task in writers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await component.stop()
        journal.close()
        sim.stop()
    return wire, recorded, plain, stops, acknowledged_lost


def run() -> list[Figure]:
    logging.getLogger("appliance.discretes").setLevel(logging.ERROR)  # one warning per interrupt otherwise
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parents[2]) as tmp:
        wire, recorded, plain, stops, lost = asyncio.run(_measure(Path(tmp)))
    ms = 1000.0
    reference = statistics.median(plain) * ms
    p50, p99, worst = _pct(wire, 0.5) * ms, _pct(wire, 0.99) * ms, max(wire) * ms
    return [
        Figure("power-fail flush p50 (edge to last fsync)", p50, "ms", reference, "one plain fsync p50",
               p50 / reference if reference else None, f"{len(wire)} runs, {WRITERS} writers in flight"),
        Figure("power-fail flush p99 (edge to last fsync)", p99, "ms", reference, "one plain fsync p50",
               p99 / reference if reference else None, "p99 < 50 ms", p99 < 50.0),
        Figure("power-fail flush max (edge to last fsync)", worst, "ms", goal="report"),
        Figure("one plain fsync with the same writes in flight, p99", _pct(plain, 0.99) * ms, "ms",
               goal="reference: what the journal's disk gives"),
        Figure("flush time the daemon recorded (histogram) p99", _pct(recorded, 0.99) * ms, "ms",
               goal="the daemon's own view, from the edge's arrival"),
        Figure("unwanted restarts in ride-through runs", float(stops), "", goal="0", met=stops == 0),
        Figure("acknowledged orders lost", float(lost), "", goal="0", met=lost == 0),
    ]
