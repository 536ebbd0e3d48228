"""The discretes component: every discrete signal through gpiozero, the power-fail path, over-temperature from
OVERTEMPSIG, the built-in test at boot, audited outputs, and the modem's power line.

Provides DISCRETES (DiscretesControl: snapshot, set_output; its maintenance route PUT /api/v1/outputs/{name})
and MODEM_POWER (ModemPower). GSM_POWER_STATUS is the modem's power-enable OUTPUT; GSMSIG_STATUS is the modem's
status INPUT (active while it runs): a power cycle drives the first off and on, then waits for the second.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from pathlib import Path
from typing import Any

from appliance import ports
from appliance.alarms import OVER_TEMPERATURE
from appliance.component import Check
from appliance.config import ConfigError
from appliance.core.spec import Setup
from appliance.discretes.audit import AuditLog
from appliance.discretes.bit import BitResult, run_bit
from appliance.discretes.config import DiscretesConfig
from appliance.discretes.metrics import DiscretesMetrics
from appliance.discretes.powerfail import PowerFail
from appliance.tasks import cancel_and_wait
from hal.discretes.bank import DiscreteBank
from hal.discretes.factories import PinFactoryError, UnknownPinFactory, make_pin_factory
from hal.discretes.signals import Signal, build_signal_map

log = logging.getLogger("appliance.discretes")

#: Either line raises over_temperature on its own: the CPLD's latched level and its interrupt line.
OVERTEMP_LINES = ("OVERTEMPSIG", "GPIO_OVERTEMPSIG")


class HardwareStartError(RuntimeError):
    """The discretes cannot start: the pin factory does not load or a line cannot be opened."""


class DiscretesComponent:
    name = "discretes"

    def __init__(self, ctx: Setup[DiscretesConfig], config: DiscretesConfig, audit_path: Path,
                 pin_factory: Any = None) -> None:
        """`pin_factory`: an already made factory (a test's MockFactory with wired pins); by default the one
        `config.pin_factory` names is made at start."""
        self.ctx = ctx
        self._given_factory = pin_factory
        self.config = config
        self.signals: dict[str, Signal] = build_signal_map(config.signals)
        self.series = ctx.metrics.of(DiscretesMetrics)
        self.audit = AuditLog(audit_path)
        self.factory: Any = None
        self.bank: DiscreteBank | None = None
        self.power: PowerFail | None = None
        self.bit: BitResult | None = None
        self.absent: str | None = None  # why the hardware could not be opened, while it cannot
        self._retry: asyncio.Task[None] | None = None
        for name in self.signals:  # a sample per signal from the first scrape: NaN while the lines are not read
            self.series.discrete_state.labels(signal=name).set(math.nan)

    # --- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """A config typo (an unknown factory) refuses the start; hardware that is not there (no GPIO chip, no
        library, no pin server) leaves the daemon ready but degraded, failing in health, tried again every
        `retry_seconds`: a restart would not bring it, and the passengers' portal can still run."""
        try:
            await self._open()
        except HardwareStartError as error:
            self.absent = str(error)
            log.error("%s; running without the discretes (power fail NOT watched), trying again every %g s",
                      error, self.config.retry_seconds)
            self._retry = asyncio.get_running_loop().create_task(self._retry_open(), name="discretes-retry")

    async def _retry_open(self) -> None:
        while self.bank is None:
            await asyncio.sleep(self.config.retry_seconds)
            try:
                await self._open()
            except HardwareStartError as error:
                self.absent = str(error)
            else:
                self.absent = None
                log.warning("discretes found after all: power fail watched from now on")

    async def _open(self) -> None:
        cfg = self.config
        try:
            self.factory = self._given_factory or make_pin_factory(cfg.pin_factory, cfg.pin_address,
                                                                   cfg.board_revision)
        except UnknownPinFactory as error:
            raise ConfigError(self.ctx.config_source, "discretes.pin_factory", str(error)) from error
        except PinFactoryError as error:
            raise HardwareStartError(f"discretes.pin_factory: {error}") from error
        bank = DiscreteBank(self.signals, self.factory, monotonic=self.ctx.clock.monotonic, wall=self.ctx.clock.wall)
        self.power = PowerFail(
            bank, self.ctx.use_all(ports.FLUSHABLES), self.ctx.clock, self.ctx.metrics,
            ride_through_s=cfg.ride_through_ms / 1000, grace_s=cfg.restore_grace_ms / 1000,
            confirm_s=cfg.confirm_ms / 1000, request_stop=self._power_fail_stop, notify=self._notify,
        )
        bank.add_listener(self._on_change)
        try:
            bank.open(asyncio.get_running_loop())
        except Exception as error:
            self.factory.close()
            self.factory = self.power = None  # nothing half-open is kept for health, snapshot or a retry
            raise HardwareStartError(f"discretes: cannot open the signals with {cfg.pin_factory!r}: {error}") from error
        self.bank = bank
        for name, state in bank.states.items():
            self.series.discrete_state.labels(signal=name).set(int(state.active))
        for line in OVERTEMP_LINES:
            self._report_overtemp(line, bank.states[line].active)
        self.bit = await run_bit(bank, cfg.bit_settle_ms / 1000)
        self._publish_bit(self.bit)
        if self.power.power_failing():
            log.warning("power-fail lines are active at start")

    async def stop(self) -> None:
        await cancel_and_wait(self._retry)
        if self.power is not None:
            await self.power.close()
        if self.bank is not None:
            self.bank.close()
            self.bank = None
        if self.factory is not None:
            self.factory.close()
            self.factory = None

    @property
    def alive(self) -> bool:
        """The signals are being watched (a power fail would be seen). A failed built-in test is reported in
        health, but a restart would not mend it, so it does not stop the watchdog."""
        if self.absent is not None:  # never opened: nothing to watch, and a restart would not bring it
            return True
        return self.bank is not None and bool(getattr(self.factory, "connected", True))

    def health(self) -> Check:
        if self.absent is not None:
            return Check.failing(f"{self.absent} (power fail not watched; trying again)",
                                 pin_factory=self.config.pin_factory)
        if self.bank is None or self.power is None:
            return Check.failing("not started")
        details: dict[str, Any] = {"pin_factory": self.config.pin_factory, "power": self.power.state}
        if not getattr(self.factory, "connected", True):
            return Check.failing("lost the connection to the simulator's pin server", **details)
        if self.bit is not None:
            details |= {"cpld_revision": self.bit.cpld_revision, "strapping": self.bit.strapping}
            if not self.bit.passed:
                return Check.failing(f"built-in test failed: {self.bit.reason}", **details)
        if self.power.state != "normal":
            return Check.warning(f"power fail: {self.power.state}", **details)
        return Check.passing("built-in test passed", **details)

    # --- DiscretesControl -----------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        signals = self.bank.snapshot() if self.bank is not None else {
            name: {"line": s.line, "direction": s.direction, "active_high": s.active_high,
                   "debounce_ms": s.debounce_ms, "active": None, "transitions": 0, "last_change": None}
            for name, s in self.signals.items()
        }
        return {
            "pin_factory": self.config.pin_factory,
            "signals": signals,
            "power": self.power.snapshot() if self.power is not None else None,
            "bit": self.bit.as_dict() if self.bit is not None else None,
        }

    def set_output(self, name: str, value: bool, actor: str) -> None:
        """Audited (fsynced) before the line changes. KeyError unknown, ValueError input, RuntimeError not
        started, OSError when the audit record cannot be written (nothing changes then)."""
        signal = self.signals[name]
        if signal.direction != "out":
            raise ValueError(f"{name} is an input")
        if self.bank is None:
            raise RuntimeError("discretes are not started")
        previous = self.bank.states[name].active
        self.audit.append({"wall": self.ctx.clock.wall(), "signal": name, "value": bool(value),
                           "previous": previous, "actor": actor})
        self.bank.set(name, bool(value))
        log.info("%s set %s to %s (was %s)", actor, name, value, previous)

    # --- events ---------------------------------------------------------------------------------------------

    def _on_change(self, name: str, active: bool, stamp: float) -> None:
        assert self.power is not None
        self.power.on_change(name, active, stamp)  # first: the emergency path starts before anything else
        self.series.discrete_state.labels(signal=name).set(int(active))
        self.series.discrete_transitions.labels(signal=name).inc()
        if name in OVERTEMP_LINES:
            self._report_overtemp(name, active)

    def _report_overtemp(self, line: str, active: bool) -> None:
        assert self.ctx.alarms is not None
        self.ctx.alarms.report(OVER_TEMPERATURE, line, active, f"{line}: the board is over temperature")

    def _publish_bit(self, bit: BitResult) -> None:
        self.series.bit_passed.set(int(bit.passed))
        self.series.hardware_info.info({
            "cpld_revision": str(bit.cpld_revision),
            "strapping": str(bit.strapping),
            "bit": "pass" if bit.passed else "fail",
            "pin_factory": self.config.pin_factory,
        })
        if bit.passed:
            log.info("built-in test passed: CPLD revision %s, strapping %s", bit.cpld_revision, bit.strapping)
        else:
            log.error("built-in test failed: %s", bit.reason)

    def _power_fail_stop(self, reason: str) -> None:
        """No power after the ride-through: recorded as a power fail (the next boot's last_shutdown_reason),
        the daemon exits EX_POWER_FAIL so systemd brings it back if the box survives."""
        self.ctx.lifecycle.power_fail_stop(reason)
        self.ctx.request_stop(reason)

    def _notify(self, line: str) -> None:
        """The power-fail path's STATUS= line, through the daemon's one Notifier (de-duplicated there)."""
        self.ctx.notifier.status(line)


class ModemPowerLine:
    """ModemPower through GSM_POWER_STATUS (output) and GSMSIG_STATUS (input); each change audited."""

    def __init__(self, discretes: DiscretesComponent) -> None:
        self.discretes = discretes

    async def power_cycle(self, off_seconds: float) -> None:
        """Off for `off_seconds`, on again, then wait (up to discretes.modem_boot_timeout) for GSMSIG_STATUS.
        Returns either way; a modem that does not come up is logged (the modem component sees it stay silent)."""
        self.discretes.set_output("GSM_POWER_STATUS", False, "modem")
        await asyncio.sleep(off_seconds)
        self.discretes.set_output("GSM_POWER_STATUS", True, "modem")
        bank = self.discretes.bank
        deadline = time.monotonic() + self.discretes.config.modem_boot_timeout
        while bank is not None and not bank.read("GSMSIG_STATUS"):
            if time.monotonic() >= deadline:
                log.warning("modem power cycle: GSMSIG_STATUS did not come up")
                return
            await asyncio.sleep(0.02)

    def modem_running(self) -> bool | None:
        bank = self.discretes.bank
        return None if bank is None else bank.read("GSMSIG_STATUS")


def build(setup: Setup[DiscretesConfig]) -> DiscretesComponent:
    config = setup.config
    audit_path = Path(config.audit_file)
    if not audit_path.is_absolute():
        audit_path = setup.require(ports.STATE_DIR).path / audit_path
    component = DiscretesComponent(setup, config, audit_path)
    setup.provide(ports.DISCRETES, component)
    setup.provide(ports.MODEM_POWER, ModemPowerLine(component))
    return component
