"""The clock rule through the daemon: storage's TimeKeeper (TRUSTED_TIME) is what the trust component judges
expiry at, across simulated reboots of the storage, trust, content and ground link components with the board's
RTC at 1970 or in 2038, with and without avionics time, and with network time from the station's clock check.

Each boot writes the time floor a previous boot would have saved, then starts the components on a clock whose
wall (the RTC) is wrong by decades."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from appliance import ports
from appliance.component import Status
from appliance.storage.clock import FLOOR_FILE
from firmware_sim.ground.station import GroundStation
from tests.trust.daemon_support import Plane, plane

RTC_1970 = 0.0
RTC_2038 = 2_147_483_647.0
DAY = 86400.0


class BoardClock:
    """The board's clocks: a real monotonic clock and an RTC that reads `rtc` plus the time since boot."""

    def __init__(self, rtc: float) -> None:
        self.booted = time.monotonic()
        self.rtc = rtc

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return self.rtc + (time.monotonic() - self.booted)


@asynccontextmanager
async def reboot(tmp_path: Path, station: GroundStation, rtc: float, floor: float,
                 network_time: bool = False) -> AsyncIterator[Plane]:
    state = tmp_path / "state"
    state.mkdir(parents=True, exist_ok=True)
    (state / FLOOR_FILE).write_text(json.dumps({"floor": floor}))
    keys: dict[str, Any] = {"clock_check": network_time}
    async with plane(tmp_path, station.url, station.tuf.pinned_root(), station, clock=BoardClock(rtc),
                     groundlink_keys=keys) as p:
        yield p


@pytest.mark.parametrize("rtc", [RTC_1970, RTC_2038], ids=["rtc-1970", "rtc-2038"])
async def test_expiry_at_trusted_time_across_reboots(tmp_path: Path, rtc: float) -> None:
    station = GroundStation(publish_sample=False)
    await station.start()
    try:
        assert "error" not in await station.publish(date(2026, 3, 1))
        signed = time.time()
        # boot 1: no avionics, no network time: the floor (an hour before the signing) is the time
        async with reboot(tmp_path, station, rtc, signed - 3600) as p:
            assert p.parts["storage"].time.quality == "floor"  # the RTC judged wrong
            await p.sync(lambda: p.active() == "content-2026-03-01", "accepted at the floor's time")
        # boot 2: a floor saved three days later: the timestamp (2 days) has expired, the bundle is kept
        assert "error" not in await station.publish(date(2026, 3, 2))
        async with reboot(tmp_path, station, rtc, signed + 3 * DAY) as p:
            await p.sync(lambda: p.refusals("expired") >= 1, "expired at the floor's time")
            assert p.active() == "content-2026-03-01"
            assert p.trust_health().status is Status.WARN
            # the avionics time arrives (the floor was wrong): the same metadata is judged at it and taken
            p.rig.services.get(ports.TIME_ANCHOR).anchor(time.time(), "avionics")  # what storage's poll does
            await p.sync(lambda: p.active() == "content-2026-03-02", "accepted at the avionics time")
            assert p.trust_health().status is Status.PASS
        # boot 3: the floor three days on again, and the station's clock check (network time) on
        assert "error" not in await station.publish(date(2026, 3, 3))
        async with reboot(tmp_path, station, rtc, signed + 3 * DAY, network_time=True) as p:
            await p.sync(lambda: p.active() == "content-2026-03-03", "accepted at the network time")
            assert p.refusals("expired") == 0 and p.refusals("clock") == 0
    finally:
        await station.stop()
