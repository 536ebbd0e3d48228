"""A flight as a timeline of segments (gate, taxi out, takeoff roll, climb, cruise, descent, approach, landing
roll, taxi in), each with ground speed and altitude varying smoothly, along the great circle of a real route.

Along-track distance is in nautical miles from the origin's runway (negative while taxiing out, past the route's
length while taxiing in); times are scenario seconds.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import airportsdata

from firmware_sim.flight.geo import (
    along_great_circle,
    distance_nm,
    initial_bearing,
    isa_temperature,
    speed_of_sound_kt,
    wrap360,
)

# public phase of each segment kind (the World protocol's names)
PHASE_OF = {
    "gate": "gate",
    "taxi_out": "taxi",
    "takeoff": "takeoff",
    "climb": "climb",
    "cruise": "cruise",
    "descent": "descent",
    "approach": "approach",
    "landing": "landed",
    "taxi_in": "landed",
}
ON_GROUND = {"gate", "taxi_out", "takeoff", "landing", "taxi_in"}

TAXI_OUT_S, TAXI_OUT_KT = 480.0, 12.0
TAKEOFF_S, ROTATE_KT = 40.0, 150.0
CLIMB_FPM, DESCENT_FPM = 2000.0, 2200.0
CRUISE_MACH = 0.78
ISA_DEVIATION_C = 5.0
DESCENT_END_KT, APPROACH_END_KT = 250.0, 140.0
APPROACH_S, APPROACH_AGL_FT = 360.0, 4000.0
LANDING_S, LANDING_END_KT = 45.0, 20.0
TAXI_IN_S, TAXI_IN_KT = 300.0, 12.0
MIN_CRUISE_S = 180.0


def wind(altitude_ft: float) -> tuple[float, float]:
    """(speed kt, direction from, degrees true): a westerly strengthening with height."""
    k = min(max(altitude_ft, 0.0) / 35000.0, 1.2)
    return 8.0 + 52.0 * k, wrap360(280.0 - 20.0 * k)


def cruise_ground_speed(leg: Leg, altitude_ft: float) -> float:
    """Ground speed at the cruise Mach, with the wind at that altitude along the route's mean track."""
    true_airspeed = CRUISE_MACH * speed_of_sound_kt(isa_temperature(altitude_ft, ISA_DEVIATION_C))
    speed, direction = wind(altitude_ft)
    headwind = speed * math.cos(math.radians(direction - leg.track(leg.length_nm / 2)))
    return round(true_airspeed - headwind)


@dataclass(frozen=True)
class Airport:
    icao: str
    name: str
    lat: float
    lon: float
    elevation_ft: float


@functools.cache
def _airports() -> dict[str, Any]:
    table: dict[str, Any] = dict(airportsdata.load("ICAO"))
    return table


def airport(icao: str) -> Airport:
    """An airport from the `airportsdata` table (KeyError for an unknown ICAO code)."""
    row = _airports()[icao.upper()]
    return Airport(
        icao=str(row["icao"]),
        name=str(row["name"]),
        lat=float(str(row["lat"])),
        lon=float(str(row["lon"])),
        elevation_ft=float(str(row["elevation"])),
    )


@dataclass(frozen=True)
class Leg:
    """One flight: where from, where to, and what the flight management computer says it is."""

    origin: Airport
    destination: Airport
    flight_number: str  # label 360 block and the digits of label 261, e.g. "IB3101"
    flight_id: str  # labels 233-236, e.g. "IBE3101"
    cruise_altitude_ft: float = 35000.0

    @functools.cached_property
    def length_nm(self) -> float:
        o, d = self.origin, self.destination
        return distance_nm(o.lat, o.lon, d.lat, d.lon)

    def position(self, along_nm: float) -> tuple[float, float]:
        o, d = self.origin, self.destination
        return along_great_circle(o.lat, o.lon, d.lat, d.lon, along_nm / self.length_nm)

    def track(self, along_nm: float) -> float:
        """True track (degrees) of the great circle at this point."""
        lat1, lon1 = self.position(along_nm)
        lat2, lon2 = self.position(along_nm + 0.5)
        return initial_bearing(lat1, lon1, lat2, lon2)


@dataclass(frozen=True)
class Segment:
    kind: str
    start: float  # scenario seconds
    duration: float  # math.inf for the last gate of a scenario
    leg: Leg
    along0: float  # nm at the segment's start
    gs0: float  # ground speed (kt) at start and end, linear in between
    gs1: float
    alt0: float  # pressure altitude (ft) at start and end
    alt1: float
    shape: str = "linear"  # altitude curve: linear, climb (steep first), descent (steep last)
    after_flight: bool = False  # a gate segment reached by landing (as opposed to before departure)

    @property
    def phase(self) -> str:
        return PHASE_OF[self.kind]

    @property
    def on_ground(self) -> bool:
        return self.kind in ON_GROUND

    @property
    def end(self) -> float:
        return self.start + self.duration

    def _u(self, t: float) -> float:
        if math.isinf(self.duration) or self.duration <= 0:
            return 0.0
        return min(max((t - self.start) / self.duration, 0.0), 1.0)

    def ground_speed(self, t: float) -> float:
        return self.gs0 + (self.gs1 - self.gs0) * self._u(t)

    def along(self, t: float) -> float:
        """Integral of the linear ground speed since the segment's start, in nm."""
        if self.gs0 == self.gs1 == 0.0:
            return self.along0
        dt = (t - self.start) if math.isinf(self.duration) else self._u(t) * self.duration
        accel = 0.0 if math.isinf(self.duration) else (self.gs1 - self.gs0) / self.duration
        return self.along0 + (self.gs0 * dt + 0.5 * accel * dt * dt) / 3600.0

    def altitude(self, t: float) -> float:
        u = self._u(t)
        if self.shape == "climb":
            u = 1.0 - (1.0 - u) ** 1.5
        elif self.shape == "descent":
            u = u**1.2
        return self.alt0 + (self.alt1 - self.alt0) * u

    def vertical_speed(self, t: float) -> float:
        """ft/min, by a small finite difference."""
        h = 0.5
        return (self.altitude(t + h) - self.altitude(t - h)) / (2 * h) * 60.0


@dataclass
class _Builder:
    leg: Leg
    start: float
    segments: list[Segment] = field(default_factory=list)

    def add(self, kind: str, duration: float, gs: tuple[float, float], alt: tuple[float, float],
            *, shape: str = "linear", along0: float | None = None) -> Segment:
        previous = self.segments[-1] if self.segments else None
        if along0 is None:
            along0 = previous.along(previous.end) if previous is not None else 0.0
        start = previous.end if previous is not None else self.start
        segment = Segment(kind, start, duration, self.leg, along0, gs[0], gs[1], alt[0], alt[1], shape)
        self.segments.append(segment)
        return segment


def _distance(duration: float, gs0: float, gs1: float) -> float:
    return duration * (gs0 + gs1) / 2.0 / 3600.0


def plan_flight(leg: Leg, start: float) -> list[Segment]:
    """The segments from pushback to the stop at the destination's gate (gate segments not included).

    The cruise is as long as the route needs; on a short route the cruise altitude comes down (2,000 ft at a
    time) until there are at least three minutes of cruise.
    """
    origin_ft, dest_ft = leg.origin.elevation_ft, leg.destination.elevation_ft
    cruise_ft = leg.cruise_altitude_ft
    while True:
        cruise_kt = cruise_ground_speed(leg, cruise_ft)
        climb_s = (cruise_ft - origin_ft) / CLIMB_FPM * 60.0
        approach_top = dest_ft + APPROACH_AGL_FT
        descent_s = (cruise_ft - approach_top) / DESCENT_FPM * 60.0
        fixed = (
            _distance(TAKEOFF_S, TAXI_OUT_KT, ROTATE_KT)
            + _distance(climb_s, ROTATE_KT, cruise_kt)
            + _distance(descent_s, cruise_kt, DESCENT_END_KT)
            + _distance(APPROACH_S, DESCENT_END_KT, APPROACH_END_KT)
            + _distance(LANDING_S, APPROACH_END_KT, LANDING_END_KT)
        )
        cruise_s = (leg.length_nm - fixed) / cruise_kt * 3600.0
        if cruise_s >= MIN_CRUISE_S or cruise_ft <= approach_top + 6000:
            break
        cruise_ft -= 2000.0
    cruise_s = max(cruise_s, MIN_CRUISE_S)
    b = _Builder(leg, start)
    taxi_nm = _distance(TAXI_OUT_S, TAXI_OUT_KT, TAXI_OUT_KT)
    b.add("taxi_out", TAXI_OUT_S, (TAXI_OUT_KT, TAXI_OUT_KT), (origin_ft, origin_ft), along0=-taxi_nm)
    b.add("takeoff", TAKEOFF_S, (TAXI_OUT_KT, ROTATE_KT), (origin_ft, origin_ft), along0=0.0)
    b.add("climb", climb_s, (ROTATE_KT, cruise_kt), (origin_ft, cruise_ft), shape="climb")
    b.add("cruise", cruise_s, (cruise_kt, cruise_kt), (cruise_ft, cruise_ft))
    b.add("descent", descent_s, (cruise_kt, DESCENT_END_KT), (cruise_ft, approach_top), shape="descent")
    b.add("approach", APPROACH_S, (DESCENT_END_KT, APPROACH_END_KT), (approach_top, dest_ft))
    b.add("landing", LANDING_S, (APPROACH_END_KT, LANDING_END_KT), (dest_ft, dest_ft))
    b.add("taxi_in", TAXI_IN_S, (TAXI_IN_KT, TAXI_IN_KT), (dest_ft, dest_ft))
    return b.segments


def gate(leg: Leg, start: float, duration: float, after_flight: bool) -> Segment:
    """Parked: before `leg` departs (at the origin) or after it arrived (at the destination)."""
    if after_flight:
        last = plan_flight(leg, 0.0)[-1]
        along, elevation = last.along(last.end), leg.destination.elevation_ft
    else:
        along, elevation = -_distance(TAXI_OUT_S, TAXI_OUT_KT, TAXI_OUT_KT), leg.origin.elevation_ft
    return Segment("gate", start, duration, leg, along, 0.0, 0.0, elevation, elevation, after_flight=after_flight)
