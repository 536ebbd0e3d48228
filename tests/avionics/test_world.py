"""The simulator's flight world: a real route, a plausible profile, events in order, control routes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from firmware_sim.flight import FlightWorld
from firmware_sim.flight.geo import distance_nm
from firmware_sim.flight.scenario import SCENARIOS
from firmware_sim.simulator import Simulator


class FakeTime:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _world(scenario: str = "flight", speed: float = 1.0) -> tuple[FlightWorld, FakeTime]:
    clock = FakeTime()
    return FlightWorld(scenario, speed, monotonic=clock, start_utc=datetime(2026, 6, 1, 6, 0, tzinfo=UTC)), clock


def test_flight_goes_from_barcelona_to_madrid_gate_to_gate() -> None:
    world, clock = _world("flight")
    start = world.truth()
    assert start["phase"] == "gate" and start["on_ground"] and start["ground_speed"] == 0
    assert distance_nm(start["latitude"], start["longitude"], 41.2971, 2.07846) < 3
    kinds = [s.kind for s in world.timeline.segments]
    assert kinds == ["gate", "taxi_out", "takeoff", "climb", "cruise", "descent", "approach", "landing", "taxi_in",
                     "gate"]
    clock.t += world.timeline.segments[-1].start + 60
    end = world.truth()
    assert end["phase"] == "gate" and end["destination"] == "LEMD"
    assert distance_nm(end["latitude"], end["longitude"], 40.4936, -3.56676) < 3
    assert abs(end["altitude"] - 2001) < 1  # Madrid's field elevation
    block_time = world.timeline.segments[-1].start - world.timeline.segments[1].start
    assert 55 * 60 < block_time < 90 * 60  # a real BCN-MAD block time is about 1 h 15


def test_cruise_is_isa_at_cruise_mach() -> None:
    world, clock = _world("flight")
    cruise = world.timeline.first("cruise")
    clock.t += cruise.start + cruise.duration / 2
    truth = world.truth()
    assert truth["altitude"] >= 29000 and not truth["on_ground"]
    isa = 15 - 1.98 * truth["altitude"] / 1000 + 5
    assert abs(truth["outside_temperature"] - max(isa, -51.5)) < 0.01
    assert abs(truth["mach_speed"] - 0.78) < 0.01
    assert truth["total_air_temperature"] > truth["outside_temperature"] + 20
    assert 200 < truth["heading"] < 280  # south-west towards Madrid
    assert truth["utc_time"].count(":") == 2 and truth["date"] == "2026-06-01"


def test_events_in_order_even_when_polled_rarely() -> None:
    world, clock = _world("flight", speed=1000)
    events: list[tuple[str, dict[str, Any]]] = []
    world.subscribe(lambda event, detail: events.append((event, detail)))
    for _ in range(40):  # 40 polls a second of real time apart: 1,000 scenario seconds each
        clock.t += 1.0
        world.poll()
    names = [e if e != "phase" else d["phase"] for e, d in events]
    assert names == ["departing", "taxi", "takeoff", "climb", "cruise", "descent", "approach", "landed", "gate",
                     "arrived"]
    assert events[-1][1]["airport"] == "LEMD" and events[0][1]["airport"] == "LEBL"


def test_day_has_a_long_turnaround_and_a_return_flight() -> None:
    timeline = SCENARIOS["day"]()
    gates = [s for s in timeline.segments if s.kind == "gate"]
    assert len(gates) >= 3
    assert all(g.duration >= 12 * 60 for g in gates[1:-1])
    legs = [(s.leg.origin.icao, s.leg.destination.icao) for s in timeline.segments if s.kind == "takeoff"]
    assert legs[:2] == [("LEBL", "LEMD"), ("LEMD", "LEBL")]


def test_freeze_holds_time_and_speed_compresses_it() -> None:
    world, clock = _world("gate", speed=10)
    clock.t += 3
    assert world.now() == 30
    world.freeze(True)
    clock.t += 5
    assert world.now() == 30
    world.freeze(False)
    world.set_speed(2)
    clock.t += 1
    assert world.now() == 32


async def test_control_routes() -> None:
    simulator = Simulator(scenario="gate", speed=1, control="127.0.0.1:0")
    async with TestClient(TestServer(simulator.make_app())) as client:
        response = await client.post("/scenario", json={"name": "nowhere"})
        assert response.status == 400 and "error" in await response.json()
        response = await client.post("/scenario", data=b"{not json")
        assert response.status == 400
        response = await client.post("/scenario", json={"name": "flight", "speed": 50, "at": "cruise"})
        assert response.status == 200
        state = await (await client.get("/state")).json()
        assert state["scenario"] == "flight" and state["speed"] == 50
        assert state["world"]["phase"] == "cruise"
        response = await client.post("/scenario", json={"speed": 5})  # only the speed: the flight goes on
        assert (await response.json())["t"] >= state["world"]["t"]
        state = await (await client.get("/state")).json()
        assert state["speed"] == 5 and state["world"]["phase"] == "cruise"
        response = await client.post("/world/freeze", json={"frozen": True})
        t = (await response.json())["t"]
        state = await (await client.get("/state")).json()
        assert state["world"]["t"] == t
        response = await client.post("/world/seek", json={"at": "landed"})
        assert (await response.json())["phase"] == "landed"
