"""Hardware-in-the-loop with the real storage component: passengers' orders go through ctx.outbox (journal,
group commit, fsync) while the simulated CPLD signals a power fail; the discretes drive storage's Flushable."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.discretes import COMPONENT as DISCRETES
from appliance.ports import StorageRefused
from appliance.storage import COMPONENT as STORAGE
from tests.hardware.harness import SimThread, StopRecorder, make_ctx, until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def sim() -> Iterator[SimThread]:
    thread = SimThread()
    thread.start()
    yield thread
    thread.stop()


class Passengers:
    """Orders at a steady rate from a few concurrent passengers; what was acknowledged (201) and refused."""

    def __init__(self, outbox: Any, count: int = 3, period: float = 0.003) -> None:
        self.outbox = outbox
        self.count = count
        self.period = period
        self.acknowledged: list[str] = []
        self.refused = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def _passenger(self, seat: int) -> None:
        n = 0
        while True:
            n += 1
            try:
                item = await self.outbox.append("booking", {"item": f"hotel-{n}", "seat": f"{seat}A"})
                self.acknowledged.append(item.id)
            except StorageRefused:
                self.refused += 1
            await asyncio.sleep(self.period)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._passenger(seat)) for seat in range(self.count)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_power_cut_with_orders_through_the_outbox(tmp_path: Path, sim: SimThread) -> None:
    device = sim.device
    assert device is not None
    ctx = make_ctx(tmp_path, {"pin_factory": "sim", "pin_address": device.pins.address}, request_stop=StopRecorder())
    storage = ctx.build(STORAGE)
    discretes = ctx.build(DISCRETES)
    await storage.start()
    await discretes.start()
    passengers = Passengers(ctx.outbox)
    try:
        passengers.start()
        # a 50 ms interrupt first: ridden through, orders flow again
        await asyncio.sleep(0.15)
        await sim.arun(device.interrupt(50))
        await until(lambda: discretes.snapshot()["power"]["ride_throughs"] == 1, 5.0)
        before = len(passengers.acknowledged)
        await until(lambda: len(passengers.acknowledged) > before + 5, 5.0)
        # then the real cut
        sim.call(device.set_power_fail, "GPIO_ACFAILSIG", True)
        await until(lambda: bool(ctx.request_stop.reasons), 5.0)
        await asyncio.sleep(0.05)
        await passengers.stop()
        assert passengers.refused > 0
        assert ctx.metrics.registry.get_sample_value("appliance_power_fail_flush_seconds_count") == 2
        flush = discretes.snapshot()["power"]["last_flush_seconds"]
        assert 0 < flush < 1.0
    finally:
        await passengers.stop()
        await discretes.stop()  # the orderly stop the daemon runs, in reverse order
        await storage.stop()
    acknowledged = set(passengers.acknowledged)
    assert len(acknowledged) > 20
    # after the power comes back: a new daemon finds every acknowledged order
    ctx2 = make_ctx(tmp_path)
    storage2 = ctx2.build(STORAGE)
    await storage2.start()
    try:
        assert ctx2.outbox is not None
        pending = {item.id for item in ctx2.outbox.pending()}
        assert acknowledged <= pending
        assert ctx2.boot is not None and ctx2.boot.previous_shutdown_clean
    finally:
        await storage2.stop()
