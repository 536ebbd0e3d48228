"""The aircraft's schedule from the ground station: the portal's fallback for the flight number, origin and
destination when the avionics flight information block is missing (an FMC not yet loaded, a failed label).

Fetched in the ground window (`GET groundlink.schedule_path`: a static JSON document the airline publishes on any
web server or object store), validated as a whole (a bad document keeps the schedule we had), kept in the state
directory with an atomic replace so it survives the power cuts between the window and the next flight.

    {"legs": [{"flight_number": "IB3101", "origin": "LEBL", "destination": "LEMD",
               "departure": "2026-11-23T08:00:00Z", "arrival": "2026-11-23T09:10:00Z"}, ...]}
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from appliance.fs.atomic import atomic_write_text, read_state_file
from appliance.groundlink.client import GroundClient
from appliance.ports import ContentVerifier, ScheduledLeg

log = logging.getLogger("appliance.groundlink")

MAX_LEGS = 64
SHOWN_BEFORE_DEPARTURE = timedelta(hours=3)  # boarding, and a server switched on early
SHOWN_AFTER_ARRIVAL = timedelta(minutes=20)  # deplaning; then the next leg boards
ICAO = re.compile(r"[A-Z0-9]{4}")
FLIGHT_NUMBER = re.compile(r"[A-Z0-9]{2,3}[0-9]{1,4}[A-Z]?")


class ScheduleUnavailable(Exception):
    """The station answered with no usable schedule (an HTTP error or a document that does not validate)."""


def parse_schedule(document: Any) -> list[ScheduledLeg]:
    """The legs of a schedule document, sorted by departure. Raises ValueError naming the first problem."""
    if not isinstance(document, dict) or not isinstance(document.get("legs"), list):
        raise ValueError('expected {"legs": [...]}')
    raw_legs = document["legs"]
    if len(raw_legs) > MAX_LEGS:
        raise ValueError(f"{len(raw_legs)} legs (at most {MAX_LEGS})")
    legs = [_leg(index, raw) for index, raw in enumerate(raw_legs)]
    return sorted(legs, key=lambda leg: leg.departure)


def _leg(index: int, raw: Any) -> ScheduledLeg:
    where = f"legs[{index}]"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected an object")
    texts: dict[str, str] = {}
    for key, pattern in (("flight_number", FLIGHT_NUMBER), ("origin", ICAO), ("destination", ICAO)):
        value = raw.get(key)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise ValueError(f"{where}.{key}: {value!r} is not a valid {key.replace('_', ' ')}")
        texts[key] = value
    times: dict[str, datetime] = {}
    for key in ("departure", "arrival"):
        value = raw.get(key)
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise ValueError(f"{where}.{key}: {value!r} is not an ISO 8601 time with a zone")
        times[key] = moment.astimezone(UTC)
    if times["arrival"] <= times["departure"]:
        raise ValueError(f"{where}: arrival is not after departure")
    return ScheduledLeg(texts["flight_number"], texts["origin"], texts["destination"], times["departure"],
                        times["arrival"])


def _document(legs: list[ScheduledLeg]) -> dict[str, Any]:
    return {"legs": [{"flight_number": leg.flight_number, "origin": leg.origin, "destination": leg.destination,
                      "departure": leg.departure.isoformat(), "arrival": leg.arrival.isoformat()} for leg in legs]}


class ScheduleStore:
    """The last schedule the station published (ScheduleView for the portal)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.legs: list[ScheduledLeg] = []
        self.fetched_at: float | None = None  # wall time of the last good fetch (this boot)
        raw = read_state_file(path)
        if raw is None:
            return
        try:
            self.legs = parse_schedule(json.loads(raw))
        except (ValueError, UnicodeDecodeError) as problem:
            log.warning("schedule %s unreadable, ignored until the next ground window: %s", path, problem)

    def replace(self, legs: list[ScheduledLeg], wall: float) -> None:
        atomic_write_text(self.path, json.dumps(_document(legs), sort_keys=True))
        self.legs = legs
        self.fetched_at = wall

    def leg_at(self, when: datetime) -> ScheduledLeg | None:
        for leg in self.legs:  # sorted by departure
            if leg.departure - SHOWN_BEFORE_DEPARTURE <= when <= leg.arrival + SHOWN_AFTER_ARRIVAL:
                return leg
        return None

    def snapshot(self) -> dict[str, Any]:
        return {"legs": len(self.legs), "fetched_at": self.fetched_at}


def signed_name(path: str) -> str:
    """The schedule's target name in the signed repository: its path on the station (`/schedule.json`)."""
    return path.lstrip("/")


async def fetch_schedule(client: GroundClient, store: ScheduleStore, path: str, time_limit: float,
                         wall: float, *, verifier: ContentVerifier | None = None) -> int:
    """Fetch and keep the station's schedule; the number of legs. With a `verifier`, only the signed target
    `signed_name(path)` is kept (a refusal is counted by the verifier). Raises ScheduleUnavailable."""
    reply = await client.request("GET", path, time_limit=time_limit)
    if reply.status != 200:
        raise ScheduleUnavailable(f"HTTP {reply.status}: {reply.error_text()}")
    if verifier is not None:
        refusal = verifier.check_document(signed_name(path), reply.body)
        if refusal is not None:
            raise ScheduleUnavailable(f"refused ({refusal}): not the signed {signed_name(path)}")
    try:
        legs = parse_schedule(reply.json())
    except (ValueError, UnicodeDecodeError) as problem:
        raise ScheduleUnavailable(f"refused: {problem}") from None
    store.replace(legs, wall)
    return len(legs)
