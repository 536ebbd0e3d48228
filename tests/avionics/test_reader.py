"""The reader on a real pty it has to wait for: reconnecting, first open, liveness, stop."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from appliance.avionics.config import AvionicsConfig
from appliance.avionics.reader import AvionicsReader, ByteSource
from appliance.avionics.state import FlightState
from appliance.component import Status
from appliance.metrics import Metrics
from appliance.timebase import ManualClock, SystemClock
from hal.arinc429 import encode, encode_frame, heartbeat_frame


async def test_waits_for_the_device_then_reads_it(tmp_path: Path) -> None:
    link = tmp_path / "adapter"
    clock = SystemClock()
    reader = AvionicsReader(AvionicsConfig(port=str(link)), clock, FlightState(clock), Metrics())
    await reader.start()
    master = -1
    try:
        await asyncio.sleep(0.3)
        check = reader.health()
        assert check.status == Status.WARN and "reconnecting" in check.reason and "cannot open" in check.reason
        assert reader.alive
        master, slave = os.openpty()
        link.symlink_to(os.ttyname(slave))
        os.close(slave)
        plugged = time.monotonic()
        while reader.opens == 0:
            assert time.monotonic() - plugged < 1.5, "not reopened within the backoff"
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        os.write(master, heartbeat_frame(1) + b"\x00\x17garbage" + encode_frame(0, encode("altitude", 1200, sdi=1)))
        while reader.state.usable("altitude") != 1200.0:
            assert time.monotonic() - plugged < 3.0
            await asyncio.sleep(0.02)
        assert reader.connected and not reader.silent
        assert reader.core.totals_json()["heartbeat"]["frames"] == 1
        assert reader.core.totals_json()["0"]["resyncs"] == 1
    finally:
        await reader.stop()
        if master >= 0:
            os.close(master)
    assert not reader.alive
    assert reader.health().status == Status.FAIL  # a stopped reader must not look healthy to the watchdog


async def test_health_fails_after_a_long_outage_and_names_the_reason() -> None:
    clock = ManualClock()

    def no_device(config: AvionicsConfig) -> ByteSource:
        raise OSError(2, "No such file or directory")

    reader = AvionicsReader(AvionicsConfig(port="/dev/ttyARINC0"), clock, FlightState(clock), Metrics(), no_device)
    await reader.start()
    try:
        await asyncio.sleep(0.1)
        check = reader.health()
        assert check.status == Status.WARN and check.reason.startswith("reconnecting: cannot open /dev/ttyARINC0")
        clock.advance(31)
        reader._thread_beat = clock.monotonic()  # the thread is alive; only the outage is long
        assert reader.health().status == Status.FAIL
    finally:
        await reader.stop()
