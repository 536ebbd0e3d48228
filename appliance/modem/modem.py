"""The modem component: tracks SIM, registration, signal and operator over the AT port, and recovers a dead
modem by a ladder: reopen the port, then `AT+CFUN=1,1`, then a power cycle through the modem's power discrete,
then FAILED with a reason. Any answer from the modem puts the ladder back at the bottom.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from typing import Any

from appliance.component import Check
from appliance.metrics import Metrics
from appliance.modem.config import ModemConfig
from appliance.modem.metrics import ModemMetrics
from appliance.modem.state import DOMAINS, PREFIX_DOMAIN, ModemState, NetworkStatus
from appliance.ports import ModemPower
from appliance.tasks import cancel_and_wait, wait_event
from appliance.timebase import Clock
from hal.modem import (
    ATChannel,
    ATError,
    ATTimeout,
    ParseError,
    PortClosed,
    csq_to_dbm,
    parse_cops,
    parse_cpin,
)
from hal.modem.parse import Registration, parse_registration

log = logging.getLogger("appliance.modem")

LADDER = ("reopen", "reset", "power-cycle", "failed")
INIT_COMMANDS = ("ATE0", "AT+CMEE=1")
REGISTRATION_QUERIES = {"cs": "AT+CREG", "ps": "AT+CGREG", "eps": "AT+CEREG"}
CME_SIM = {10: "missing", 11: "SIM PIN", 12: "SIM PUK", 13: "failure", 15: "failure"}


class ModemDead(Exception):
    """Enough consecutive timeouts: climb the recovery ladder."""


class Modem:
    name = "modem"

    def __init__(
        self,
        config: ModemConfig,
        clock: Clock,
        metrics: Metrics,
        power: ModemPower | None = None,
        channel_factory: Callable[..., ATChannel] = ATChannel,
    ) -> None:
        self.config = config
        self.clock = clock
        self.metrics = metrics.of(ModemMetrics)
        self.power = power
        self.channel = channel_factory(config.port, config.baudrate, on_urc=self._on_urc)
        self.network = NetworkStatus()
        self._state = ModemState.UNKNOWN
        self.reason = "starting"
        self.consecutive_timeouts = 0
        self.ladder_step = 0  # index into LADDER of the next rung to try
        self.recoveries: dict[str, int] = dict.fromkeys(LADDER, 0)
        self.last_answer_mono: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._fresh: dict[str, Registration] | None = None  # the registrations of the poll under way
        self._publish()

    # --- ModemView ---------------------------------------------------------------------------------

    @property
    def state(self) -> ModemState:
        return self._state

    @property
    def registered(self) -> bool:
        return self._state == ModemState.REGISTERED

    @property
    def roaming(self) -> bool:
        return self.registered and self.network.roaming

    @property
    def operator(self) -> str | None:
        return self.network.operator if self.registered else None

    def snapshot(self) -> dict[str, Any]:
        best = self.network.best()
        return {
            "state": self._state.name.lower(),
            "state_code": int(self._state),
            "reason": self.reason,
            "registered": self.registered,
            "roaming": self.roaming,
            "operator": self.operator,
            "technology": best.technology if best else None,
            "signal_dbm": self.network.signal_dbm,
            "sim": self.network.sim,
            "registration": {d: r.stat.name.lower() for d, r in self.network.registrations.items()},
            "consecutive_timeouts": self.consecutive_timeouts,
            "recoveries": dict(self.recoveries),
            "garbage_lines": self.channel.garbage_lines,
            "urcs": self.channel.urcs,
        }

    # --- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="modem")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        await self.channel.close()

    def health(self) -> Check:
        details = {"state": self._state.name.lower(), "reason": self.reason}
        if self._state == ModemState.FAILED:
            return Check.failing(f"modem failed: {self.reason}", **details)
        if self._state in (ModemState.UNKNOWN, ModemState.INITIALIZING, ModemState.LOCKED):
            return Check.warning(f"modem {self._state.name.lower()}: {self.reason}", **details)
        state = self._state.name.lower()
        said = f" ({self.reason})" if self.reason and self.reason != state else ""  # not "searching (searching)"
        return Check.passing(f"modem {state}{said}", **details)

    async def initialise(self) -> None:
        """Open the port if needed and initialise the modem once, as the loop does first (a replayed
        transcript steps the component this way). Raises PortClosed, ATTimeout or ModemDead."""
        await self._open_and_initialise()

    async def poll(self) -> None:
        """One poll (SIM, registration, signal, operator), as the loop does every poll_interval; a timeout
        ends it early (counted). Raises ModemDead after too many timeouts in a row, PortClosed."""
        await self._poll()

    def poll_now(self) -> None:
        """Skip the rest of the poll interval (e.g. after landing)."""
        self._wake.set()

    # --- the loop ------------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self._open_and_initialise()
                while True:
                    await self._poll()
                    await self._sleep(self.config.poll_interval)
            except ModemDead:
                await self._climb_ladder()
            except ATTimeout:
                continue  # counted in _command; initialise again until the ladder takes over
            except PortClosed as error:
                self._set(ModemState.UNKNOWN, f"AT port unavailable: {error}")
                await self.channel.close()
                await self._sleep(min(self.config.poll_interval, 2.0))

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        await wait_event(self._wake, seconds)

    async def _open_and_initialise(self) -> None:
        if not self.channel.is_open:
            await self.channel.close()
            self._set(ModemState.INITIALIZING, "opening the AT port")
            try:
                await self.channel.open()
            except (OSError, ValueError) as error:
                raise PortClosed(str(error)) from error
            except Exception as error:  # pyserial raises SerialException (an OSError subclass) or its own
                raise PortClosed(str(error)) from error
        self._set(ModemState.INITIALIZING, "initialising")
        for command in INIT_COMMANDS:
            await self._command(command)
        for domain in DOMAINS:
            with contextlib.suppress(ATError):
                await self._command(f"{REGISTRATION_QUERIES[domain]}=2")
        with contextlib.suppress(ATError):
            await self._command("AT+COPS=3,2")

    async def _command(self, command: str) -> list[str]:
        try:
            response = await self.channel.command(command, self.config.command_timeout)
        except ATTimeout:
            self.consecutive_timeouts += 1
            if self.network.signal_dbm is not None:  # a modem that does not answer has no known signal
                self.network.signal_dbm = None
                self._publish()
            if self.consecutive_timeouts >= self.config.timeouts_before_recovery:
                raise ModemDead(f"{self.consecutive_timeouts} consecutive timeouts") from None
            raise
        except ATError:
            self._answered()
            raise
        self._answered()
        return response.lines

    def _answered(self) -> None:
        self.consecutive_timeouts = 0
        self.last_answer_mono = self.clock.monotonic()
        if self.ladder_step:
            log.info("modem answers again after %s", LADDER[self.ladder_step - 1])
        self.ladder_step = 0

    async def _poll(self) -> None:
        try:
            await self._poll_once()
        except ATTimeout:
            return  # counted; the ladder starts once there are enough in a row

    async def _poll_once(self) -> None:
        try:
            lines = await self._command("AT+CPIN?")
            self.network.sim = parse_cpin(_payload(lines, "+CPIN:"))
        except ATError as error:
            self.network.sim = CME_SIM.get(error.cme or -1, "failure")
        except ParseError as error:
            log.warning("modem: %s", error)
        if self.network.sim == "READY":
            await self._query_registrations()
            await self._query_signal()
            await self._query_operator()
        else:
            self.network.registrations.clear()
            self.network.operator = None
            self.network.signal_dbm = None
        self._derive()

    async def _query_registrations(self) -> None:
        """Ask every domain. A domain this poll did not get a usable answer for (an error such as no +CEREG on
        a 3G-only modem, a refused answer, a timeout that cut the poll short) becomes unknown: an earlier
        value never stays in force (a stale EPS "home" must not win over "roaming" elsewhere). URCs that
        arrive during the poll count as answers."""
        fresh: dict[str, Registration] = {}
        self._fresh = fresh
        try:
            for domain in DOMAINS:
                registration = await self._query_registration(domain)
                if registration is not None:
                    fresh[domain] = registration
        finally:
            self._fresh = None
            self.network.registrations = fresh

    async def _query_registration(self, domain: str) -> Registration | None:
        command = REGISTRATION_QUERIES[domain]
        try:
            lines = await self._command(f"{command}?")
            return parse_registration(_payload(lines, command[2:] + ":"), answer=True, domain=domain)
        except ATError:
            return None
        except ParseError as error:
            log.warning("modem: %s", error)
            return None

    async def _query_signal(self) -> None:
        try:
            self.network.signal_dbm = csq_to_dbm(_payload(await self._command("AT+CSQ"), "+CSQ:"))
        except (ATError, ParseError) as error:
            self.network.signal_dbm = None  # not known now: not the last value
            log.warning("modem: signal: %s", error)

    async def _query_operator(self) -> None:
        try:
            operator = parse_cops(_payload(await self._command("AT+COPS?"), "+COPS:"))
        except (ATError, ParseError) as error:
            log.warning("modem: operator: %s", error)
            self.network.operator = None  # unknown, not the last value
            self.network.act = None
            return
        self.network.operator = operator.mcc_mnc
        self.network.act = operator.act

    def _on_urc(self, line: str) -> None:
        for prefix, domain in PREFIX_DOMAIN.items():
            if line.startswith(prefix):
                try:
                    registration = parse_registration(line[len(prefix) :], answer=False, domain=domain)
                except ParseError as error:
                    log.warning("modem: bad URC %r: %s", line, error)
                    return
                self.network.registrations[domain] = registration
                if self._fresh is not None:
                    self._fresh[domain] = registration
                was_registered = self.registered
                self._derive()
                if self.registered and not was_registered:
                    self.poll_now()  # fetch operator and signal at once
                return

    # --- recovery ----------------------------------------------------------------------------------

    async def _climb_ladder(self) -> None:
        step = LADDER[min(self.ladder_step, len(LADDER) - 1)]
        self.ladder_step += 1
        self.recoveries[step] += 1
        self.consecutive_timeouts = 0
        log.warning("modem not answering: recovery step %s", step)
        if step == "reopen":
            self._set(ModemState.INITIALIZING, "no answer: reopening the AT port")
            await self.channel.close()
        elif step == "reset":
            self._set(ModemState.INITIALIZING, "no answer: resetting (AT+CFUN=1,1)")
            with contextlib.suppress(ATTimeout, ATError, PortClosed):
                await self.channel.command("AT+CFUN=1,1", self.config.command_timeout)
            await self.channel.close()
            await asyncio.sleep(self.config.reset_wait)
        elif step == "power-cycle" and self.power is not None:
            self._set(ModemState.INITIALIZING, "no answer: power-cycling the modem")
            await self.channel.close()
            await self.power.power_cycle(self.config.power_off_seconds)
            await asyncio.sleep(self.config.reset_wait)
        else:
            self.ladder_step = LADDER.index("power-cycle")  # next time round: power-cycle again
            why = "no answer after reopen, reset and power cycle" if self.power else "no answer after reopen and reset"
            self._set(ModemState.FAILED, why)
            await self.channel.close()
            await asyncio.sleep(self.config.failed_retry_interval)

    # --- state -------------------------------------------------------------------------------------

    def _derive(self) -> None:
        state, reason = self.network.derive()
        self._set(state, reason)

    def _set(self, state: ModemState, reason: str) -> None:
        if state != self._state or reason != self.reason:
            log.info("modem: %s (%s)", state.name.lower(), reason)
        self._state = state
        self.reason = reason
        self._publish()

    def _publish(self) -> None:
        """The gauges. A signal that is not known now (no coverage: +CSQ 99; a modem that does not answer or is
        being recovered) is NaN, never the last value."""
        self.metrics.modem_state.set(int(self._state))
        self.metrics.modem_roaming.set(1 if self.roaming else 0)
        if self._state in (ModemState.UNKNOWN, ModemState.INITIALIZING, ModemState.FAILED):
            self.network.signal_dbm = None
        signal = self.network.signal_dbm
        self.metrics.modem_signal_dbm.set(math.nan if signal is None else signal)


def _payload(lines: list[str], prefix: str) -> str:
    for line in lines:
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    raise ParseError(f"no {prefix} line in the answer {lines!r}")
