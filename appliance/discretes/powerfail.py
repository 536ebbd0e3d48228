"""The power-fail path: from the CPLD's interrupt edge to every pending write fsynced, then ride through or stop.

An edge on GPIO_ACFAILSIG or GPIO_DCFAILSIG, confirmed by the CPLD's latched ACFAILSIG / DCFAILSIG, starts the
emergency path at once: every Flushable stops accepting writes and makes what it holds durable (concurrently);
the time from the edge to the last fsync goes to `appliance_power_fail_flush_seconds` and systemd hears about it
(STATUS=). If power is back within the ride-through time (DO-160 interrupts of up to 200 ms) writes resume with
no restart; if not, the daemon is asked to stop in order. Writes stay refused until then, so nothing is
acknowledged that was not fsynced.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal

from appliance.discretes.metrics import DiscretesMetrics
from appliance.metrics import Metrics
from appliance.ports import Flushable
from appliance.tasks import cancel_and_wait, wait_event
from appliance.timebase import Clock
from hal.discretes.bank import DiscreteBank

log = logging.getLogger("appliance.discretes.powerfail")

CONFIRMED_BY = {"GPIO_ACFAILSIG": "ACFAILSIG", "GPIO_DCFAILSIG": "DCFAILSIG"}
PowerState = Literal["normal", "flushing", "riding_through", "stopping"]


class PowerFail:
    def __init__(
        self,
        bank: DiscreteBank,
        flushables: Sequence[Flushable],
        clock: Clock,
        metrics: Metrics,
        *,
        ride_through_s: float,
        grace_s: float,
        confirm_s: float,
        request_stop: Callable[[str], None] | None,
        notify: Callable[[str], None],
    ) -> None:
        self.bank = bank
        self.flushables = flushables  # a live view: what is provided later is flushed too
        self.clock = clock
        self.metrics = metrics.of(DiscretesMetrics)
        self.ride_through_s = ride_through_s
        self.grace_s = grace_s
        self.confirm_s = confirm_s
        self.request_stop = request_stop
        self.notify = notify
        self.state: PowerState = "normal"
        self.events = 0
        self.ride_throughs = 0
        self.unconfirmed = 0
        self.flush_errors = 0
        self.last_flush_seconds: float | None = None
        self.last_interrupt_seconds: float | None = None
        self._restored = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def power_failing(self) -> bool:
        return any(self.bank.read(line) for line in CONFIRMED_BY)

    def on_change(self, name: str, active: bool, stamp: float) -> None:
        """Bank listener (on the loop)."""
        if name not in CONFIRMED_BY:
            return
        if active and self.state == "normal":
            self.state = "flushing"
            self._restored.clear()
            self._task = asyncio.get_running_loop().create_task(self._emergency(name, stamp))
        elif not active and not self.power_failing():
            self._restored.set()

    async def _confirmed(self, line: str) -> bool:
        confirm = CONFIRMED_BY[line]
        deadline = self.clock.monotonic() + self.confirm_s
        while not self.bank.read(confirm):
            if self.clock.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.0005)
        return True

    async def _emergency(self, line: str, stamp: float) -> None:
        if not await self._confirmed(line):
            self.unconfirmed += 1
            self.metrics.power_fail_events.labels(outcome="unconfirmed").inc()
            log.warning("%s edge not confirmed by %s: ignored", line, CONFIRMED_BY[line])
            self.state = "normal"
            return
        self.events += 1
        results = await asyncio.gather(*(f.emergency_flush() for f in list(self.flushables)), return_exceptions=True)
        elapsed = self.clock.monotonic() - stamp
        self.last_flush_seconds = elapsed
        self.metrics.power_fail_flush.observe(elapsed)
        for result in results:
            if isinstance(result, BaseException):
                self.flush_errors += 1
                log.error("power fail: a flush failed: %r", result)
        log.warning("power fail on %s: %d store(s) flushed in %.1f ms", line, len(results), elapsed * 1000)
        self.notify(f"power fail on {line}: flushed in {elapsed * 1000:.1f} ms, waiting for power")
        self.state = "riding_through"
        if self.power_failing():
            remaining = self.ride_through_s + self.grace_s - (self.clock.monotonic() - stamp)
            if not await wait_event(self._restored, max(remaining, 0.0)):
                self._stop(line, stamp)
                return
        self.last_interrupt_seconds = self.clock.monotonic() - stamp
        for flushable in list(self.flushables):
            try:
                flushable.resume_writes()
            except Exception:
                log.exception("power back: resuming writes failed")
        self.ride_throughs += 1
        self.metrics.power_fail_events.labels(outcome="ride_through").inc()
        self.state = "normal"
        log.warning("power back after %.0f ms: writes resumed", self.last_interrupt_seconds * 1000)
        self.notify("running (power restored)")

    def _stop(self, line: str, stamp: float) -> None:
        self.state = "stopping"
        self.metrics.power_fail_events.labels(outcome="stop").inc()
        reason = f"power fail on {line}: no power after {self.ride_through_s * 1000:.0f} ms"
        log.error("%s: stopping", reason)
        self.notify(f"{reason}: stopping")
        if self.request_stop is not None:
            self.request_stop(reason)

    async def close(self) -> None:
        await cancel_and_wait(self._task)

    def snapshot(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "events": self.events,
            "ride_throughs": self.ride_throughs,
            "unconfirmed": self.unconfirmed,
            "flush_errors": self.flush_errors,
            "last_flush_seconds": self.last_flush_seconds,
            "last_interrupt_seconds": self.last_interrupt_seconds,
            "ride_through_ms": self.ride_through_s * 1000,
        }
