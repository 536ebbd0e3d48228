"""The reader on a real pty it has to wait for: reconnecting, first open, liveness, stop; numpy after READY."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from appliance.avionics.config import AvionicsConfig
from appliance.avionics.reader import AvionicsReader, ByteSource
from appliance.avionics.state import FlightState
from appliance.component import Status
from appliance.metrics import Metrics
from appliance.timebase import ManualClock, SystemClock
from hal.arinc429 import bulk_loaded, encode, encode_frame, heartbeat_frame
from tests.conftest import subprocess_env


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

    reader = AvionicsReader(AvionicsConfig(port="/dev/ttyARINC0"), clock, FlightState(clock), Metrics(),
                            opener=no_device)
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


async def _bulk_after_ready_probe() -> dict[str, object]:
    """In a fresh process (see the test below): a reader told the daemon is not READY yet reads 4 KiB bursts
    without numpy; once READY it loads the bulk path and reads on."""
    master, slave = os.openpty()
    clock = SystemClock()
    ready = False
    reader = AvionicsReader(AvionicsConfig(port=os.ttyname(slave)), clock, FlightState(clock), Metrics(),
                            ready=lambda: ready)
    seen: dict[str, object] = {"numpy_at_start": "numpy" in sys.modules}
    await reader.start()
    try:
        async def altitude(feet: float) -> None:
            burst = b"".join(encode_frame(0, encode("altitude", feet - 290 + n)) for n in range(291))  # 4 KiB
            os.write(master, burst)
            deadline = time.monotonic() + 5
            while reader.state.usable("altitude") != feet:
                assert time.monotonic() < deadline, f"altitude {feet} never read"
                await asyncio.sleep(0.02)

        opening = time.monotonic()
        while reader.opens == 0:  # pyserial makes the pty raw as it opens it: bytes before that are cooked
            assert time.monotonic() - opening < 5, "the pty was never opened"
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        await altitude(1000.0)
        await asyncio.sleep(0.3)  # the loader would have run by now if it did not wait for READY
        seen["before"] = {"numpy": "numpy" in sys.modules, "bulk": bulk_loaded(), "path": reader.core.stream.bulk}
        ready = True
        deadline = time.monotonic() + 5
        while reader.core.stream.bulk is None and time.monotonic() < deadline:  # noqa: ASYNC110 (a flag, polled)
            await asyncio.sleep(0.02)
        await altitude(2000.0)
        seen["after"] = {"numpy": "numpy" in sys.modules, "bulk": bulk_loaded(),
                         "path": type(reader.core.stream.bulk).__name__}
        seen["words"] = reader.core.totals_json()["0"]["words"]
    finally:
        await reader.stop()
        os.close(master)
        os.close(slave)
    return seen


def test_the_reader_loads_numpy_only_after_ready() -> None:
    """The daemon's start does not pay numpy's import (0.1-0.2 s): a subprocess, as this one has numpy."""
    code = ("import asyncio, json; from tests.avionics.test_reader import _bulk_after_ready_probe as probe; "
            "print(json.dumps(asyncio.run(probe()), default=str))")
    out = subprocess.run([sys.executable, "-c", code], env=subprocess_env(), capture_output=True, text=True,
                         check=True, timeout=60).stdout
    seen = json.loads(out.splitlines()[-1])
    assert seen["numpy_at_start"] is False
    assert seen["before"] == {"numpy": False, "bulk": False, "path": None}
    assert seen["after"] == {"numpy": True, "bulk": True, "path": "BulkPath"}
    assert seen["words"] == 2 * 291
