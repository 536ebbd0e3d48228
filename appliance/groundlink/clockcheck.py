"""The clock check on the ground: the station's time (its `/time` JSON, else the Date header every HTTP server
sends) corrected by half the round trip, compared with the wall clock, and given to the time anchor as a
network-quality source."""

from __future__ import annotations

import email.utils
import logging
from dataclasses import dataclass

from appliance.groundlink.client import GroundClient
from appliance.ports import TimeAnchor
from appliance.timebase import Clock

log = logging.getLogger("appliance.groundlink")


@dataclass(frozen=True)
class ClockReading:
    station: float  # the station's time when the answer arrived
    skew: float  # station minus our wall clock
    rtt: float
    source: str  # "time" or "date"


class ClockUnavailable(Exception):
    """The station gave no usable time."""


async def read_station_clock(client: GroundClient, clock: Clock, path: str, time_limit: float) -> ClockReading:
    started = clock.monotonic()
    reply = await client.request("GET", path, time_limit=time_limit)
    rtt = max(0.0, clock.monotonic() - started)
    wall = clock.wall()
    station: float | None = None
    source = "time"
    if reply.status == 200:
        try:
            data = reply.json()
            epoch = data.get("epoch") if isinstance(data, dict) else None
            if isinstance(epoch, int | float) and not isinstance(epoch, bool):
                station = float(epoch) + rtt / 2.0
        except (ValueError, UnicodeDecodeError):
            station = None
    if station is None:
        date = reply.headers.get("Date")
        if not date:
            raise ClockUnavailable(f"HTTP {reply.status} from {path} and no Date header")
        try:
            # the Date header has one-second resolution: its middle is the best estimate
            station = email.utils.parsedate_to_datetime(date).timestamp() + 0.5 + rtt / 2.0
        except (TypeError, ValueError) as problem:
            raise ClockUnavailable(f"unreadable Date header {date!r}") from problem
        source = "date"
    return ClockReading(station, station - wall, rtt, source)


async def check_clock(
    client: GroundClient, clock: Clock, anchor: TimeAnchor | None, path: str, time_limit: float
) -> ClockReading:
    reading = await read_station_clock(client, clock, path, time_limit)
    if abs(reading.skew) > 1.0:
        log.warning("wall clock is %+.1f s off the ground station's (%s); re-anchoring", reading.skew, reading.source)
    if anchor is not None:
        # the answer took time to read: anchor to what the station's clock says *now*
        anchor.anchor(reading.station + (clock.wall() - (reading.station - reading.skew)), "network")
    return reading
