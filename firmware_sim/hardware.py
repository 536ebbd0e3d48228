"""The cabin server's own hardware: discretes at the pin level, the LM75 and INA219 at the register level,
the control routes that script them, and the hardware scenarios.

Control routes (shared/CONTRACT.md, plus this device's additions):
  PUT /discretes/{NAME}  {"value": bool} or {"pulse_ms": N} (an input's logical level: true = active).
        GPIO_ACFAILSIG / GPIO_DCFAILSIG also set the CPLD's latched ACFAILSIG / DCFAILSIG unless "confirm": false.
        INTTEST_IN: {"value": bool} sticks the line (a fault), {"value": null} gives it back to the loopback.
  PUT /sensors/{name}    {"value": x} (board_temperature, bus_voltage, current) or {"answering": bool}
        or {"reset": true} (the INA219 loses its calibration).
  POST /hardware/scenario {"name": power_transfer | brownouts | overtemp | stuck_inttest | i2c_dead, ...}
  GET /hardware/power_events  every power interrupt's assert/release time (CLOCK_MONOTONIC ns).
World: on "arrived" the ground-power transfer interrupts power for 50 ms (the appliance rides through).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from firmware_sim.device import World
from firmware_sim.i2c import RegisterServer, SimINA219, SimLM75
from firmware_sim.pins import PinBoard, PinServer

log = logging.getLogger("firmware_sim.hardware")

POWER_PAIRS = {"GPIO_ACFAILSIG": "ACFAILSIG", "GPIO_DCFAILSIG": "DCFAILSIG"}
SENSOR_NAMES = ("board_temperature", "bus_voltage", "current")
SCENARIOS = ("power_transfer", "brownouts", "overtemp", "stuck_inttest", "i2c_dead")


class BadRequest(ValueError):
    pass


class HardwareDevice:
    name = "hardware"

    def __init__(self, world: World | None = None, host: str = "127.0.0.1") -> None:
        self.world = world
        self.board = PinBoard()
        self.lm75 = SimLM75(on_os=self._lm75_os)
        self.ina219 = SimINA219()
        self.pins = PinServer(self.board, host)
        self.i2c = RegisterServer([self.lm75, self.ina219], host)
        self.power_events: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        if world is not None:
            world.subscribe(self._world_event)

    # --- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.pins.start()
        await self.i2c.start()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.pins.stop()
        await self.i2c.stop()

    def endpoints(self) -> dict[str, Any]:
        return {
            "discretes.pin_factory": "sim",
            "discretes.pin_address": self.pins.address,
            "sensors.bus": self.i2c.url,
        }

    def state(self) -> dict[str, Any]:
        return {
            "discretes": self.board.state(),
            "sensors": {
                "board_temperature": self.lm75.celsius,
                "bus_voltage": self.ina219.bus_volts,
                "current": self.ina219.amperes,
                "lm75_os": self.lm75.os_active,
                "devices": self.i2c.state(),
            },
            "power_events": self.power_events[-20:],
        }

    # --- scripting (used by the routes and by tests in-process) ---------------------------------------------

    def _spawn(self, coroutine: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _lm75_os(self, active: bool) -> None:
        """The LM75's OS output is wired through the CPLD to OVERTEMPSIG and its interrupt line."""
        self.board.set_signal("OVERTEMPSIG", active)
        self.board.set_signal("GPIO_OVERTEMPSIG", active)

    def set_power_fail(self, line: str, active: bool, confirm: bool = True) -> None:
        latched = POWER_PAIRS[line]
        if active:
            if confirm:
                self.board.set_signal(latched, True)  # the CPLD latches, then raises its interrupt line
            self.board.set_signal(line, True)
            self.power_events.append({"line": line, "asserted_ns": time.monotonic_ns(), "released_ns": None})
        else:
            self.board.set_signal(line, False)
            self.board.set_signal(latched, False)
            for event in reversed(self.power_events):
                if event["line"] == line and event["released_ns"] is None:
                    event["released_ns"] = time.monotonic_ns()
                    break

    async def interrupt(self, milliseconds: float, line: str = "GPIO_ACFAILSIG") -> None:
        """A power interrupt of `milliseconds` (DO-160 section 16)."""
        self.set_power_fail(line, True)
        await asyncio.sleep(milliseconds / 1000.0)
        self.set_power_fail(line, False)

    def set_input(self, name: str, value: bool | None, confirm: bool = True) -> None:
        signal = self.board.signals.get(name)
        if signal is None:
            raise KeyError(name)
        if name == "INTTEST_IN":
            self.board.stick(name, value)
            return
        if signal.direction != "in":
            raise BadRequest(f"{name} is an output: the appliance drives it")
        if value is None:
            raise BadRequest("value must be true or false")
        if name in POWER_PAIRS:
            self.set_power_fail(name, value, confirm)
        else:
            self.board.set_signal(name, value)

    async def pulse(self, name: str, milliseconds: float, confirm: bool = True) -> None:
        self.set_input(name, True, confirm)
        await asyncio.sleep(milliseconds / 1000.0)
        self.set_input(name, False, confirm)

    def set_sensor(self, name: str, value: float) -> None:
        if name == "board_temperature":
            self.lm75.set_temperature(value)
        elif name == "bus_voltage":
            self.ina219.bus_volts = value
        elif name == "current":
            self.ina219.amperes = value
        else:
            raise KeyError(name)

    def _chip(self, name: str) -> SimLM75 | SimINA219:
        return self.lm75 if name == "board_temperature" else self.ina219

    # --- scenarios ------------------------------------------------------------------------------------------

    async def scenario_power_transfer(self, cut_after_s: float = 2.0, restore_after_s: float | None = None) -> None:
        """After arrival: the break transfer to ground power (50 ms), then the real cut when shut down."""
        await self.interrupt(50)
        await asyncio.sleep(cut_after_s)
        self.set_power_fail("GPIO_ACFAILSIG", True)
        if restore_after_s is not None:
            await asyncio.sleep(restore_after_s)
            self.set_power_fail("GPIO_ACFAILSIG", False)

    async def scenario_brownouts(self, count: int = 5, seed: int = 1) -> None:
        """A storm: short interrupts of 10..150 ms at irregular gaps, on AC and DC."""
        rng = random.Random(seed)
        for _ in range(count):
            await self.interrupt(rng.uniform(10, 150), rng.choice(list(POWER_PAIRS)))
            await asyncio.sleep(rng.uniform(0.3, 1.0))

    async def scenario_overtemp(self, peak: float = 92.0, settle: float = 60.0, step_s: float = 0.2) -> None:
        """The board heats past the limit, stays there, and cools down again."""
        start = self.lm75.celsius
        for value in [*_ramp(start, peak, 6), *([peak] * 5), *_ramp(peak, settle, 8)]:
            self.lm75.set_temperature(value)
            await asyncio.sleep(step_s)

    async def scenario_i2c_dead(self, sensor: str = "board_temperature", seconds: float = 3.0) -> None:
        chip = self._chip(sensor)
        chip.answering = False
        await asyncio.sleep(seconds)
        chip.answering = True

    def start_scenario(self, name: str, options: dict[str, Any]) -> None:
        if name == "stuck_inttest":
            self.board.stick("INTTEST_IN", bool(options.get("level", False)))
            return
        runners: dict[str, Callable[..., Coroutine[Any, Any, None]]] = {
            "power_transfer": self.scenario_power_transfer,
            "brownouts": self.scenario_brownouts,
            "overtemp": self.scenario_overtemp,
            "i2c_dead": self.scenario_i2c_dead,
        }
        if name not in runners:
            raise KeyError(name)
        self._spawn(runners[name](**options))

    def _world_event(self, event: str, detail: dict[str, Any]) -> None:
        if event == "arrived":
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # no running loop: nothing to script
                return
            self._spawn(self.interrupt(50))

    # --- routes ---------------------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_put("/discretes/{name}", self._put_discrete)
        app.router.add_put("/sensors/{name}", self._put_sensor)
        app.router.add_post("/hardware/scenario", self._post_scenario)
        app.router.add_get("/hardware/power_events", self._get_power_events)

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise BadRequest("body is not JSON") from None
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        return body

    @staticmethod
    def _error(status: int, message: str) -> web.Response:
        return web.json_response({"error": message}, status=status)

    async def _put_discrete(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        try:
            body = await self._body(request)
            if name not in self.board.signals:
                return self._error(404, f"unknown discrete {name}")
            confirm = body.get("confirm", True)
            if not isinstance(confirm, bool):
                raise BadRequest("confirm must be true or false")
            if "pulse_ms" in body:
                pulse = body["pulse_ms"]
                if isinstance(pulse, bool) or not isinstance(pulse, int | float) or not 0 < pulse <= 600_000:
                    raise BadRequest("pulse_ms must be a number of milliseconds (0 < pulse_ms <= 600000)")
                self.set_input(name, True, confirm)
                self._spawn(self._end_pulse(name, float(pulse), confirm))
            elif "value" in body:
                value = body["value"]
                if value is not None and not isinstance(value, bool):
                    raise BadRequest("value must be true or false")
                self.set_input(name, value, confirm)
            else:
                raise BadRequest('expected {"value": bool} or {"pulse_ms": N}')
        except BadRequest as error:
            return self._error(400, str(error))
        return web.json_response({name: self.board.state()[name]})

    async def _end_pulse(self, name: str, milliseconds: float, confirm: bool) -> None:
        await asyncio.sleep(milliseconds / 1000.0)
        self.set_input(name, False, confirm)

    async def _put_sensor(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in SENSOR_NAMES:
            return self._error(404, f"unknown sensor {name} (known: {', '.join(SENSOR_NAMES)})")
        try:
            body = await self._body(request)
            if "value" in body:
                value = body["value"]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise BadRequest("value must be a number")
                self.set_sensor(name, float(value))
            if "answering" in body:
                if not isinstance(body["answering"], bool):
                    raise BadRequest("answering must be true or false")
                self._chip(name).answering = body["answering"]
            if body.get("reset") is True:
                if name == "board_temperature":
                    raise BadRequest("only the INA219 (bus_voltage, current) loses its calibration")
                self.ina219.reset()
            if not {"value", "answering", "reset"} & body.keys():
                raise BadRequest('expected {"value": x}, {"answering": bool} or {"reset": true}')
        except BadRequest as error:
            return self._error(400, str(error))
        return web.json_response(self.state()["sensors"])

    async def _post_scenario(self, request: web.Request) -> web.Response:
        try:
            body = await self._body(request)
            name = body.get("name")
            options = {k: v for k, v in body.items() if k != "name"}
            if name not in SCENARIOS:
                return self._error(404, f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})")
            try:
                self.start_scenario(name, options)
            except TypeError as error:
                raise BadRequest(f"bad options for {name}: {error}") from None
        except BadRequest as error:
            return self._error(400, str(error))
        return web.json_response({"started": name}, status=202)

    async def _get_power_events(self, request: web.Request) -> web.Response:
        return web.json_response(self.power_events)


def _ramp(start: float, end: float, steps: int) -> list[float]:
    return [start + (end - start) * (i + 1) / steps for i in range(steps)]
