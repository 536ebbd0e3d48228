"""/api/v1/flight and its SSE stream."""

from __future__ import annotations

import asyncio
import json
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from appliance.portal.metrics import PortalMetrics
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
    for name in ("distance_to_go", "time_to_go", "percent_complete", "eta"):
        assert (prog[name]["status"], prog[name]["age"]) == ("normal", 0.1), name
    assert prog["total_distance"]["age"] is None  # from the airport table, not a measurement
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
    # no ground speed: no time to go, no ETA (never a guess shown as current), with the failed input's status
    assert doc["progress"]["time_to_go"] == {"value": None, "units": "s", "status": "failure_warning", "age": 0.1}
    eta = doc["progress"]["eta"]
    assert (eta["utc"], eta["local"], eta["status"]) == (None, None, "failure_warning")
    assert doc["progress"]["distance_to_go"]["status"] == "normal"  # the position alone is fine
    assert p["wind_speed"]["status"] == "never"

    rig.flight.set("latitude", 41.0, "stale", age=4.0)
    prog = (await get_flight(rig))["progress"]
    for name in ("distance_to_go", "percent_complete"):
        assert prog[name] == {"value": None, "units": prog[name]["units"], "status": "stale", "age": 4.0}, name
    assert prog["total_distance"]["status"] == "normal"


async def test_each_progress_value_is_as_old_as_its_oldest_input(rig: PortalRig) -> None:
    rig.flight.set("latitude", 41.0, age=0.3)
    rig.flight.set("longitude", -0.8, age=2.5)
    rig.flight.set("ground_speed", 450.0, age=4.0)
    prog = (await get_flight(rig))["progress"]
    assert prog["distance_to_go"]["age"] == prog["percent_complete"]["age"] == 2.5  # the position
    assert prog["time_to_go"]["age"] == prog["eta"]["age"] == 4.0  # and the ground speed
    assert all(prog[name]["status"] == "normal" for name in prog)

    del rig.flight.values["ground_speed"]  # never received: no age to give
    prog = (await get_flight(rig))["progress"]
    assert prog["time_to_go"] == {"value": None, "units": "s", "status": "never", "age": None}
    assert prog["distance_to_go"]["age"] == 2.5


def test_progress_ages_grow_while_the_avionics_stop_and_go_stale() -> None:
    """The real FlightState fed ARINC 429 words, on a manual clock: latitude and longitude (label 310/311) are
    stale 0.6 s after their last word, ground speed (312) after 0.15 s."""
    from appliance.avionics.state import FlightState
    from appliance.portal.airports import Airports
    from appliance.portal.flight import FlightReport, Schedule
    from appliance.timebase import ManualClock
    from hal.arinc429 import AdapterStream, encode, encode_frame

    clock = ManualClock()
    state, stream = FlightState(clock), AdapterStream()
    report = FlightReport(state, Schedule("IB1234", "LEBL", "LEMD"), clock, Airports())

    def feed(*names: str) -> None:
        values = {"latitude": 41.0, "longitude": -0.8, "ground_speed": 450}
        words = b"".join(encode_frame(0, encode(name, values[name])) for name in names)
        state.apply(stream.feed(words), clock.monotonic())

    def progress() -> dict:  # type: ignore[type-arg]
        return report.build()["progress"]  # type: ignore[no-any-return]

    feed("latitude", "longitude")
    clock.advance(0.3)
    feed("ground_speed")
    clock.advance(0.1)
    prog = progress()
    assert (prog["distance_to_go"]["status"], prog["distance_to_go"]["age"]) == ("normal", 0.4)
    assert (prog["time_to_go"]["status"], prog["time_to_go"]["age"]) == ("normal", 0.4)
    assert prog["eta"]["age"] == 0.4 and prog["eta"]["utc"] is not None

    clock.advance(0.1)
    feed("ground_speed")  # the ground speed keeps coming, the position does not: its age grows
    prog = progress()
    assert (prog["distance_to_go"]["age"], prog["time_to_go"]["age"], prog["percent_complete"]["age"]) == (0.5,) * 3
    assert prog["time_to_go"]["value"] is not None

    clock.advance(0.2)
    feed("ground_speed")  # 0.7 s without a position: stale, and shown as unavailable, never as current
    prog = progress()
    for name in ("distance_to_go", "time_to_go", "percent_complete"):
        assert (prog[name]["value"], prog[name]["status"], prog[name]["age"]) == (None, "stale", 0.7), name
    assert (prog["eta"]["utc"], prog["eta"]["status"], prog["eta"]["age"]) == (None, "stale", 0.7)
    assert prog["total_distance"]["status"] == "normal"

    feed("latitude", "longitude")  # the position is back; now the ground speed stops
    clock.advance(0.2)
    prog = progress()
    assert (prog["distance_to_go"]["status"], prog["distance_to_go"]["age"]) == ("normal", 0.2)
    assert (prog["time_to_go"]["value"], prog["time_to_go"]["status"]) == (None, "stale")


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
        await rig.stop()


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
        await rig.stop()


async def test_flight_number_from_the_best_complete_source_never_mixed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The label 360 block stale or incomplete leaves only the number label's digits ("3101"): the schedule's
    complete IB3101 LEBL-LEMD wins, and no answer mixes the label's number with the schedule's airports."""
    from tests.portal.conftest import start_rig
    rig = await start_rig(tmp_path, schedule_flight_number="IB3101", schedule_origin="LEBL",
                          schedule_destination="LEMD")
    try:
        rig.flight.info = FlightInfo(flight_number="3101")  # the number label only (no block)
        flight = (await get_flight(rig))["flight"]
        assert (flight["flight_number"], flight["origin"]["icao"], flight["destination"]["icao"],
                flight["source"]) == ("IB3101", "LEBL", "LEMD", "schedule")

        rig.flight.info = FlightInfo(flight_number="IB3102", origin="LEMD", destination="LEBL")  # the block
        flight = (await get_flight(rig))["flight"]
        assert (flight["flight_number"], flight["origin"]["icao"], flight["destination"]["icao"],
                flight["source"]) == ("IB3102", "LEMD", "LEBL", "avionics")
    finally:
        await rig.stop()
    rig = await start_rig(tmp_path / "2", schedule_destination="LEMD")  # an incomplete schedule
    try:
        rig.flight.info = FlightInfo(flight_number="3101")
        flight = (await get_flight(rig))["flight"]
        assert (flight["flight_number"], flight["destination"], flight["source"]) == ("3101", None, "avionics")
    finally:
        await rig.stop()


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
        assert rig.metrics.of(PortalMetrics).sse_clients._value.get() == 2
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
        await rig.stop()


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


async def test_every_nth_event_carries_a_heartbeat_comment(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Ticks driven by hand: no waiting for the 15 s of the 1 Hz ticker."""
    from tests.portal.conftest import start_rig
    rig = await start_rig(tmp_path, sse_interval_seconds=0.0)
    b = rig.services.broadcaster
    try:
        async with aiohttp.ClientSession() as s, s.get(rig.base + "/api/v1/flight/stream") as r:
            assert await asyncio.wait_for(r.content.readline(), 5) == b"retry: 2000\n"
            for _ in range(2 * b.heartbeat_ticks):
                b.tick()
                await asyncio.sleep(0.01)  # the socket takes each frame before the next tick
            events = await read_events(r, 2 * b.heartbeat_ticks)
        assert [int(e["id"].split("-")[1]) for e in events] == list(range(1, 2 * b.heartbeat_ticks + 1))
        beats = [int(e["id"].split("-")[1]) for e in events if "comment" in e]
        assert beats == [b.heartbeat_ticks, 2 * b.heartbeat_ticks]
        assert {e["comment"] for e in events if "comment" in e} == {": heartbeat"}
    finally:
        await rig.stop()


async def test_the_heartbeat_goes_out_alone_while_the_snapshot_fails() -> None:
    """A Broadcaster of its own (heartbeat every 2nd tick) on a real aiohttp server: while its snapshot raises,
    no event goes out, but the heartbeat still does, so idle proxies keep the stream open."""
    from aiohttp import web

    from appliance.metrics import Metrics
    from appliance.portal.stream import Broadcaster
    from appliance.timebase import SystemClock
    from tests.conftest import free_port

    failing = False

    def build() -> dict[str, object]:
        if failing:
            raise RuntimeError("no snapshot")
        return {"phase": "cruise"}

    b = Broadcaster(build, SystemClock(), Metrics(), interval=0.0, heartbeat_ticks=2)
    app = web.Application()
    app.router.add_get("/stream", b.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/stream") as r:
            assert await asyncio.wait_for(r.content.readline(), 5) == b"retry: 2000\n"
            b.tick()  # seq 1: an event
            (event,) = await read_events(r, 1)
            assert event["id"].endswith("-1") and "comment" not in event
            failing = True
            for _ in range(4):  # seq 2..5: no event; heartbeats at 2 and 4
                with pytest.raises(RuntimeError):
                    b.tick()
                await asyncio.sleep(0.01)
            failing = False
            b.tick()  # seq 6: an event with its heartbeat
            lines = []
            while not lines or not lines[-1].startswith("data: "):
                lines.append((await asyncio.wait_for(r.content.readline(), 5)).decode().rstrip("\n"))
        shown = [line for line in lines if line]
        assert shown[:3] == [": heartbeat"] * 3  # seq 2 and 4 alone, then seq 6's
        assert shown[3].startswith("id: ") and shown[3].endswith("-6")
        assert shown[4:] == ["event: flight", lines[-1]]
    finally:
        await b.stop()
        await runner.cleanup()


async def test_a_failing_snapshot_is_never_served_as_the_last_good_one(
    rig: PortalRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If building the document breaks, the flight API says so (503) instead of serving the last document, whose
    values would show as current; the welcome page still says what there is on board."""
    rig.services.broadcaster.tick()
    async with aiohttp.ClientSession() as s:
        async with s.get(rig.base + "/api/v1/flight") as r:
            assert r.status == 200

        builds = 0

        def broken() -> dict[str, object]:
            nonlocal builds
            builds += 1
            raise RuntimeError("a bug in the snapshot")

        monkeypatch.setattr(rig.flight, "snapshot", broken)
        with pytest.raises(RuntimeError):
            rig.services.broadcaster.tick()
        for _ in range(3):
            async with s.get(rig.base + "/api/v1/flight") as r:
                assert r.status == 503 and (await r.json())["error"] and r.headers["Retry-After"]
            async with s.get(rig.base + "/welcome", headers={"Accept-Language": "en"}) as r:
                assert r.status == 200 and "internet" in (await r.text()).lower()
        assert builds == 1  # requests wait for the ticker: none of them rebuilt (and logged) the snapshot
        monkeypatch.undo()
        rig.services.broadcaster.tick()
        async with s.get(rig.base + "/api/v1/flight") as r:
            assert r.status == 200


async def test_the_ticker_logs_a_run_of_failed_snapshots_once(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from appliance.metrics import Metrics
    from appliance.portal.stream import Broadcaster, SnapshotUnavailable
    from appliance.timebase import SystemClock

    failing = True

    def build() -> dict[str, object]:
        if failing:
            raise RuntimeError("no snapshot")
        return {"phase": "cruise"}

    caplog.set_level(logging.INFO, logger="appliance.portal.stream")
    b = Broadcaster(build, SystemClock(), Metrics(), interval=0.01)
    b.start()
    try:
        await asyncio.sleep(0.15)  # some fifteen failed ticks
        with pytest.raises(SnapshotUnavailable):
            b.latest()
        failing = False
        await asyncio.sleep(0.05)
        assert b.latest().document["phase"] == "cruise"
    finally:
        await b.stop()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "503" in errors[0].getMessage()
    assert any("back after" in r.getMessage() for r in caplog.records)
