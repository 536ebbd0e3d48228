"""The clock check: the station's time re-anchors a wrong wall clock (network quality)."""

from __future__ import annotations

import time
from pathlib import Path

from appliance.groundlink.clockcheck import check_clock, read_station_clock
from appliance.groundlink.link import GroundLink
from appliance.groundlink.metrics import GroundlinkMetrics
from appliance.metrics import Metrics
from appliance.timebase import ManualClock
from tests.groundlink_support import MemoryOutbox, config, ground_client, running_station
from tests.test_groundlink_window import Anchor, Flight, Modem, until


async def test_a_wall_clock_off_by_an_hour_is_re_anchored(tmp_path: Path) -> None:
    clock = ManualClock(wall=time.time() - 3600.0)  # the RTC lost an hour
    anchor = Anchor()
    metrics = Metrics()
    async with running_station() as station:
        link = GroundLink(
            config(station.url, poll_seconds=0.02), clock, metrics, state_dir=tmp_path,
            flight=Flight(True), modem=Modem(True), outbox=MemoryOutbox(), time_anchor=anchor,
        )
        await link.start()
        try:
            await until(lambda: bool(anchor.calls))
        finally:
            await link.stop()
    wall, quality = anchor.calls[0]
    assert quality == "network" and abs(wall - time.time()) < 1.0
    assert link.clock_skew is not None and 3598 < link.clock_skew < 3602
    assert 3598 < metrics.of(GroundlinkMetrics).groundlink_clock_skew._value.get() < 3602


async def test_the_date_header_serves_when_there_is_no_time_endpoint() -> None:
    clock = ManualClock(wall=time.time() + 120.0)
    async with running_station() as station, ground_client(station.url) as client:
        reading = await read_station_clock(client, clock, "/no-such-path", 2.0)
        anchored = Anchor()
        await check_clock(client, clock, anchored, "/time", 2.0)
    assert reading.source == "date" and -121.5 < reading.skew < -118.5
    assert anchored.calls[0][1] == "network" and abs(anchored.calls[0][0] - time.time()) < 1.0
