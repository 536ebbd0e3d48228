"""The sensors component: the board temperature (LM75) and the supply's voltage and current (INA219), polled.

A read error marks the sensor failed, and it is retried with exponential backoff and re-initialised (the bus
reopened, the chip configured again) before its next read. A reading outside its plausible range is a failed
reading: counted, not published. The board temperature also feeds the over_temperature alarm (raised at
`limit`, its condition cleared below `limit - hysteresis`; the LM75's own comparator gets the same limits).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from appliance.alarms import OVER_TEMPERATURE
from appliance.component import Check
from appliance.core.spec import Setup
from appliance.sensors.config import SensorsConfig
from appliance.sensors.metrics import SensorsMetrics
from appliance.tasks import cancel_and_wait
from hal.sensors.bus import open_bus
from hal.sensors.ina219 import INA219
from hal.sensors.lm75 import LM75

log = logging.getLogger("appliance.sensors")


@dataclass
class SensorState:
    name: str
    ranges: dict[str, tuple[float, float]]
    ok: bool | None = None  # None: not read yet
    values: dict[str, float] = field(default_factory=dict)
    needs_init: bool = True
    backoff: float = 0.0
    next_try: float = 0.0
    io_errors: int = 0
    range_errors: int = 0
    recoveries: int = 0
    last_error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "values": dict(self.values), "io_errors": self.io_errors,
                "range_errors": self.range_errors, "recoveries": self.recoveries, "last_error": self.last_error}


class SensorsComponent:
    name = "sensors"

    def __init__(self, ctx: Setup[SensorsConfig], config: SensorsConfig) -> None:
        self.ctx = ctx
        self.config = config
        self._bus: Any = None
        self.lm75: LM75 | None = None
        self.ina219: INA219 | None = None
        self.sensors = {
            "board_temperature": SensorState("board_temperature", {
                "board_temperature": _range(config.temperature_range, (-55.0, 125.0))}),
            "power_monitor": SensorState("power_monitor", {
                "bus_voltage": _range(config.bus_voltage_range, (0.0, 26.0)),
                "current": _range(config.current_range, (-3.2, 3.2))}),
        }
        self.series = ctx.metrics.of(SensorsMetrics)
        self._gauges = {"board_temperature": self.series.board_temperature, "bus_voltage": self.series.bus_voltage,
                        "current": self.series.current}
        self._task: asyncio.Task[None] | None = None
        self.polls = 0

    async def start(self) -> None:
        await self.poll_once()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        if self._bus is not None:
            with contextlib.suppress(Exception):
                self._bus.close()
            self._bus = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.config.poll_interval)
            try:
                await self.poll_once()
            except Exception:
                log.exception("sensor poll failed")

    # --- polling --------------------------------------------------------------------------------------------

    def _device_bus(self) -> Any:
        if self._bus is None:
            self._bus = open_bus(self.config.bus)
            self.lm75 = LM75(self._bus, self.config.lm75_address)
            self.ina219 = INA219(self._bus, self.config.ina219_address, self.config.shunt_ohms)
        return self._bus

    def _read_lm75(self, init: bool) -> dict[str, float]:
        self._device_bus()
        assert self.lm75 is not None
        if init:
            self.lm75.configure(self.config.limit, self.config.hysteresis)
        return {"board_temperature": self.lm75.temperature()}

    def _read_ina219(self, init: bool) -> dict[str, float]:
        self._device_bus()
        assert self.ina219 is not None
        if init:
            self.ina219.configure()
        reading = self.ina219.read()
        return {"bus_voltage": reading.bus_volts, "current": reading.current_amperes}

    async def poll_once(self) -> None:
        readers: dict[str, Callable[[bool], dict[str, float]]] = {
            "board_temperature": self._read_lm75, "power_monitor": self._read_ina219}
        now = self.ctx.clock.monotonic()
        for name, state in self.sensors.items():
            if state.ok is False and state.needs_init and now < state.next_try:
                continue
            try:
                values = await asyncio.to_thread(readers[name], state.needs_init)
            except Exception as error:  # OSError from the bus, SensorFault, a bus that cannot open
                self._failed(state, error)
                continue
            self._read(state, values)
        self.polls += 1

    def _failed(self, state: SensorState, error: Exception) -> None:
        state.io_errors += 1
        state.last_error = f"{type(error).__name__}: {error}"
        doubled = state.backoff * 2 if state.backoff else self.config.backoff_initial
        state.backoff = min(self.config.backoff_max, doubled)
        state.next_try = self.ctx.clock.monotonic() + state.backoff
        if state.ok is not False:
            log.warning("sensor %s failed: %s (retry in %.1f s)", state.name, state.last_error, state.backoff)
        state.ok = False
        state.needs_init = True
        self.series.sensor_errors.labels(sensor=state.name, kind="io").inc()
        self.series.sensor_ok.labels(sensor=state.name).set(0)
        for key in state.ranges:
            self._gauges[key].set(math.nan)
        if self._bus is not None:
            # reopen the bus on the next try: a wedged connection or adapter is part of what re-init cures
            with contextlib.suppress(Exception):
                self._bus.close()
            self._bus = None

    def _read(self, state: SensorState, values: dict[str, float]) -> None:
        state.needs_init = False
        bad = [key for key, value in values.items() if not state.ranges[key][0] <= value <= state.ranges[key][1]]
        if bad:
            state.range_errors += 1
            state.ok = False
            state.last_error = "out of range: " + ", ".join(f"{key}={values[key]:g}" for key in bad)
            self.series.sensor_errors.labels(sensor=state.name, kind="range").inc()
            self.series.sensor_ok.labels(sensor=state.name).set(0)
            for key in state.ranges:
                self._gauges[key].set(math.nan)
            return
        if state.ok is False:
            state.recoveries += 1
            log.info("sensor %s recovered", state.name)
        state.ok = True
        state.backoff = 0.0
        state.values = values
        self.series.sensor_ok.labels(sensor=state.name).set(1)
        for key, value in values.items():
            self._gauges[key].set(value)
        if "board_temperature" in values:
            self._over_temperature(values["board_temperature"])

    def _over_temperature(self, celsius: float) -> None:
        assert self.ctx.alarms is not None
        if celsius >= self.config.limit:
            self.ctx.alarms.report(OVER_TEMPERATURE, "board_temperature", True,
                                   f"board temperature {celsius:g} degC >= {self.config.limit:g} degC")
        elif celsius <= self.config.limit - self.config.hysteresis:
            self.ctx.alarms.report(OVER_TEMPERATURE, "board_temperature", False)

    # --- reporting ------------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {name: state.as_dict() for name, state in self.sensors.items()}

    def health(self) -> Check:
        failed = {name: s.last_error for name, s in self.sensors.items() if s.ok is False}
        if not failed:
            return Check.passing("sensors read", **self.snapshot())
        if len(failed) == len(self.sensors):
            return Check.failing("no sensor reads: " + "; ".join(f"{k}: {v}" for k, v in failed.items()))
        return Check.warning("; ".join(f"{k}: {v}" for k, v in failed.items()), **self.snapshot())


def _range(value: list[float] | None, default: tuple[float, float]) -> tuple[float, float]:
    return (value[0], value[1]) if value is not None else default


    def reload(self, config: SensorsConfig) -> None:
        """SIGHUP: the new poll interval, limit and hysteresis (COMPONENT.reloadable) apply from the next poll;
        the LM75's comparator is configured again with them."""
        self.config = config
        if self.lm75 is not None:
            try:
                self.lm75.configure(config.limit, config.hysteresis)
            except OSError as error:
                log.warning("LM75 not reconfigured after a reload: %s (retried at its next re-initialisation)",
                            error)


def build(setup: Setup[SensorsConfig]) -> SensorsComponent:
    return SensorsComponent(setup, setup.config)
