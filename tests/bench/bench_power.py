"""The power-fail flush: from the edge on the wire (the simulator's GPIO_ACFAILSIG assert, CLOCK_MONOTONIC) to the
return of the storage component's emergency_flush (journal drained and fsynced, then os.sync within its budget),
through the sim pin factory and the real discretes component, with passengers' orders in flight via ctx.outbox.

Reference, measured in the same run on the same state directory with the same writers: one plain fsync of a file
there (what no flush can go below). Goal: p99 under 50 ms (shared/reference/crash-safety.md).
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
from typing import Any

from appliance.discretes import COMPONENT as DISCRETES
from appliance.ports import FLUSHABLES, Flushable, StorageRefused
from appliance.storage import COMPONENT as STORAGE
from tests.bench import Figure
from tests.hardware.harness import SimThread, StopRecorder, make_ctx, until

RUNS = 120
WRITERS = 4


class TimedFlushable:
    """Records when the wrapped Flushable's emergency_flush returned (its last fsync done)."""

    def __init__(self, inner: Flushable) -> None:
        self.inner = inner
        self.done: float | None = None
        self.flushes = 0
        self.frozen = False

    async def emergency_flush(self) -> None:
        self.frozen = True
        await self.inner.emergency_flush()
        self.done = time.monotonic()
        self.flushes += 1

    def resume_writes(self) -> None:
        self.inner.resume_writes()
        self.frozen = False


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _writer(outbox: Any, acknowledged: list[str]) -> None:
    n = 0
    while True:
        n += 1
        try:
            acknowledged.append((await outbox.append("booking", {"item": f"i{n}"})).id)
        except StorageRefused:
            await asyncio.sleep(0.001)


async def _measure(directory: Path) -> dict[str, Any]:
    sim = SimThread()
    device = sim.start()
    # The bench releases the line as soon as the flush is seen; on a loaded shared machine that can take longer
    # than the aircraft's 200 ms ride-through, and the daemon then rightly stops. A wider window keeps every run a
    # ride-through (the flush latency measured does not depend on it).
    ctx = make_ctx(directory, {"pin_factory": "sim", "pin_address": device.pins.address, "ride_through_ms": 2000},
                   request_stop=StopRecorder())
    storage = ctx.build(STORAGE)
    ctx.services.withdraw(FLUSHABLES, storage)
    timed = TimedFlushable(storage)
    ctx.flushables.append(timed)
    discretes = ctx.build(DISCRETES)
    await storage.start()
    await discretes.start()
    acknowledged: list[str] = []
    writers = [asyncio.create_task(_writer(ctx.outbox, acknowledged)) for _ in range(WRITERS)]
    wire: list[float] = []
    recorded: list[float] = []
    plain: list[float] = []
    probe = os.open(directory / "state" / "fsync-probe", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        await asyncio.sleep(0.2)
        for _ in range(RUNS):
            flushes = timed.flushes
            sim.call(device.set_power_fail, "GPIO_ACFAILSIG", True)
            edge = device.power_events[-1]["asserted_ns"] / 1e9
            await until(lambda f=flushes: timed.flushes > f, 5.0)
            assert timed.done is not None and discretes.power is not None
            wire.append(timed.done - edge)
            sim.call(device.set_power_fail, "GPIO_ACFAILSIG", False)
            await until(lambda: not timed.frozen and discretes.power is not None
                        and discretes.power.state == "normal", 5.0)
            recorded.append(discretes.power.last_flush_seconds or 0.0)
            await asyncio.sleep(0.02)  # writes in flight again
            os.write(probe, b"x" * 256)
            started = time.monotonic()
            await asyncio.to_thread(os.fsync, probe)
            plain.append(time.monotonic() - started)
        stops = len(ctx.request_stop.reasons)
    finally:
        os.close(probe)
        for task in writers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await discretes.stop()
        await storage.stop()
        sim.stop()
    ctx2 = make_ctx(directory)
    storage2 = ctx2.build(STORAGE)
    await storage2.start()
    assert ctx2.outbox is not None
    lost = len(set(acknowledged) - {item.id for item in ctx2.outbox.pending()})
    await storage2.stop()
    return {"wire": wire, "recorded": recorded, "plain": plain, "stops": stops, "lost": lost,
            "orders": len(acknowledged)}


def run() -> list[Figure]:
    for name in ("appliance.discretes", "appliance.storage"):
        logging.getLogger(name).setLevel(logging.ERROR)  # one warning per interrupt otherwise
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parents[2]) as tmp:
        m = asyncio.run(_measure(Path(tmp)))
    ms = 1000.0
    wire, plain = m["wire"], m["plain"]
    reference = statistics.median(plain) * ms
    p50, p99, worst = _pct(wire, 0.5) * ms, _pct(wire, 0.99) * ms, max(wire) * ms

    def ratio(value: float) -> float | None:
        return value / reference if reference else None

    return [
        Figure("power-fail flush p50 (wire edge to last fsync)", p50, "ms", reference, "one plain fsync p50",
               ratio(p50), f"{len(wire)} runs, {WRITERS} writers in flight ({m['orders']} orders)"),
        Figure("power-fail flush p99 (wire edge to last fsync)", p99, "ms", reference, "one plain fsync p50",
               ratio(p99), "p99 < 50 ms", p99 < 50.0),
        Figure("power-fail flush max (wire edge to last fsync)", worst, "ms", goal="report"),
        Figure("one plain fsync with the same writes in flight, p99", _pct(plain, 0.99) * ms, "ms",
               goal="reference: what the disk gives"),
        Figure("flush time the daemon recorded (histogram) p99", _pct(m["recorded"], 0.99) * ms, "ms",
               goal="the daemon's own view, from the edge's arrival"),
        Figure("unwanted restarts in ride-through runs", float(m["stops"]), "", goal="0", met=m["stops"] == 0),
        Figure("acknowledged orders lost", float(m["lost"]), "", goal="0", met=m["lost"] == 0),
    ]
