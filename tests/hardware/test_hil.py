"""Hardware-in-the-loop: the simulated board (pin server, I2C register server) on its own thread, reached through
the sim pin factory and the net I2C bus by the real discretes and sensors components."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.discretes import COMPONENT as DISCRETES
from appliance.discretes.component import DiscretesComponent
from appliance.ports import StorageRefused
from appliance.sensors import COMPONENT as SENSORS
from appliance.sensors.component import SensorsComponent
from firmware_sim.hardware import HardwareDevice
from tests.hardware.harness import FsyncJournal, SimThread, StopRecorder, make_ctx, until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def sim() -> Iterator[SimThread]:
    thread = SimThread()
    thread.start()
    yield thread
    thread.stop()


def hw(sim: SimThread) -> HardwareDevice:
    assert sim.device is not None
    return sim.device


class OrderWriter:
    """Passengers' orders at a steady rate into the journal; counts what was refused."""

    def __init__(self, journal: FsyncJournal, period: float = 0.002) -> None:
        self.journal = journal
        self.period = period
        self.refused = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        n = 0
        while True:
            n += 1
            try:
                await self.journal.append("booking", {"item": f"i{n}", "seat": "12A"})
            except StorageRefused:
                self.refused += 1
            await asyncio.sleep(self.period)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@contextlib.asynccontextmanager
async def discretes(tmp_path: Path, sim: SimThread, **config: Any) -> AsyncIterator[
    tuple[Any, DiscretesComponent, FsyncJournal]
]:
    ctx = make_ctx(tmp_path, {"pin_factory": "sim", "pin_address": hw(sim).pins.address, **config},
                   request_stop=StopRecorder())
    journal = FsyncJournal(tmp_path / "journal.jsonl")
    ctx.flushables.append(journal)
    component = ctx.build(DISCRETES)
    await component.start()
    try:
        yield ctx, component, journal
    finally:
        await component.stop()
        journal.close()


async def test_power_cut_with_orders_in_flight_flushes_and_stops(tmp_path: Path, sim: SimThread) -> None:
    async with discretes(tmp_path, sim) as (ctx, component, journal):
        writer = OrderWriter(journal)
        writer.start()
        await asyncio.sleep(0.15)
        sim.call(hw(sim).set_power_fail, "GPIO_ACFAILSIG", True)  # and it does not come back
        await until(lambda: bool(ctx.request_stop.reasons), 5.0)
        await asyncio.sleep(0.05)
        await writer.stop()
        assert "no power after 200 ms" in ctx.request_stop.reasons[0]
        assert journal.flushes == 1 and journal.resumes == 0 and journal.frozen
        assert writer.refused > 0  # writes kept coming and were refused, not acknowledged
        assert len(journal.acknowledged) > 10
        assert set(journal.acknowledged) <= set(journal.durable_seqs())  # nothing acknowledged is lost
        registry = ctx.metrics.registry
        assert registry.get_sample_value("appliance_power_fail_flush_seconds_count") == 1
        recorded = registry.get_sample_value("appliance_power_fail_flush_seconds_sum")
        edge = hw(sim).power_events[-1]["asserted_ns"] / 1e9
        assert journal.last_fsync is not None
        assert 0 < recorded <= journal.last_fsync - edge + 0.001  # the edge reached us after the wire changed
        assert registry.get_sample_value("appliance_power_fail_events_total", {"outcome": "stop"}) == 1
        assert component.snapshot()["power"]["state"] == "stopping"


@pytest.mark.parametrize("milliseconds", [50, 200])
async def test_interrupts_up_to_the_ride_through_time_resume_without_restart(
    tmp_path: Path, sim: SimThread, milliseconds: int
) -> None:
    async with discretes(tmp_path, sim) as (ctx, component, journal):
        writer = OrderWriter(journal)
        writer.start()
        await asyncio.sleep(0.1)
        await sim.arun(hw(sim).interrupt(milliseconds))
        await until(lambda: journal.resumes == 1, 5.0)
        before = len(journal.acknowledged)
        await asyncio.sleep(0.1)
        await writer.stop()
        assert ctx.request_stop.reasons == []
        assert journal.flushes == 1 and not journal.frozen
        assert len(journal.acknowledged) > before  # orders flow again
        assert set(journal.acknowledged) <= set(journal.durable_seqs())
        power = component.snapshot()["power"]
        assert power["state"] == "normal" and power["ride_throughs"] == 1
        assert power["last_interrupt_seconds"] >= milliseconds / 1000 * 0.9
        assert component.health().status == "pass"


async def test_storm_brownouts_all_ride_through(tmp_path: Path, sim: SimThread) -> None:
    async with discretes(tmp_path, sim) as (ctx, component, journal):
        await sim.arun(hw(sim).scenario_brownouts(count=4, seed=3))
        await until(lambda: journal.resumes == 4, 5.0)
        assert component.snapshot()["power"]["state"] == "normal"
        assert ctx.request_stop.reasons == []
        assert journal.flushes == journal.resumes == 4


async def test_over_temperature_sheds_and_restores_load(tmp_path: Path, sim: SimThread) -> None:
    device = hw(sim)
    async with discretes(tmp_path, sim) as (ctx, component, _journal):
        sensors_ctx_config = {"bus": device.i2c.url, "poll_interval": 0.05, "limit": 85.0, "hysteresis": 5.0}
        ctx2 = make_ctx(tmp_path, {"pin_factory": "mock"}, sensors_ctx_config)
        ctx2.alarms = ctx.alarms  # the same daemon: one set of alarms
        ctx2.metrics = ctx.metrics
        sensors = ctx2.build(SENSORS)
        ctx2.alarms = ctx.alarms
        await sensors.start()
        try:
            assert device.lm75.tos == 85.0 and device.lm75.thyst == 80.0  # the sensor set the comparator
            assert not ctx.alarms.is_active("over_temperature")
            sim.call(device.set_sensor, "board_temperature", 88.0)
            await until(lambda: ctx.alarms.is_active("over_temperature"))
            await until(lambda: component.snapshot()["signals"]["OVERTEMPSIG"]["active"] is True)
            await until(lambda: ctx.metrics.registry.get_sample_value("appliance_board_temperature_celsius") == 88.0)
            sim.call(device.set_sensor, "board_temperature", 82.0)  # below the limit, above the hysteresis
            await asyncio.sleep(0.15)
            assert component.snapshot()["signals"]["OVERTEMPSIG"]["active"] is True
            sim.call(device.set_sensor, "board_temperature", 70.0)
            await until(lambda: component.snapshot()["signals"]["OVERTEMPSIG"]["active"] is False)
            await until(lambda: not ctx.alarms.is_active("over_temperature"))  # below the hysteresis: load back
            [alarm] = ctx.alarms.records()  # the latched record waits for an acknowledgement, shedding nothing
            assert alarm.condition is False and not alarm.acked
            ctx.alarms.ack("over_temperature")
            assert not ctx.alarms.is_latched("over_temperature")
        finally:
            await sensors.stop()


@pytest.mark.parametrize("stuck", [None, False, True])
async def test_built_in_test_as_the_simulator_dictates(tmp_path: Path, sim: SimThread, stuck: bool | None) -> None:
    device = hw(sim)
    if stuck is not None:
        sim.call(device.start_scenario, "stuck_inttest", {"level": stuck})
    async with discretes(tmp_path, sim, bit_settle_ms=20) as (ctx, component, _journal):
        bit = component.snapshot()["bit"]
        assert (bit["cpld_revision"], bit["strapping"]) == (2, 5)
        if stuck is None:
            assert bit["passed"] and component.health().status == "pass"
        else:
            assert not bit["passed"]
            assert bit["loopback"] == {"high": stuck, "low": not stuck}
            assert component.health().status == "fail"
        assert ctx.metrics.registry.get_sample_value("appliance_bit_passed") == (1 if stuck is None else 0)


async def test_sensor_failure_and_recovery(tmp_path: Path, sim: SimThread) -> None:
    device = hw(sim)
    ctx = make_ctx(tmp_path, {"pin_factory": "mock"},
                   {"bus": device.i2c.url, "poll_interval": 0.03, "backoff_initial": 0.05, "backoff_max": 0.2})
    sensors: SensorsComponent = ctx.build(SENSORS)
    registry = ctx.metrics.registry
    await sensors.start()
    try:
        assert sensors.health().status == "pass"
        assert registry.get_sample_value("appliance_bus_voltage_volts") == pytest.approx(12.0)
        assert registry.get_sample_value("appliance_current_amperes") == pytest.approx(1.5)
        # the LM75 stops answering
        sim.call(setattr, device.lm75, "answering", False)
        await until(lambda: sensors.sensors["board_temperature"].ok is False)
        assert sensors.health().status == "warn"
        assert math.isnan(registry.get_sample_value("appliance_board_temperature_celsius") or 0.0)
        await asyncio.sleep(0.5)
        errors = sensors.sensors["board_temperature"].io_errors
        assert 2 <= errors <= 8  # retried with backoff (about 4 tries), not at every poll (about 16)
        sim.call(setattr, device.lm75, "answering", True)
        sim.call(device.set_sensor, "board_temperature", 51.5)
        await until(lambda: sensors.sensors["board_temperature"].ok is True, 5.0)
        assert sensors.sensors["board_temperature"].recoveries == 1
        assert registry.get_sample_value("appliance_board_temperature_celsius") == 51.5
        # the INA219 resets (loses its calibration): failed, then re-initialised
        sim.call(device.ina219.reset)
        await until(lambda: sensors.sensors["power_monitor"].ok is False)
        await until(lambda: sensors.sensors["power_monitor"].ok is True, 5.0)
        assert device.ina219.calibration == 4096
        # an implausible reading is a failed reading, counted
        sim.call(device.set_sensor, "bus_voltage", 30.0)
        await until(lambda: sensors.sensors["power_monitor"].range_errors > 0)
        assert registry.get_sample_value("appliance_sensor_errors_total",
                                         {"sensor": "power_monitor", "kind": "range"}) >= 1
        assert math.isnan(registry.get_sample_value("appliance_bus_voltage_volts") or 0.0)
        sim.call(device.set_sensor, "bus_voltage", 11.8)
        await until(lambda: sensors.sensors["power_monitor"].ok is True)
        # the I2C device stops answering for a while (scenario), and comes back
        await sim.arun(device.scenario_i2c_dead("current", 0.2))
        await until(lambda: sensors.sensors["power_monitor"].ok is True, 5.0)
        assert sensors.sensors["power_monitor"].recoveries >= 3
    finally:
        await sensors.stop()
    assert sensors.health().status in ("pass", "warn")


async def test_power_transfer_after_arrival_rides_through_then_the_cut_stops(tmp_path: Path, sim: SimThread) -> None:
    async with discretes(tmp_path, sim) as (ctx, _component, journal):
        sim.call(hw(sim).start_scenario, "power_transfer", {"cut_after_s": 0.4})
        await until(lambda: journal.resumes == 1, 5.0)  # the 50 ms break transfer
        assert ctx.request_stop.reasons == []
        await until(lambda: bool(ctx.request_stop.reasons), 5.0)  # the real cut
        assert journal.flushes == 2 and journal.frozen
        events = hw(sim).power_events
        assert [e["released_ns"] is None for e in events] == [False, True]


async def test_over_temperature_episode_scenario(tmp_path: Path, sim: SimThread) -> None:
    device = hw(sim)
    async with discretes(tmp_path, sim) as (ctx, component, _journal):
        episode = sim.spawn(device.scenario_overtemp(peak=92.0, settle=60.0, step_s=0.03))
        await until(lambda: ctx.alarms.is_active("over_temperature"), 3.0)
        await asyncio.wrap_future(episode)
        await until(lambda: not component.snapshot()["signals"]["OVERTEMPSIG"]["active"], 5.0)
        [alarm] = ctx.alarms.records()
        assert alarm.condition is False and not alarm.acked and not ctx.alarms.is_active("over_temperature")
        assert component.snapshot()["signals"]["OVERTEMPSIG"]["transitions"] == 2


async def test_losing_the_pin_server_fails_health(tmp_path: Path, sim: SimThread) -> None:
    async with discretes(tmp_path, sim) as (_ctx, component, _journal):
        assert component.health().status == "pass"
        await sim.arun(hw(sim).pins.stop())
        await until(lambda: component.health().status == "fail", 5.0)
        assert "pin server" in component.health().reason


async def test_arrival_at_the_gate_brings_the_break_transfer() -> None:
    callbacks: list[Callable[[str, dict[str, Any]], None]] = []

    class World:
        speed = 1.0

        def subscribe(self, callback: Callable[[str, dict[str, Any]], None]) -> None:
            callbacks.append(callback)

    device = HardwareDevice(World())  # type: ignore[arg-type]
    await device.start()
    try:
        [callback] = callbacks
        callback("phase", {"phase": "taxi"})
        assert device.power_events == []
        callback("arrived", {"airport": "LEMD"})
        await until(lambda: bool(device.power_events) and device.power_events[0]["released_ns"] is not None)
        event = device.power_events[0]
        assert 0.045 <= (event["released_ns"] - event["asserted_ns"]) / 1e9 < 0.5
    finally:
        await device.stop()


async def test_modem_power_cycle_through_the_sim_pins(tmp_path: Path, sim: SimThread) -> None:
    async with discretes(tmp_path, sim) as (ctx, component, _journal):
        assert ctx.modem_power is not None
        # the modem boots once the daemon drives its power line on at start
        await until(lambda: component.snapshot()["signals"]["GSMSIG_STATUS"]["active"] is True)
        started = time.monotonic()
        await ctx.modem_power.power_cycle(0.05)
        took = time.monotonic() - started
        assert took >= 0.05 + hw(sim).board.modem_boot_s * 0.9  # waited for the modem's status line
        assert hw(sim).board.active("GSMSIG_STATUS") and hw(sim).board.active("GSM_POWER_STATUS")
        # on, off, on (the last one accepted after its 5 ms debounce)
        await until(lambda: component.snapshot()["signals"]["GSMSIG_STATUS"]["transitions"] == 3)
        assert [(r["signal"], r["value"], r["actor"]) for r in component.audit.records()] == [
            ("GSM_POWER_STATUS", False, "modem"), ("GSM_POWER_STATUS", True, "modem")]
