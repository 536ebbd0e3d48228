"""Scenarios by name: a timeline of segments that ends parked at a gate forever."""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

from firmware_sim.flight.profile import Leg, Segment, airport, gate, plan_flight

BOARDING_S = 600.0  # at the gate before the day's first departure
TURNAROUND_S = 1500.0  # at the gate between flights: long enough for the ground window (~12 minutes)
FLIGHT_GATE_S = 120.0  # the "flight" scenario's short wait before pushback


def _leg(origin: str, destination: str, flight_number: str, flight_id: str, cruise_ft: float = 35000.0) -> Leg:
    return Leg(airport(origin), airport(destination), flight_number, flight_id, cruise_ft)


@dataclass(frozen=True)
class Timeline:
    name: str
    segments: tuple[Segment, ...]

    def __post_init__(self) -> None:
        assert self.segments and math.isinf(self.segments[-1].duration)

    def index_at(self, t: float) -> int:
        starts = [s.start for s in self.segments]
        return max(bisect.bisect_right(starts, t) - 1, 0)

    def at(self, t: float) -> Segment:
        return self.segments[self.index_at(t)]

    def flights(self) -> list[tuple[Leg, float, float]]:
        """Each flight with its off-block and on-block times (scenario seconds): the published schedule."""
        out: list[tuple[Leg, float, float]] = []
        for before, after in itertools.pairwise(self.segments):
            if before.kind == "gate" and after.kind != "gate":
                out.append((after.leg, after.start, math.inf))
            elif after.kind == "gate" and after.after_flight and out:
                leg, departure, _ = out[-1]
                out[-1] = (leg, departure, after.start)
        return out

    def first(self, kind_or_phase: str) -> Segment:
        """The first segment of this kind (taxi_out, landing, ...) or public phase (taxi, landed, ...)."""
        for segment in self.segments:
            if kind_or_phase in (segment.kind, segment.phase):
                return segment
        raise KeyError(kind_or_phase)


def _chain(name: str, legs: list[Leg], first_gate: float, turnaround: float) -> Timeline:
    """Gate, flight, gate, flight, ..., gate forever."""
    segments: list[Segment] = [gate(legs[0], 0.0, first_gate, after_flight=False)]
    for i, leg in enumerate(legs):
        flight = plan_flight(leg, segments[-1].end)
        segments.extend(flight)
        last = i == len(legs) - 1
        segments.append(gate(leg, flight[-1].end, math.inf if last else turnaround, after_flight=True))
    return Timeline(name, tuple(segments))


def day() -> Timeline:
    """A full day: Barcelona-Madrid and back, then Barcelona-London and back, turnarounds in between."""
    legs = [
        _leg("LEBL", "LEMD", "IB3101", "IBE3101"),
        _leg("LEMD", "LEBL", "IB3102", "IBE3102"),
        _leg("LEBL", "EGLL", "IB3166", "IBE3166", 37000.0),
        _leg("EGLL", "LEBL", "IB3167", "IBE3167", 37000.0),
    ]
    return _chain("day", legs, BOARDING_S, TURNAROUND_S)


def flight() -> Timeline:
    """One flight, Barcelona to Madrid, from two minutes before pushback to the gate."""
    return _chain("flight", [_leg("LEBL", "LEMD", "IB3101", "IBE3101")], FLIGHT_GATE_S, TURNAROUND_S)


def parked() -> Timeline:
    """Parked at Barcelona's gate, the next flight to Madrid loaded in the FMC."""
    return Timeline("gate", (gate(_leg("LEBL", "LEMD", "IB3101", "IBE3101"), 0.0, math.inf, after_flight=False),))


SCENARIOS: dict[str, Callable[[], Timeline]] = {"day": day, "flight": flight, "gate": parked}
