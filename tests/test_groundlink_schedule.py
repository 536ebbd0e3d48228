"""The aircraft's schedule from the ground station: validated as a whole, kept across reboots, the leg due now
chosen for the portal; fetched in the ground window from the simulated station (the scenario's flights)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from appliance.groundlink.link import GroundLink
from appliance.groundlink.schedule import ScheduleStore, ScheduleUnavailable, fetch_schedule, parse_schedule
from appliance.metrics import Metrics
from appliance.timebase import SystemClock
from firmware_sim.flight.world import FlightWorld
from firmware_sim.ground.station import GroundStation
from tests.groundlink_support import MemoryOutbox, config, ground_client
from tests.test_groundlink_window import Flight, Modem, until

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def leg(number: str, origin: str, destination: str, departure: datetime, minutes: int) -> dict[str, Any]:
    return {"flight_number": number, "origin": origin, "destination": destination,
            "departure": departure.isoformat(), "arrival": (departure + timedelta(minutes=minutes)).isoformat()}


DAY = {"legs": [leg("IB3102", "LEMD", "LEBL", T0 + timedelta(minutes=95), 70),  # out of order on purpose
                leg("IB3101", "LEBL", "LEMD", T0, 70)]}


def test_legs_are_sorted_and_the_leg_due_now_is_chosen(tmp_path: Path) -> None:
    legs = parse_schedule(DAY)
    assert [x.flight_number for x in legs] == ["IB3101", "IB3102"]
    store = ScheduleStore(tmp_path / "schedule.json")
    store.replace(legs, wall=1.0)

    def at(minutes: float) -> str | None:
        found = store.leg_at(T0 + timedelta(minutes=minutes))
        return found.flight_number if found else None

    assert at(-181) is None  # too early to tell
    assert at(-120) == "IB3101"  # boarding, or a server switched on early
    assert at(35) == "IB3101"  # in the air
    assert at(80) == "IB3101"  # just arrived: deplaning
    assert at(91) == "IB3102"  # the turnaround: the next leg boards
    assert at(165 + 21) is None  # the day is over


def test_kept_across_reboots_and_a_damaged_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "schedule.json"
    ScheduleStore(path).replace(parse_schedule(DAY), wall=1.0)
    again = ScheduleStore(path)
    assert [x.flight_number for x in again.legs] == ["IB3101", "IB3102"]
    assert again.legs[0].departure == T0
    path.write_text('{"legs": [{"flight_number": 7}]}')
    assert ScheduleStore(path).legs == []


@pytest.mark.parametrize(("document", "problem"), [
    ([], "expected"),
    ({"legs": [leg("ib31", "LEBL", "LEMD", T0, 60)]}, "flight_number"),
    ({"legs": [leg("IB3101", "LEB", "LEMD", T0, 60)]}, "origin"),
    ({"legs": [leg("IB3101", "LEBL", "LEMD", T0, 0)]}, "arrival is not after"),
    ({"legs": [leg("IB3101", "LEBL", "LEMD", T0, 60) | {"departure": "2026-11-23T08:00:00"}]}, "with a zone"),
    ({"legs": [leg("IB3101", "LEBL", "LEMD", T0, 60) | {"arrival": "soon"}]}, "arrival"),
    ({"legs": [leg("IB3101", "LEBL", "LEMD", T0, 60)] * 65}, "at most"),
])
def test_a_bad_document_names_its_problem(document: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_schedule(document)


async def test_a_refused_document_keeps_the_schedule_we_had(tmp_path: Path) -> None:
    store = ScheduleStore(tmp_path / "schedule.json")
    station = GroundStation(publish_sample=False)
    await station.start()
    try:
        async with ground_client(station.url) as client:
            station.schedule_override = DAY
            assert await fetch_schedule(client, store, "/schedule.json", 2.0, wall=1.0) == 2
            station.schedule_override = {"legs": [{"flight_number": "x"}]}
            with pytest.raises(ScheduleUnavailable, match=r"refused: legs\[0\]\.flight_number"):
                await fetch_schedule(client, store, "/schedule.json", 2.0, wall=2.0)
            station.schedule_override = None  # a station with no world: 404
            with pytest.raises(ScheduleUnavailable, match="HTTP 404"):
                await fetch_schedule(client, store, "/schedule.json", 2.0, wall=3.0)
        assert [x.flight_number for x in ScheduleStore(tmp_path / "schedule.json").legs] == ["IB3101", "IB3102"]
    finally:
        await station.stop()


async def test_the_window_fetches_the_scenario_flights(tmp_path: Path) -> None:
    world = FlightWorld("day", start_utc=T0)
    station = GroundStation(world=world, publish_sample=False)
    await station.start()
    link = GroundLink(config(station.url, poll_seconds=0.02, health_seconds=0.2, clock_check=False),
                      SystemClock(), Metrics(), state_dir=tmp_path, flight=Flight(True), modem=Modem(True),
                      outbox=MemoryOutbox())
    await link.start()
    try:
        await until(lambda: bool(link.schedule.legs))
        assert [(x.flight_number, x.origin, x.destination) for x in link.schedule.legs] == [
            ("IB3101", "LEBL", "LEMD"), ("IB3102", "LEMD", "LEBL"), ("IB3166", "LEBL", "EGLL"),
            ("IB3167", "EGLL", "LEBL")]
        first = link.schedule.legs[0]
        assert first.departure == T0 + timedelta(minutes=10)  # boarding, then off-block
        assert link.snapshot()["schedule"]["legs"] == 4
        saved = json.loads((tmp_path / "schedule.json").read_text())
        assert len(saved["legs"]) == 4
    finally:
        await link.stop()
        await station.stop()
        await asyncio.sleep(0)
