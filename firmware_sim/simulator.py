"""The simulator: the world (a flight scenario), the devices it drives, and the control listener."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from firmware_sim.avionics import AvionicsDevice
from firmware_sim.device import SimDevice, World
from firmware_sim.flight import FlightWorld
from firmware_sim.ground.station import GroundStation
from firmware_sim.hardware import HardwareDevice
from firmware_sim.modem import SimModem
from firmware_sim.passengers import Passengers

log = logging.getLogger("firmware_sim")


def build_world(scenario: str, speed: float) -> FlightWorld:
    """The flight profile every device reads (firmware_sim/flight/)."""
    return FlightWorld(scenario, speed)


def build_devices(world: World | None) -> list[SimDevice]:
    """Every simulated device, in start order. Devices take the world they need."""
    devices: list[SimDevice] = []
    if isinstance(world, FlightWorld):
        devices.append(world)  # its clock, events and the /scenario and /world/* routes
    if world is not None:
        devices.append(AvionicsDevice(world))
    hardware = HardwareDevice(world)
    modem = SimModem(world)
    hardware.board.modem_supplies.append(modem.set_power)  # GSM_POWER_STATUS feeds the modem
    devices.append(hardware)
    devices.append(Passengers(world))
    devices.append(SimModem(world))
    devices.append(GroundStation(world=world))
    devices.append(modem)
    return devices


class Simulator:
    def __init__(self, scenario: str = "day", speed: float = 1.0, control: str = "127.0.0.1:9190") -> None:
        self.scenario = scenario
        self.speed = speed
        self.control = control
        self.world = build_world(scenario, speed)
        self.devices = build_devices(self.world)
        self._runner: web.AppRunner | None = None
        self.control_address = ""

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/state", self._get_state)
        for device in self.devices:
            device.add_routes(app)
        return app

    async def _get_state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state())

    def state(self) -> dict[str, Any]:
        if self.world is not None:
            self.scenario, self.speed = self.world.truth()["scenario"], self.world.speed
        return {"scenario": self.scenario, "speed": self.speed} | {d.name: d.state() for d in self.devices}

    async def start(self) -> None:
        for device in self.devices:
            await device.start()
        host, _, port = self.control.rpartition(":")
        self._runner = web.AppRunner(self.make_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host or "127.0.0.1", int(port))
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        bound_port = sockets[0].getsockname()[1] if sockets else int(port)
        self.control_address = f"{host or '127.0.0.1'}:{bound_port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        for device in reversed(self.devices):
            try:
                await device.stop()
            except Exception:
                log.exception("simulated device %s failed to stop", device.name)

    def endpoints(self) -> dict[str, Any]:
        """The JSON line of `python -m firmware_sim`: config keys plus "control"."""
        result: dict[str, Any] = {}
        for device in self.devices:
            result.update(device.endpoints())
        result["control"] = self.control_address
        result["sim.control"] = self.control_address
        return result
