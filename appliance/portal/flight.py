"""The passenger's view of the flight: values with units, status and age; where from, where to, how long to go.

Built from the FlightView snapshot (avionics) with, as fallback for the flight number, origin and destination,
the ground station's schedule (`source: "ground"`), else the schedule from config (`source: "schedule"`).
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


def _unavailable(units: str, status: str = "unavailable") -> dict[str, Any]:
    return {"value": None, "units": units, "status": status}


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
            age = item.get("age")
            out[name] = {
                "value": value if isinstance(value, int | float) and math.isfinite(value) else None,
                "units": str(item.get("units", "")),
                "status": status,
                "age": round(float(age), 1) if isinstance(age, int | float) else None,
            }
        return out

    def _route(self, info: dict[str, Any], now_utc: datetime) -> dict[str, Any]:
        """From the avionics flight information block; what it lacks from the ground station's schedule (the
        leg due now), else from the schedule in the config."""
        number, origin, destination = info.get("flight_number"), info.get("origin"), info.get("destination")
        leg = self._ground_schedule.leg_at(now_utc) if self._ground_schedule is not None else None
        s = Schedule(leg.flight_number, leg.origin, leg.destination) if leg is not None else self._schedule
        fallback = "ground" if leg is not None else ("schedule" if s.destination else None)
        source = "avionics" if (number or origin or destination) else fallback
        return {
            "flight_number": number or s.flight_number or None,
            "origin": origin or s.origin or None,
            "destination": destination or s.destination or None,
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
        progress: dict[str, Any] = {
            "total_distance": _unavailable("km"),
            "distance_to_go": _unavailable("km"),
            "time_to_go": _unavailable("s"),
            "percent_complete": _unavailable("%"),
            "eta": {"utc": None, "local": None, "tz": destination.tz if destination else None, "status": "unavailable"},
        }
        if origin and destination:
            total = distance_km(origin.lat, origin.lon, destination.lat, destination.lon)
            progress["total_distance"] = {"value": round(total, 1), "units": "km", "status": "normal"}
        if position is None or destination is None:
            return progress
        to_go = distance_km(position[0], position[1], destination.lat, destination.lon)
        progress["distance_to_go"] = {"value": round(to_go, 1), "units": "km", "status": "normal"}
        if origin is not None:
            total = progress["total_distance"]["value"]
            percent = 100.0 if total <= 0 else max(0.0, min(100.0, 100.0 * (1.0 - to_go / total)))
            progress["percent_complete"] = {"value": round(percent, 1), "units": "%", "status": "normal"}
        speed = parameters["ground_speed"]["value"]
        if speed is not None and speed >= MIN_CRUISE_SPEED_KT:
            seconds = to_go / (float(speed) * KM_PER_NM) * 3600.0
            progress["time_to_go"] = {"value": round(seconds), "units": "s", "status": "normal"}
            eta = now_utc + timedelta(seconds=seconds)
            progress["eta"] = {
                "utc": eta.isoformat(timespec="minutes"),
                "local": _local(eta, destination),
                "tz": destination.tz,
                "status": "normal",
            }
        return progress

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
