"""The ground link's ports: the aircraft's published schedule (SCHEDULE) and the ground window's control
(GROUNDLINK)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

# --- ground link -> portal --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScheduledLeg:
    """One flight of this aircraft's schedule, as the ground station published it."""

    flight_number: str
    origin: str  # ICAO
    destination: str  # ICAO
    departure: datetime  # scheduled off-block, tz-aware UTC
    arrival: datetime  # scheduled on-block, tz-aware UTC


class ScheduleView(Protocol):
    def leg_at(self, when: datetime) -> ScheduledLeg | None:
        """The leg being flown at `when`, else the next one due soon; None when the schedule has nothing."""
        ...


# --- ground link -> maintenance ("sync now", status) ----------------------------------------------------

class GroundLinkControl(Protocol):
    def request_sync(self) -> dict[str, Any]:
        """Run a full cycle (outbox, telemetry, content) as soon as the window allows. Answers at once with
        {"requested": True, "window": "open" | "closed", "reason": "..."}."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready: window, reason, backlog, dead_letters, last_success, errors, clock_skew, ..."""
        ...

    def window_open(self) -> bool:
        """Whether the ground window is open now: what is sent now goes out now."""
        ...
