"""Unit tests of the signal map, the bank and the discretes component on gpiozero's MockFactory."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockConnectedPin, MockFactory, MockPin

from appliance.component import Status
from appliance.config import ConfigError
from appliance.daemon import Daemon
from appliance.discretes import COMPONENT as DISCRETES
from appliance.discretes.component import DiscretesComponent
from firmware_sim.pins import PinBoard, PinServer
from hal.discretes.bank import DiscreteBank
from hal.discretes.factories import PinFactoryError, make_pin_factory
from hal.discretes.signals import DEFAULT_SIGNALS, SIGNAL_NAMES, SignalMapError, SignalOverride, build_signal_map
from tests.conftest import free_port
from tests.hardware.harness import FsyncJournal, SimThread, StopRecorder, make_ctx, until

ISSUE_SIGNALS = [
    "DCFAILSIG", "ACFAILSIG", "OVERTEMPSIG", "GSM_POWER_STATUS", "GSMSIG_STATUS", "ENB0SIG", "ENB1SIG",
    "ENB2SIG", "ENB3SIG", "ENB4SIG", "ENB5SIG", "SYSENSIG", "ALERT", "CONFIGSIG0", "CONFIGSIG1",
    "CONFIGSIG2", "INTTEST_OUT", "INTTEST_IN", "CPLD_REV0", "CPLD_REV1", "ISO_OUT0", "ISO_OUT1", "ISO_OUT2",
    "ISO_OUT3", "GPIO_DCFAILSIG", "GPIO_ACFAILSIG", "GPIO_OVERTEMPSIG", "GPIO_SYSENSIG",
]


def idle_factory(loopback: bool = True, pin_classes: dict[str, type[MockPin]] | None = None) -> MockFactory:
    """A MockFactory whose inputs sit at their inactive levels (active-low lines pulled high), with INTTEST_OUT
    wired to INTTEST_IN as on the board (unless `loopback` is False: a broken loop); `pin_classes`: signal
    name -> the MockPin class of its pin."""
    factory = MockFactory(revision="a020a0")
    signals = build_signal_map()
    for name, pin_class in (pin_classes or {}).items():
        factory.pin(signals[name].pin, pin_class=pin_class)
    if loopback:
        inttest_in = factory.pin(signals["INTTEST_IN"].pin)
        factory.pin(signals["INTTEST_OUT"].pin, pin_class=MockConnectedPin, input_pin=inttest_in)
    for signal in DEFAULT_SIGNALS:
        if signal.direction == "in" and not signal.active_high and signal.name != "INTTEST_IN":
            factory.pin(signal.pin).drive_high()
    return factory


def drive(factory: MockFactory, name: str, active: bool) -> None:
    signal = build_signal_map()[name]
    pin = factory.pin(signal.pin)
    (pin.drive_high if active == signal.active_high else pin.drive_low)()


async def settle(seconds: float = 0.02) -> None:
    await asyncio.sleep(seconds)


# --- the map ------------------------------------------------------------------------------------------------

def test_every_signal_of_the_issue_is_in_the_default_map() -> None:
    assert sorted(SIGNAL_NAMES) == sorted(ISSUE_SIGNALS)
    assert len({s.line for s in DEFAULT_SIGNALS}) == len(DEFAULT_SIGNALS)


def test_default_config_holds_every_signal(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    assert ctx.config.discretes.pin_factory == "mock"
    assert sorted(build_signal_map(ctx.config.discretes.signals)) == sorted(ISSUE_SIGNALS)


def test_config_overrides_one_field(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"pin_factory": "mock",
                              "signals": {"ENB0SIG": {"line": 40, "active_high": False, "default": False}}})
    enb0 = build_signal_map(ctx.config.discretes.signals)["ENB0SIG"]
    assert (enb0.line, enb0.active_high, enb0.default, enb0.direction) == (40, False, False, "out")


@pytest.mark.parametrize(
    ("signals", "key"),
    [
        ({"ENB9SIG": {"line": 40}}, "discretes.signals.ENB9SIG"),
        ({"ENB0SIG": {"line": 17}}, "discretes.signals.ENB0SIG.line"),  # ENB1SIG's line
        ({"ENB0SIG": {"lne": 40}}, "discretes.signals.ENB0SIG.lne"),
        ({"ENB0SIG": {"direction": "sideways"}}, "discretes.signals.ENB0SIG.direction"),
    ],
)
def test_bad_signal_config_names_the_key(tmp_path: Path, signals: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_ctx(tmp_path, {"pin_factory": "mock", "signals": signals})
    assert caught.value.key == key


def test_signal_map_refuses_unknown_names() -> None:
    with pytest.raises(SignalMapError):
        build_signal_map({"NOPE": SignalOverride(line=1)})


# --- factories ----------------------------------------------------------------------------------------------

def test_a_factory_that_cannot_load_is_an_error_not_a_fallback() -> None:
    with pytest.raises(PinFactoryError, match="unknown pin factory"):
        make_pin_factory("nonesuch")
    with pytest.raises(PinFactoryError, match="cannot reach"):
        make_pin_factory("sim", f"127.0.0.1:{free_port()}")


async def test_hardware_that_is_not_there_leaves_the_daemon_degraded_and_is_tried_again(tmp_path: Path) -> None:
    """No pin server (on the aircraft: no GPIO chip, or no lgpio): the component starts degraded (failing in
    health, alive so the watchdog does not restart a daemon a restart would not mend) and opens the lines as
    soon as they are there."""
    port = free_port()
    ctx = make_ctx(tmp_path, {"pin_factory": "sim", "pin_address": f"127.0.0.1:{port}", "retry_seconds": 0.1})
    component = ctx.build(DISCRETES)
    sim = SimThread()
    try:
        await component.start()
        check = component.health()
        assert check.status == Status.FAIL and "discretes.pin_factory" in check.reason and "not watched" in check.reason
        assert component.alive and component.snapshot()["power"] is None
        await asyncio.sleep(0.3)  # tried again, still nothing
        assert component.absent is not None

        async def serve() -> PinServer:
            server = PinServer(PinBoard(), "127.0.0.1", port)
            await server.start()
            return server

        sim.start_loop()
        server = sim.run(serve())
        await until(lambda: component.absent is None, 5.0)
        assert component.health().status == Status.PASS and component.snapshot()["power"] is not None
        sim.run(server.stop())
    finally:
        await component.stop()
        sim.stop()


async def test_an_unknown_pin_factory_is_a_config_error(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, {"pin_factory": "nonesuch"})
    with pytest.raises(ConfigError, match=r"discretes\.pin_factory"):
        await ctx.build(DISCRETES).start()


# --- the bank -----------------------------------------------------------------------------------------------

async def test_active_low_inputs_and_outputs() -> None:
    factory = idle_factory()
    bank = DiscreteBank(build_signal_map(), factory)
    bank.open(asyncio.get_running_loop())
    try:
        assert bank.states["ACFAILSIG"].active is False  # pin high, active low
        drive(factory, "ACFAILSIG", True)
        assert factory.pin("GPIO5").state is False
        await settle()
        assert bank.states["ACFAILSIG"].active is True
        assert bank.states["ACFAILSIG"].transitions == 1
        assert bank.states["ACFAILSIG"].last_change_wall is not None
        # outputs start at their defaults, at the right polarity
        assert factory.pin("GPIO16").state is True  # ENB0SIG default on, active high
        assert factory.pin("GPIO22").state is False  # ISO_OUT0 default off
        assert bank.set("ISO_OUT0", True) is False
        assert factory.pin("GPIO22").state is True
        assert bank.states["ISO_OUT0"].transitions == 1
        with pytest.raises(ValueError):
            bank.set("ACFAILSIG", True)
        with pytest.raises(KeyError):
            bank.set("NOPE", True)
    finally:
        bank.close()


async def test_active_low_output_drives_the_pin_low_when_active() -> None:
    factory = idle_factory()
    signals = build_signal_map({"ISO_OUT1": SignalOverride(active_high=False, default=True)})
    bank = DiscreteBank(signals, factory)
    bank.open(asyncio.get_running_loop())
    try:
        assert factory.pin("GPIO23").state is False
        bank.set("ISO_OUT1", False)
        assert factory.pin("GPIO23").state is True
    finally:
        bank.close()


async def test_debounce_ignores_bounces_and_accepts_a_stable_change() -> None:
    factory = idle_factory()
    # a long debounce, so a loaded test machine's scheduling cannot look like a stable level
    signals = build_signal_map({"OVERTEMPSIG": SignalOverride(debounce_ms=300)})
    bank = DiscreteBank(signals, factory)
    changes: list[tuple[str, bool]] = []
    bank.add_listener(lambda name, active, stamp: changes.append((name, active)))
    bank.open(asyncio.get_running_loop())
    try:
        for _ in range(5):  # contact bounce
            drive(factory, "OVERTEMPSIG", True)
            await asyncio.sleep(0.001)
            drive(factory, "OVERTEMPSIG", False)
            await asyncio.sleep(0.001)
        await settle(0.4)
        state = bank.states["OVERTEMPSIG"]
        assert state.active is False and state.transitions == 0 and state.raw_edges >= 10
        drive(factory, "OVERTEMPSIG", True)
        await asyncio.sleep(0.01)
        assert state.active is False  # not yet settled
        await settle(0.4)
        assert state.active is True and state.transitions == 1
        assert changes == [("OVERTEMPSIG", True)]
    finally:
        bank.close()


class LateAlertPin(MockPin):
    """Tells of each change 50 ms after it happened, with the time it happened: lgpio's kernel-stamped alerts
    when its callback thread runs late on a loaded machine."""

    def _call_when_changed(self) -> None:
        time.sleep(0.05)
        super()._call_when_changed()


async def test_a_change_is_stamped_when_the_pin_changed_not_when_it_was_told() -> None:
    factory = idle_factory(pin_classes={"OVERTEMPSIG": LateAlertPin})
    signals = build_signal_map({"OVERTEMPSIG": SignalOverride(debounce_ms=0)})
    bank = DiscreteBank(signals, factory)
    stamps: list[float] = []
    bank.add_listener(lambda name, active, stamp: stamps.append(stamp))
    bank.open(asyncio.get_running_loop())
    try:
        before = time.monotonic()
        drive(factory, "OVERTEMPSIG", True)  # told 50 ms later, on this thread
        told = time.monotonic()
        await settle()
        assert len(stamps) == 1 and told - before >= 0.05
        assert before <= stamps[0] <= before + 0.02  # the pin's own time of the change, not the callback's
    finally:
        bank.close()


# --- the component ------------------------------------------------------------------------------------------

async def start_component(tmp_path: Path, factory: MockFactory, **discretes: Any) -> tuple[Any, DiscretesComponent]:
    ctx = make_ctx(tmp_path, {"pin_factory": "mock", **discretes}, request_stop=StopRecorder())
    component = DiscretesComponent(ctx.setup(DISCRETES), ctx.config.discretes, tmp_path / "audit.jsonl",
                                   pin_factory=factory)
    ctx.discretes = component
    await component.start()
    return ctx, component


async def test_snapshot_and_metrics_hold_every_signal(tmp_path: Path) -> None:
    ctx, component = await start_component(tmp_path, idle_factory())
    try:
        snapshot = component.snapshot()
        assert sorted(snapshot["signals"]) == sorted(ISSUE_SIGNALS)
        for name in ISSUE_SIGNALS:
            entry = snapshot["signals"][name]
            assert {"active", "direction", "transitions", "last_change"} <= entry.keys()
            assert ctx.metrics.registry.get_sample_value("appliance_discrete_state", {"signal": name}) is not None
        json.dumps(snapshot)
    finally:
        await component.stop()


async def test_built_in_test_passes_with_the_loopback(tmp_path: Path) -> None:
    factory = idle_factory()
    drive(factory, "CPLD_REV1", True)
    drive(factory, "CONFIGSIG0", True)
    drive(factory, "CONFIGSIG2", True)
    ctx, component = await start_component(tmp_path, factory)
    try:
        assert component.bit is not None and component.bit.passed
        assert (component.bit.cpld_revision, component.bit.strapping) == (2, 5)
        assert component.health().status == "pass"
        assert ctx.metrics.registry.get_sample_value("appliance_bit_passed") == 1
        assert ctx.metrics.registry.get_sample_value(
            "appliance_hardware_info", {"cpld_revision": "2", "strapping": "5", "bit": "pass", "pin_factory": "mock"}
        ) == 1
    finally:
        await component.stop()


async def test_a_broken_loopback_fails_the_check_not_the_start(tmp_path: Path) -> None:
    ctx, component = await start_component(tmp_path, idle_factory(loopback=False), bit_settle_ms=10)
    try:
        assert component.bit is not None and not component.bit.passed
        assert component.bit.loopback == {"high": False, "low": True}
        health = component.health()
        assert health.status == "fail" and "INTTEST_IN" in health.reason
        assert ctx.metrics.registry.get_sample_value("appliance_bit_passed") == 0
        assert component.alive  # a restart would not mend the board: the watchdog keeps being fed
    finally:
        await component.stop()
    assert not component.alive


async def test_set_output_is_audited_before_it_changes(tmp_path: Path) -> None:
    factory = idle_factory()
    ctx, component = await start_component(tmp_path, factory)
    try:
        component.set_output("ISO_OUT2", True, "engineer:alice")
        component.set_output("ENB3SIG", False, "engineer:alice")
        assert factory.pin("GPIO24").state is True and factory.pin("GPIO19").state is False
        records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
        assert [(r["seq"], r["signal"], r["value"], r["previous"], r["actor"]) for r in records] == [
            (1, "ISO_OUT2", True, False, "engineer:alice"), (2, "ENB3SIG", False, True, "engineer:alice")]
        assert ctx.metrics.registry.get_sample_value("appliance_discrete_state", {"signal": "ENB3SIG"}) == 0
        with pytest.raises(ValueError):
            component.set_output("ACFAILSIG", True, "x")
        with pytest.raises(KeyError):
            component.set_output("ENB7SIG", True, "x")
        # an audit record that cannot be written changes nothing
        component.audit.path = tmp_path / "missing-dir-file" / "sub" / "audit.jsonl"
        (tmp_path / "missing-dir-file").write_text("a file, not a directory")
        with pytest.raises(OSError):
            component.set_output("ISO_OUT3", True, "x")
        assert factory.pin("GPIO25").state is False
    finally:
        await component.stop()


@pytest.mark.parametrize("line", ["OVERTEMPSIG", "GPIO_OVERTEMPSIG"])
async def test_over_temperature_follows_either_line_and_latches_its_record(tmp_path: Path, line: str) -> None:
    factory = idle_factory()
    ctx, component = await start_component(tmp_path, factory)
    sample = ctx.metrics.registry.get_sample_value
    try:
        assert not ctx.alarms.is_active("over_temperature")
        assert sample("appliance_alarm_active", {"name": "over_temperature"}) == 0  # a sample before any alarm
        drive(factory, line, True)  # either line alone raises it
        await settle(0.05)
        assert ctx.alarms.is_active("over_temperature")
        assert sample("appliance_alarm_active", {"name": "over_temperature"}) == 1
        drive(factory, line, False)
        await settle(0.05)
        assert not ctx.alarms.is_active("over_temperature")  # the cause is gone: load comes back by itself
        assert ctx.alarms.is_latched("over_temperature")  # the record waits for an engineer
        assert sample("appliance_alarm_active", {"name": "over_temperature"}) == 0
        assert sample("appliance_alarm_latched", {"name": "over_temperature"}) == 1
        ctx.alarms.ack("over_temperature")
        assert not ctx.alarms.is_latched("over_temperature")
        assert sample("appliance_alarm_latched", {"name": "over_temperature"}) == 0
    finally:
        await component.stop()


async def test_power_fail_flushes_and_rides_through_or_stops(tmp_path: Path) -> None:
    factory = idle_factory()
    journal = FsyncJournal(tmp_path / "journal")
    ctx, component = await start_component(tmp_path, factory, ride_through_ms=100, restore_grace_ms=10)
    ctx.flushables.append(journal)
    stops: StopRecorder = ctx.request_stop
    try:
        await journal.append("booking", {"n": 1})
        # a short interrupt: flushed, then resumed
        drive(factory, "ACFAILSIG", True)
        drive(factory, "GPIO_ACFAILSIG", True)
        await until(lambda: journal.flushes == 1)
        assert journal.frozen
        drive(factory, "GPIO_ACFAILSIG", False)
        drive(factory, "ACFAILSIG", False)
        await until(lambda: journal.resumes == 1)
        assert not journal.frozen and journal.resumes == 1 and stops.reasons == []
        assert component.power is not None and component.power.ride_throughs == 1
        assert ctx.metrics.registry.get_sample_value("appliance_power_fail_flush_seconds_count") == 1
        # an edge the CPLD does not confirm is ignored
        drive(factory, "GPIO_DCFAILSIG", True)
        await until(lambda: component.power is not None and component.power.unconfirmed == 1)
        drive(factory, "GPIO_DCFAILSIG", False)
        assert journal.flushes == 1
        # a cut: flushed, then the daemon is asked to stop
        drive(factory, "DCFAILSIG", True)
        drive(factory, "GPIO_DCFAILSIG", True)
        await until(lambda: bool(stops.reasons))
        assert journal.flushes == 2 and journal.frozen
        assert len(stops.reasons) == 1 and "GPIO_DCFAILSIG" in stops.reasons[0]
        assert component.power.state == "stopping" and component.health().status == "warn"
        assert journal.durable_seqs() == journal.acknowledged == [1]
    finally:
        await component.stop()
        journal.close()


async def test_modem_power_cycle(tmp_path: Path) -> None:
    factory = idle_factory()
    ctx, component = await start_component(tmp_path, factory, modem_boot_timeout=1.0)
    try:
        assert ctx.modem_power is None  # only build() fills the slots
        ctx2 = make_ctx(tmp_path)
        ctx2.build(DISCRETES)
        assert ctx2.discretes is not None and ctx2.modem_power is not None
        from appliance.discretes.component import ModemPowerLine

        line = ModemPowerLine(component)
        power_pin = factory.pin("GPIO12")
        task = asyncio.create_task(line.power_cycle(0.02))
        await asyncio.sleep(0.01)
        assert power_pin.state is False
        await asyncio.sleep(0.03)
        assert power_pin.state is True and not task.done()
        drive(factory, "GSMSIG_STATUS", True)  # the modem says it runs
        await asyncio.wait_for(task, 1.0)
        assert [r["actor"] for r in component.audit.records()] == ["modem", "modem"]
    finally:
        await component.stop()


def test_daemon_wires_request_stop(tmp_path: Path) -> None:
    rig = make_ctx(tmp_path)
    daemon = Daemon(rig.config, rig.core)
    assert rig.request_stop is not None
    rig.build(DISCRETES).ctx.request_stop("power fail")  # what a component's Setup reaches
    assert daemon._stop.is_set() and daemon.lifecycle.stop_reason == "power fail"


def test_lgpio_on_a_machine_that_is_no_pi_takes_the_configured_board() -> None:
    """gpiozero finds no Pi revision on an x86 cabin server: the configured board's pin map is used, so only a
    missing GPIO chip can stop lgpio (as here, where there is none)."""
    pytest.importorskip("lgpio")
    if Path("/proc/device-tree/system/linux,revision").exists() or list(Path("/dev").glob("gpiochip*")):
        pytest.skip("a Pi or a GPIO chip: this test is for a machine with neither")
    with pytest.raises(PinFactoryError, match="gpiochip"):
        make_pin_factory("lgpio", revision="a020a0")
