"""The avionics' port (FLIGHT): the flight parameters, the phase and on-ground as the other components read
them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

ParamStatus = Literal["normal", "no_computed_data", "functional_test", "failure_warning", "stale"]


# --- avionics -> portal, ground link, clock -------------------------------------------------------------

@dataclass(frozen=True)
class Reading:
    """The latest value of one flight parameter. `value` is only to be shown when `status == "normal"`."""

    name: str
    value: float | str | dict[str, Any] | None
    units: str
    status: ParamStatus
    age: float  # seconds since the last word for it arrived


@dataclass(frozen=True)
class FlightInfo:
    flight_id: str | None = None  # labels 233-236
    flight_number: str | None = None  # label 360 block (or 261 digits)
    origin: str | None = None  # ICAO
    destination: str | None = None  # ICAO


class FlightView(Protocol):
    def reading(self, name: str) -> Reading | None:
        """None when the parameter was never received."""
        ...

    def usable(self, name: str) -> float | str | None:
        """The value only when normal and fresh; None otherwise (failed, test, no data, stale, never)."""
        ...

    @property
    def phase(self) -> str:
        """gate, taxi, takeoff, climb, cruise, descent, approach, landed (or unknown)."""
        ...

    @property
    def on_ground(self) -> bool | None: ...

    def flight_info(self) -> FlightInfo: ...

    def utc(self) -> datetime | None:
        """Avionics UTC (labels 150 + 260) when both are normal and fresh, tz-aware."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready: {"parameters": {name: {"value", "units", "status", "age"}}, "phase", "on_ground",
        "flight": {"flight_id", "flight_number", "origin", "destination"}}. Non-normal values are null."""
        ...
