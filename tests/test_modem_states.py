"""The modem component against the simulated modem on a real pty, through every scenario of the issue."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from appliance.metrics import Metrics
from appliance.modem.config import ModemConfig
from appliance.modem.modem import Modem
from appliance.modem.state import ModemState
from appliance.timebase import SystemClock
from firmware_sim.modem import SimModem

FAST = dict(
    poll_interval=0.15,
    command_timeout=0.25,
    timeouts_before_recovery=2,
    reset_wait=0.1,
    power_off_seconds=0.05,
    failed_retry_interval=0.3,
)


class SimPowerLine:
    """The modem's power discrete, wired to the simulated modem's supply (as the pin server does in HIL)."""

    def __init__(self, sim: SimModem) -> None:
        self.sim = sim
        self.cycles = 0

    async def power_cycle(self, off_seconds: float) -> None:
        self.cycles += 1
        self.sim.set_power(False)
        await asyncio.sleep(off_seconds)
        self.sim.set_power(True)


@dataclass
class Rig:
    sim: SimModem
    modem: Modem
    metrics: Metrics
    power: SimPowerLine | None


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def make_rig(with_power: bool = True) -> Rig:
    sim = SimModem(seed=1)
    await sim.start()
    metrics = Metrics()
    power = SimPowerLine(sim) if with_power else None
    modem = Modem(ModemConfig(port=sim.slave_path, **FAST), SystemClock(), metrics, power=power)
    await modem.start()
    return Rig(sim, modem, metrics, power)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    rig = await make_rig()
    yield rig
    await rig.modem.stop()
    await rig.sim.stop()


def metric(metrics: Metrics, name: str) -> float | None:
    return metrics.registry.get_sample_value(name)


async def test_home_registration(rig: Rig) -> None:
    await until(lambda: rig.modem.registered)
    await until(lambda: rig.modem.operator == "21407")
    assert rig.modem.state == ModemState.REGISTERED == 8
    assert not rig.modem.roaming
    await until(lambda: rig.modem.network.signal_dbm == -73.0)  # rssi 20
    assert metric(rig.metrics, "appliance_modem_state") == 8
    assert metric(rig.metrics, "appliance_modem_roaming") == 0
    assert metric(rig.metrics, "appliance_modem_signal_dbm") == -73.0
    assert rig.modem.health().status == "pass"


async def test_no_coverage_in_the_air_then_home_then_roaming(rig: Rig) -> None:
    rig.sim.apply({"coverage": "none"})
    await until(lambda: rig.modem.state == ModemState.SEARCHING)
    assert not rig.modem.registered and rig.modem.operator is None
    assert rig.modem.health().reason == "modem searching"  # was "modem searching (searching)"
    rig.sim.apply({"coverage": "home"})
    await until(lambda: rig.modem.registered and not rig.modem.roaming)
    assert rig.modem.health().reason == "modem registered (home)"
    rig.sim.apply({"coverage": "roaming", "rssi": 5})
    await until(lambda: rig.modem.roaming and rig.modem.operator == "26202")
    await until(lambda: rig.modem.network.signal_dbm == -103.0)
    assert metric(rig.metrics, "appliance_modem_roaming") == 1


async def test_an_unknown_signal_is_nan_never_the_last_value(rig: Rig) -> None:
    def dbm() -> float | None:
        return metric(rig.metrics, "appliance_modem_signal_dbm")

    await until(lambda: dbm() == -73.0)
    rig.sim.apply({"coverage": "none"})  # +CSQ: 99,99
    await until(lambda: rig.modem.state == ModemState.SEARCHING)
    await until(lambda: math.isnan(dbm() or 0.0))
    assert rig.modem.snapshot()["signal_dbm"] is None
    rig.sim.apply({"coverage": "home"})
    await until(lambda: dbm() == -73.0)
    rig.sim.apply({"hang": True})  # no answer, then the recovery ladder
    await until(lambda: math.isnan(dbm() or 0.0), within=3)
    assert rig.modem.snapshot()["signal_dbm"] is None
    await until(lambda: rig.modem.registered and dbm() == -73.0, within=10)  # answers again after recovery


async def test_registration_urc_is_seen_between_polls(rig: Rig) -> None:
    await until(lambda: rig.modem.registered)
    urcs_before = rig.modem.channel.urcs
    rig.sim.apply({"coverage": "none"})
    await until(lambda: rig.modem.channel.urcs > urcs_before, within=2)
    await until(lambda: rig.modem.state == ModemState.SEARCHING, within=2)


async def test_sim_missing_then_inserted(rig: Rig) -> None:
    rig.sim.apply({"sim": "missing"})
    await until(lambda: rig.modem.state == ModemState.FAILED)
    assert rig.modem.reason == "SIM missing"
    assert rig.modem.health().status == "fail"
    rig.sim.apply({"sim": "ready"})
    await until(lambda: rig.modem.registered)


async def test_sim_pin_locks(rig: Rig) -> None:
    rig.sim.apply({"sim": "pin"})
    await until(lambda: rig.modem.state == ModemState.LOCKED)
    assert "SIM PIN" in rig.modem.reason


async def test_registration_denied(rig: Rig) -> None:
    rig.sim.apply({"denied": True})
    await until(lambda: rig.modem.reason == "registration denied")
    assert not rig.modem.registered


async def test_urc_bursts_inside_answers_and_garbage(rig: Rig) -> None:
    await until(lambda: rig.modem.registered)
    rig.sim.apply({"urc_in_answer": 5, "urc_burst": 20, "garbage": 5})
    await asyncio.sleep(1.0)
    assert rig.modem.registered
    assert rig.modem.channel.garbage_lines >= 1
    assert rig.sim.urc_in_answer == 0  # every one was slipped into an answer, and the answers still parsed
    assert rig.modem.consecutive_timeouts == 0


async def test_hang_climbs_the_ladder_to_a_power_cycle(rig: Rig) -> None:
    await until(lambda: rig.modem.registered)
    rig.sim.apply({"hang": True})
    await until(lambda: rig.sim.power_cycles == 1, within=10)
    assert rig.power is not None and rig.power.cycles == 1
    assert rig.modem.recoveries["reopen"] >= 1
    assert rig.modem.recoveries["reset"] >= 1
    assert rig.sim.power_cycles == 1 and not rig.sim.hang
    await until(lambda: rig.modem.registered, within=5)
    assert rig.modem.ladder_step == 0


async def test_hang_without_a_power_line_ends_failed() -> None:
    rig = await make_rig(with_power=False)
    try:
        await until(lambda: rig.modem.registered)
        rig.sim.apply({"hang": True})
        await until(lambda: rig.modem.state == ModemState.FAILED, within=10)
        assert "no answer" in rig.modem.reason
        assert rig.modem.health().status == "fail"
        assert metric(rig.metrics, "appliance_modem_state") == -1
    finally:
        await rig.modem.stop()
        await rig.sim.stop()


async def test_missing_port_is_reported_not_fatal() -> None:
    metrics = Metrics()
    modem = Modem(ModemConfig(port="/dev/does-not-exist", **FAST), SystemClock(), metrics)
    await modem.start()
    try:
        await until(lambda: "AT port unavailable" in modem.reason)
        assert modem.health().status == "warn"
    finally:
        await modem.stop()


class GroundOrAir:
    """A world reduced to what the modem reads: on the ground or not."""

    speed = 1.0
    phase = "gate"

    def __init__(self) -> None:
        self.on_ground = True

    def now(self) -> float:
        return 0.0

    def truth(self) -> dict[str, object]:
        return {}

    def subscribe(self, callback: object) -> None:
        return None


async def test_coverage_follows_the_world_unless_overridden() -> None:
    world = GroundOrAir()
    sim = SimModem(world)
    await sim.start()
    modem = Modem(ModemConfig(port=sim.slave_path, **FAST), SystemClock(), Metrics())
    await modem.start()
    try:
        await until(lambda: modem.registered)
        world.on_ground = False  # took off: no coverage
        await until(lambda: modem.state == ModemState.SEARCHING)
        world.on_ground = True  # landed
        await until(lambda: modem.registered)
        sim.apply({"coverage": "roaming"})  # landed abroad
        await until(lambda: modem.roaming)
        sim.apply({"coverage": "auto"})
        await until(lambda: modem.registered and not modem.roaming)
    finally:
        await modem.stop()
        await sim.stop()
