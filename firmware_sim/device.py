"""What every simulated device offers the simulator."""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web


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
