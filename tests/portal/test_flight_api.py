"""/api/v1/flight and its SSE stream."""

from __future__ import annotations

import asyncio
import json
from zoneinfo import ZoneInfo

import aiohttp

from appliance.ports import FlightInfo
from tests.portal.conftest import PortalRig


async def get_flight(rig: PortalRig) -> dict:  # type: ignore[type-arg]
    rig.services.broadcaster.tick()
    async with aiohttp.ClientSession() as s, s.get(rig.base + "/api/v1/flight") as r:
        assert r.status == 200
        assert r.headers["Cache-Control"] == "no-store"
        return await r.json()  # type: ignore[no-any-return]


async def test_values_with_units_status_age_and_progress(rig: PortalRig) -> None:
    doc = await get_flight(rig)
    p = doc["parameters"]
    assert p["altitude"] == {"value": 35000.0, "units": "ft", "status": "normal", "age": 0.1}
    assert p["ground_speed"]["units"] == "kt"
    assert doc["flight"]["flight_number"] == "IB1234"
    assert doc["flight"]["source"] == "avionics"
    dest = doc["flight"]["destination"]
    assert (dest["icao"], dest["iata"], dest["tz"]) == ("LEMD", "MAD", "Europe/Madrid")
    assert doc["flight"]["origin"]["city"] == "Barcelona"
    prog = doc["progress"]
    assert 480 < prog["total_distance"]["value"] < 500  # BCN-MAD great circle ~ 483 km
    # 41.0N 0.8W to Madrid (40.47N 3.56W): ~240 km
    assert 220 < prog["distance_to_go"]["value"] < 260
    assert prog["time_to_go"]["value"] == round(prog["distance_to_go"]["value"] / (450 * 1.852) * 3600)
    assert 40 < prog["percent_complete"]["value"] < 60
    eta = prog["eta"]
    assert eta["tz"] == "Europe/Madrid"
    from datetime import datetime
    local = datetime.fromisoformat(eta["local"])
    assert local.utcoffset() == datetime.fromisoformat(eta["utc"]).astimezone(ZoneInfo("Europe/Madrid")).utcoffset()
    assert doc["time"]["destination_tz"] == "Europe/Madrid"


async def test_stale_and_failed_values_are_null_with_their_status(rig: PortalRig) -> None:
    rig.flight.set("altitude", 35000.0, "stale", age=9.0)
    rig.flight.set("ground_speed", 450.0, "failure_warning")
    rig.flight.set("outside_temperature", -54.0, "functional_test")
    doc = await get_flight(rig)
    p = doc["parameters"]
    assert p["altitude"]["value"] is None and p["altitude"]["status"] == "stale"
    assert p["ground_speed"]["value"] is None and p["ground_speed"]["status"] == "failure_warning"
    assert p["outside_temperature"]["value"] is None
    # no ground speed: no time to go, no ETA (never a guess shown as current)
    assert doc["progress"]["time_to_go"] == {"value": None, "units": "s", "status": "unavailable"}
    assert doc["progress"]["eta"]["local"] is None
    assert p["wind_speed"]["status"] == "never"


async def test_schedule_fallback_when_avionics_has_no_flight_block(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.portal.conftest import start_rig
    rig = await start_rig(tmp_path, schedule_flight_number="VY1002", schedule_origin="LEMD",
                          schedule_destination="LEBL")
    try:
        rig.flight.info = FlightInfo()
        doc = await get_flight(rig)
        assert doc["flight"]["flight_number"] == "VY1002"
        assert doc["flight"]["source"] == "schedule"
        assert doc["flight"]["destination"]["city"] == "Barcelona"
    finally:
        await rig.portal.stop()
        await rig.storage.stop()


async def test_the_ground_stations_schedule_comes_before_the_configs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    from appliance.groundlink.schedule import ScheduleStore
    from appliance.ports import ScheduledLeg
    from tests.portal.conftest import start_rig

    now = datetime.now(UTC)
    schedule = ScheduleStore(tmp_path / "schedule.json")
    schedule.replace([ScheduledLeg("IB3166", "LEBL", "EGLL", now - timedelta(minutes=30), now + timedelta(hours=2))],
                     wall=0.0)
    rig = await start_rig(tmp_path, ground_schedule=schedule, schedule_flight_number="VY1002",
                          schedule_origin="LEMD", schedule_destination="LEBL")
    try:
        rig.flight.info = FlightInfo()
        doc = await get_flight(rig)
        assert doc["flight"]["source"] == "ground" and doc["flight"]["flight_number"] == "IB3166"
        assert doc["flight"]["destination"]["icao"] == "EGLL"

        rig.flight.info = FlightInfo(flight_number="IB3166", origin="LEBL", destination="EGLL")
        assert (await get_flight(rig))["flight"]["source"] == "avionics"

        rig.flight.info = FlightInfo()  # the ground schedule has nothing due now: the config's
        schedule.replace([ScheduledLeg("IB3166", "LEBL", "EGLL", now - timedelta(days=1),
                                       now - timedelta(days=1) + timedelta(hours=2))], wall=0.0)
        doc = await get_flight(rig)
        assert doc["flight"]["source"] == "schedule" and doc["flight"]["flight_number"] == "VY1002"
    finally:
        await rig.portal.stop()
        await rig.storage.stop()


async def read_events(resp: aiohttp.ClientResponse, count: int) -> list[dict[str, str]]:
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    while len(events) < count:
        line = (await asyncio.wait_for(resp.content.readline(), 5)).decode().rstrip("\n")
        if not line:
            if "data" in current:
                events.append(current)
            current = {}
            continue
        if line.startswith(":"):
            current.setdefault("comment", line)
            continue
        key, _, value = line.partition(": ")
        current[key] = value
    return events


async def test_stream_one_snapshot_per_tick_for_everyone_and_last_event_id(rig: PortalRig) -> None:
    b = rig.services.broadcaster
    async with aiohttp.ClientSession() as s:
        r1 = await s.get(rig.base + "/api/v1/flight/stream")
        r2 = await s.get(rig.base + "/api/v1/flight/stream")
        assert r1.headers["Content-Type"] == "text/event-stream"
        await asyncio.sleep(1.2)  # the ticker runs at 1 Hz
        e1 = await read_events(r1, 2)
        e2 = await read_events(r2, 2)
        assert rig.metrics.sse_clients._value.get() == 2
        assert e1[-1]["id"] == e2[-1]["id"]
        assert e1[-1]["data"] == e2[-1]["data"]  # the same serialised bytes
        doc = json.loads(e1[-1]["data"])
        assert doc["parameters"]["altitude"]["value"] == 35000.0
        last = e1[-1]["id"]
        r1.close()
        r2.close()
        # resuming with the latest id waits for the next tick; an old or foreign id gets the latest at once
        r3 = await s.get(rig.base + "/api/v1/flight/stream", headers={"Last-Event-ID": "0-1"})
        (first,) = await read_events(r3, 1)
        assert first["id"] == b.latest().event_id
        r3.close()
        r4 = await s.get(rig.base + "/api/v1/flight/stream", headers={"Last-Event-ID": b.latest().event_id})
        seen = b.latest().seq
        (nxt,) = await read_events(r4, 1)
        assert int(nxt["id"].split("-")[1]) > seen
        assert last != nxt["id"]
        r4.close()
    for _ in range(50):
        if b.clients == 0:
            break
        await asyncio.sleep(0.05)
    assert b.clients == 0


async def test_a_client_that_does_not_read_is_dropped_not_queued(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A client that never reads: its socket fills, it is skipped (only the latest is ever pending), then
    dropped. Ticks are driven by hand with a big snapshot to fill the buffers quickly."""
    from tests.portal.conftest import start_rig
    rig = await start_rig(tmp_path, sse_interval_seconds=0.0)
    try:
        await _drop(rig)
    finally:
        await rig.portal.stop()
        await rig.storage.stop()


async def _drop(rig: PortalRig) -> None:
    b = rig.services.broadcaster
    big = {"padding": "x" * 200_000}
    original = b._build
    b._build = lambda: {**original(), **big}
    _reader, writer = await asyncio.open_connection("127.0.0.1", rig.portal.address[1])  # type: ignore[index]
    writer.write(b"GET /api/v1/flight/stream HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    await asyncio.sleep(0.2)
    assert b.clients == 1
    for _ in range(100):
        b.tick()
        await asyncio.sleep(0.05)
        if b.clients == 0:
            break
    assert b.dropped == 1
    assert b.clients == 0
    writer.close()
