"""The passenger's view of the flight: values with units, status and age; where from, where to, how long to go.

Built from the FlightView snapshot (avionics). The flight number, origin and destination come together from the
best complete source (`source`): the avionics' label 360 block (`avionics`), the ground station's schedule
(`ground`), the config's schedule (`schedule`); see FlightReport._route.
A value that is not normal and fresh is null with its status, never shown as current.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from appliance.portal.airports import Airport, Airports
from appliance.portal.geo import KM_PER_NM, distance_km
from appliance.ports import FlightView, ScheduleView
from appliance.timebase import Clock

#: The parameters the passenger app shows (others the avionics decode stay off the passenger listener).
SHOWN = (
    "altitude",
    "ground_speed",
    "outside_temperature",
    "latitude",
    "longitude",
    "heading",
    "wind_speed",
    "wind_direction",
    "mach_speed",
)
MIN_CRUISE_SPEED_KT = 50.0  # below this the time to go is not meaningful
TRACK_MIN_STEP_KM = 10.0
TRACK_MAX_POINTS = 2000


@dataclass(frozen=True)
class Schedule:
    flight_number: str = ""
    origin: str = ""
    destination: str = ""


#: (status, age) of the inputs a computed value comes from: see `_basis`.
Basis = tuple[str, float | None]


def _age(seconds: object) -> float | None:
    return round(float(seconds), 1) if isinstance(seconds, int | float) else None


def _round(value: float | None, digits: int) -> float | None:
    return round(value, digits) if value is not None else None


def _basis(parameters: dict[str, Any], *names: str) -> Basis:
    """The status and age of what is computed from these parameters: the status of the first input that is not
    normal (else "normal"); the age of the oldest input (None if one was never received)."""
    inputs = [parameters[name] for name in names]
    status = next((str(i["status"]) for i in inputs if i["status"] != "normal"), "normal")
    ages = [i["age"] for i in inputs]
    return status, None if None in ages else max(ages)


def _outcome(computed: bool, basis: Basis) -> Basis:
    """A value that could not be computed takes the status of its failing input, "unavailable" if none failed."""
    status, age = basis
    if computed:
        return "normal", age
    return (status if status != "normal" else "unavailable"), age


def _derived(value: float | None, units: str, basis: Basis) -> dict[str, Any]:
    status, age = _outcome(value is not None, basis)
    return {"value": value, "units": units, "status": status, "age": age}


def _tz(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


class FlightReport:
    """Builds the `/api/v1/flight` document and keeps the flown track."""

    def __init__(self, flight: FlightView | None, schedule: Schedule, clock: Clock, airports: Airports,
                 ground_schedule: ScheduleView | None = None) -> None:
        self._flight = flight
        self._schedule = schedule
        self._ground_schedule = ground_schedule
        self._clock = clock
        self._airports = airports
        self.track: list[tuple[float, float]] = []
        self._track_key: tuple[str | None, str | None] = (None, None)
        self._route_now: dict[str, Any] = {}

    def destination_icao(self) -> str | None:
        """The destination of the last built report."""
        value = self._route_now.get("destination")
        return str(value) if value else None

    def flight_number(self) -> str | None:
        value = self._route_now.get("flight_number")
        return str(value) if value else None

    def build(self) -> dict[str, Any]:
        snapshot = self._flight.snapshot() if self._flight is not None else {}
        parameters = self._parameters(snapshot.get("parameters") or {})
        now_utc = self._now_utc()
        route = self._route(snapshot.get("flight") or {}, now_utc)
        self._route_now = route
        origin = self._airports.get(route["origin"])
        destination = self._airports.get(route["destination"])
        position = self._position(parameters)
        self._record_track(position, route)
        return {
            "phase": snapshot.get("phase", "unknown"),
            "on_ground": snapshot.get("on_ground"),
            "flight": {
                "flight_number": route["flight_number"],
                "origin": origin.as_dict() if origin else _bare(route["origin"]),
                "destination": destination.as_dict() if destination else _bare(route["destination"]),
                "source": route["source"],
            },
            "parameters": parameters,
            "position": {"lat": position[0], "lon": position[1]} if position else None,
            "progress": self._progress(position, parameters, origin, destination, now_utc),
            "time": {
                "utc": now_utc.isoformat(timespec="seconds"),
                "destination_local": _local(now_utc, destination),
                "destination_tz": destination.tz if destination else None,
            },
        }

    # --- parts ----------------------------------------------------------------------------------------------

    @staticmethod
    def _parameters(raw: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in SHOWN:
            item = raw.get(name)
            if not isinstance(item, dict):
                out[name] = {"value": None, "units": "", "status": "never", "age": None}
                continue
            status = str(item.get("status", "unknown"))
            value = item.get("value") if status == "normal" else None
            out[name] = {
                "value": value if isinstance(value, int | float) and math.isfinite(value) else None,
                "units": str(item.get("units", "")),
                "status": status,
                "age": _age(item.get("age")),
            }
        return out

    def _route(self, info: dict[str, Any], now_utc: datetime) -> dict[str, Any]:
        """Flight number, origin and destination from ONE source, never mixed: the best complete one of the
        avionics' flight information block (label 360), the ground station's schedule (the leg due now), the
        config's schedule; when none is complete, the avionics' flight number label alone (its digits: it
        carries no airline nor airports), else whatever the config's schedule has, else nothing."""
        leg = self._ground_schedule.leg_at(now_utc) if self._ground_schedule is not None else None
        avionics = Schedule(str(info.get("flight_number") or ""), str(info.get("origin") or ""),
                            str(info.get("destination") or ""))
        candidates: list[tuple[str | None, Schedule]] = [("avionics", avionics)]
        if leg is not None:
            candidates.append(("ground", Schedule(leg.flight_number, leg.origin, leg.destination)))
        candidates.append(("schedule", self._schedule))
        complete = [(source, s) for source, s in candidates if s.flight_number and s.origin and s.destination]
        partial = [(source, s) for source, s in candidates if s.flight_number or s.origin or s.destination]
        source, chosen = (complete or partial or [(None, Schedule())])[0]
        return {
            "flight_number": chosen.flight_number or None,
            "origin": chosen.origin or None,
            "destination": chosen.destination or None,
            "source": source,
        }

    def _now_utc(self) -> datetime:
        avionics = self._flight.utc() if self._flight is not None else None
        return avionics if avionics is not None else datetime.fromtimestamp(self._clock.wall(), UTC)

    @staticmethod
    def _position(parameters: dict[str, Any]) -> tuple[float, float] | None:
        lat, lon = parameters["latitude"]["value"], parameters["longitude"]["value"]
        if lat is None or lon is None:
            return None
        return float(lat), float(lon)

    def _progress(
        self,
        position: tuple[float, float] | None,
        parameters: dict[str, Any],
        origin: Airport | None,
        destination: Airport | None,
        now_utc: datetime,
    ) -> dict[str, Any]:
        """Each value computed from the parameters it names, with their status and age (`_basis`)."""
        where = _basis(parameters, "latitude", "longitude")
        moving = _basis(parameters, "latitude", "longitude", "ground_speed")
        total = to_go = percent = None
        if origin and destination:
            total = distance_km(origin.lat, origin.lon, destination.lat, destination.lon)
        if position and destination:
            to_go = distance_km(position[0], position[1], destination.lat, destination.lon)
        if to_go is not None and total is not None:
            percent = 100.0 if total <= 0 else max(0.0, min(100.0, 100.0 * (1.0 - to_go / total)))
        speed = parameters["ground_speed"]["value"]
        seconds = None
        if to_go is not None and speed is not None and speed >= MIN_CRUISE_SPEED_KT:
            seconds = to_go / (float(speed) * KM_PER_NM) * 3600.0
        eta = now_utc + timedelta(seconds=seconds) if seconds is not None else None
        eta_status, eta_age = _outcome(eta is not None, moving)
        return {
            "total_distance": _derived(_round(total, 1), "km", ("normal", None)),  # the airport table's, no age
            "distance_to_go": _derived(_round(to_go, 1), "km", where),
            "time_to_go": _derived(round(seconds) if seconds is not None else None, "s", moving),
            "percent_complete": _derived(_round(percent, 1), "%", where),
            "eta": {
                "utc": eta.isoformat(timespec="minutes") if eta else None,
                "local": _local(eta, destination) if eta else None,
                "tz": destination.tz if destination else None,
                "status": eta_status,
                "age": eta_age,
            },
        }

    def _record_track(self, position: tuple[float, float] | None, route: dict[str, Any]) -> None:
        key = (route["origin"], route["destination"])
        if key != self._track_key:
            self.track, self._track_key = [], key
        if position is None:
            return
        if self.track and distance_km(*self.track[-1], *position) < TRACK_MIN_STEP_KM:
            return
        self.track.append((round(position[0], 4), round(position[1], 4)))
        if len(self.track) > TRACK_MAX_POINTS:
            self.track = self.track[::2]


def _bare(icao: str | None) -> dict[str, Any] | None:
    if not icao:
        return None
    return {"icao": icao, "iata": None, "name": None, "city": None, "country": None, "lat": None, "lon": None,
            "tz": None}


def _local(moment: datetime, airport: Airport | None) -> str | None:
    if airport is None:
        return None
    zone = _tz(airport.tz)
    return moment.astimezone(zone).isoformat(timespec="minutes") if zone else None
