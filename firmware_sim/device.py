"""What every simulated device offers the simulator, and the world they all share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import web


class World(Protocol):
    """The simulated aircraft's truth over (compressed) scenario time, shared by every device.

    The flight profile implements it (firmware_sim/flight/). Devices read it to script their behaviour:
    the modem has coverage only on the ground, the power transfer follows the arrival at the gate, ...
    """

    speed: float

    def now(self) -> float:
        """Scenario seconds since the scenario started (already multiplied by `speed`)."""
        ...

    @property
    def phase(self) -> str:
        """gate, taxi (out), takeoff, climb, cruise, descent, approach, landed (landing roll and taxi in), then gate
        again once parked (FlightWorld.segment gives the finer kind: taxi_out, landing, taxi_in, ...)."""
        ...

    @property
    def on_ground(self) -> bool: ...

    def truth(self) -> dict[str, Any]:
        """Every parameter's true value now, by the appliance's parameter names (altitude, ground_speed, ...)."""
        ...

    def schedule(self) -> list[dict[str, Any]]:
        """The scenario's flights as the airline publishes them: flight_number, origin, destination, departure
        and arrival (ISO 8601 UTC on the avionics clock)."""
        ...

    def subscribe(self, callback: Callable[[str, dict[str, Any]], None]) -> None:
        """`callback(event, detail)` on scenario events: ("phase", {"phase": "climb"}), ("arrived", {...}),
        ("departing", {...}), ("scenario", {"name": ...})."""
        ...


class SimDevice(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def endpoints(self) -> dict[str, Any]:
        """Config keys this device fills (e.g. {"avionics.port": "/dev/pts/5"}), valid after start()."""
        ...

    def add_routes(self, app: web.Application) -> None:
        """Control routes of the contract this device serves (e.g. PUT /modem)."""
        ...

    def state(self) -> dict[str, Any]:
        """This device's truth, for GET /state."""
        ...
