"""The composition root: builds the components from the config in dependency order, starts them, stops them
in reverse. Nothing else wires components together."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.alarms import Alarms
from appliance.appconfig import AppConfig, load_config
from appliance.component import Component
from appliance.config import EX_CONFIG, ConfigError
from appliance.lifecycle import Lifecycle, is_alive
from appliance.metrics import Metrics
from appliance.ports import (
    BootInfo,
    ContentUpdater,
    ContentView,
    DiscretesControl,
    FlightView,
    Flushable,
    GroundLinkControl,
    ModemPower,
    ModemView,
    Outbox,
    ScheduleView,
    SyncTrigger,
    TimeAnchor,
)
from appliance.statusline import status_line
from appliance.systemd import Notifier, watchdog_interval
from appliance.timebase import Clock, SystemClock

log = logging.getLogger("appliance.daemon")


@dataclass
class Context:
    """What every component may be given: config, time, metrics, alarms. Nothing else is global."""

    config: AppConfig
    config_path: Path | None
    clock: Clock = field(default_factory=SystemClock)
    metrics: Metrics = field(default_factory=Metrics)
    alarms: Alarms | None = None
    sim_endpoints: dict[str, Any] = field(default_factory=dict)
    # Services that components offer each other (appliance/ports.py), filled in as they are built.
    boot: BootInfo | None = None
    flight: FlightView | None = None
    outbox: Outbox | None = None
    flushables: list[Flushable] = field(default_factory=list)
    time_anchor: TimeAnchor | None = None
    content: ContentView | None = None
    content_updater: ContentUpdater | None = None
    discretes: DiscretesControl | None = None
    modem_power: ModemPower | None = None
    modem: ModemView | None = None
    sync_trigger: SyncTrigger | None = None
    groundlink: GroundLinkControl | None = None
    schedule: ScheduleView | None = None
    components: list[Component] = field(default_factory=list)
    # The daemon's own state (ready, stopping, loop lag, watchdog), and what a SIGHUP reload merges under the file.
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    config_defaults: dict[str, Any] = field(default_factory=dict)
    # Asks the daemon to stop in order (e.g. the power-fail path when power does not come back); the Daemon
    # fills it in. `request_stop(reason)`.
    request_stop: Callable[[str], None] | None = None

    def __post_init__(self) -> None:
        if self.alarms is None:
            self.alarms = Alarms(self.clock, self.metrics)


Builder = Callable[[Context], Component]

# Start order. Each builder constructs its component from ctx.config, fills the ctx service slots it offers
# and may use the slots of builders before it. Stop order is the reverse.
BUILDERS: list[str] = [
    "appliance.storage.component:build",  # storage, outbox, time keeper, boot info: first, all others use it
    "appliance.content.component:build",  # content store, boot-time check, content sync
    "appliance.discretes.component:build",  # discretes, power fail, built-in test, modem power
    "appliance.sensors.component:build",  # board temperature, supply voltage and current
    "appliance.avionics.component:build",  # reader + flight state
    "appliance.modem.component:build",
    "appliance.groundlink.component:build",  # window, outbox delivery, content sync, clock check
    "appliance.portal.component:build",
    "appliance.maintenance.component:build",  # keep LAST: it reports on everything above
]


def build_components(ctx: Context) -> list[Component]:
    """Construct every component, in start order."""
    for target in BUILDERS:
        module_name, _, function_name = target.partition(":")
        builder: Builder = getattr(importlib.import_module(module_name), function_name)
        ctx.components.append(builder(ctx))
    return list(ctx.components)


class Daemon:
    """Runs the components under systemd: READY=1 once all started, WATCHDOG=1 while the loop and every critical
    component are alive, STATUS= as the state changes, STOPPING=1 on SIGTERM, a config reload on SIGHUP."""

    LAG_PERIOD = 0.25  # seconds between event-loop lag measurements
    STATUS_PERIOD = 2.0  # seconds between STATUS= refreshes (sent only when the line changed)

    def __init__(self, ctx: Context, notifier: Notifier | None = None) -> None:
        self.ctx = ctx
        self.notifier = notifier if notifier is not None else Notifier()
        self.components: list[Component] = []
        self._started: list[Component] = []
        self._stop = asyncio.Event()
        self._reload_task: asyncio.Task[bool] | None = None
        self.exit_status = 0
        if ctx.request_stop is None:
            ctx.request_stop = self.request_stop

    @property
    def lifecycle(self) -> Lifecycle:
        return self.ctx.lifecycle

    def request_stop(self, reason: str = "requested") -> None:
        if not self._stop.is_set():
            log.info("stopping: %s", reason)
            self.lifecycle.stop_reason = reason
            self._stop.set()

    def request_reload(self) -> None:
        if self._reload_task is None or self._reload_task.done():
            self._reload_task = asyncio.get_running_loop().create_task(self.reload())

    async def start(self) -> None:
        """Build and start every component in order. A non-critical component that fails to start is reported
        (the daemon runs degraded); a critical one, or a ConfigError from any, is raised."""
        loop = asyncio.get_running_loop()
        self.lifecycle.started_monotonic = loop.time()
        self.lifecycle.max_loop_lag = self.ctx.config.maintenance.watchdog_max_lag
        built = loop.time()
        self.components = build_components(self.ctx)
        self.lifecycle.start_seconds["(build)"] = round(loop.time() - built, 3)
        for component in self.components:
            if self._stop.is_set():
                return
            self.notifier.status(f"starting {component.name}")
            log.debug("starting %s", component.name)
            started = loop.time()
            try:
                await component.start()
            except ConfigError:
                raise
            except Exception as error:
                if component.critical:
                    raise
                log.exception("non-critical component %s failed to start; running degraded", component.name)
                self.lifecycle.start_failures[component.name] = f"{type(error).__name__}: {error}"
                continue
            finally:
                self.lifecycle.start_seconds[component.name] = round(loop.time() - started, 3)
            self._started.append(component)

    async def stop(self) -> None:
        """Stop the started components in reverse order within `maintenance.stop_timeout` in total; one that
        overruns its share is abandoned so the ones below it (storage last) still stop cleanly."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ctx.config.maintenance.stop_timeout
        while self._started:
            component = self._started.pop()
            remaining = max(0.5, deadline - loop.time())
            try:
                async with asyncio.timeout(remaining):
                    await component.stop()
            except TimeoutError:
                log.error("component %s did not stop within %.1f s", component.name, remaining)
            except Exception:
                log.exception("component %s failed to stop cleanly", component.name)

    async def reload(self) -> bool:
        """SIGHUP: re-read and re-validate the config. A bad one is refused and the old one kept; a good one is
        offered to every component with a `reload(new_config)` method. READY=1 again either way."""
        self.notifier.reloading()
        self.lifecycle.reloading = True
        ok = True
        try:
            if self.ctx.config_path is None:
                log.info("reload: no config file, nothing to re-read")
            else:
                try:
                    new_config = load_config(self.ctx.config_path, self.ctx.config_defaults)
                except ConfigError as error:
                    log.error("config reload refused, keeping the previous config: %s", error)
                    self.lifecycle.reload_error = str(error)
                    ok = False
                else:
                    self.lifecycle.reload_error = ""
                    self.ctx.config = new_config
                    self.lifecycle.max_loop_lag = new_config.maintenance.watchdog_max_lag
                    await self._offer_reload(new_config)
        finally:
            self.lifecycle.reloading = False
        self.ctx.metrics.config_reloads.labels(result="applied" if ok else "refused").inc()
        self.lifecycle.status_line = status_line(self.ctx)
        self.notifier.ready(self.lifecycle.status_line)
        return ok

    async def _offer_reload(self, new_config: AppConfig) -> None:
        for component in self._started:
            reload = getattr(component, "reload", None)
            if not callable(reload):
                continue
            try:
                result = reload(new_config)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("component %s failed to apply the new config", component.name)

    def watchdog_withheld_reason(self, own_lateness: float = 0.0) -> str:
        """Why WATCHDOG=1 must not be sent now ("" when it may)."""
        lag = max(self.lifecycle.loop_lag, own_lateness)
        if lag > self.lifecycle.max_loop_lag:
            return f"event loop lag {lag:.2f} s over {self.lifecycle.max_loop_lag:.2f} s"
        dead = [c.name for c in self.components if c.critical and not is_alive(c, self.lifecycle)]
        if dead:
            return "critical component not alive: " + ", ".join(dead)
        return ""

    async def _measure_lag(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self.LAG_PERIOD
            await asyncio.sleep(self.LAG_PERIOD)
            lag = max(0.0, loop.time() - expected)
            self.lifecycle.loop_lag = lag
            self.ctx.metrics.event_loop_lag.set(lag)

    async def _feed_watchdog(self, interval: float) -> None:
        loop = asyncio.get_running_loop()
        lateness = 0.0
        while True:
            reason = self.watchdog_withheld_reason(lateness)
            if not reason:
                self.notifier.watchdog()
                self.lifecycle.watchdog_pings += 1
                self.ctx.metrics.watchdog_pings.inc()
            else:
                self.ctx.metrics.watchdog_withheld.inc()
                if reason != self.lifecycle.watchdog_withheld:
                    log.warning("watchdog not fed: %s", reason)
            self.lifecycle.watchdog_withheld = reason
            expected = loop.time() + interval
            await asyncio.sleep(interval)
            lateness = max(0.0, loop.time() - expected)

    async def _refresh_status(self) -> None:
        while True:
            await asyncio.sleep(self.STATUS_PERIOD)
            if not self.lifecycle.reloading:
                self.lifecycle.status_line = status_line(self.ctx)
                self.notifier.status(self.lifecycle.status_line)

    def _announce_ready(self) -> None:
        self.lifecycle.ready = True
        self.ctx.metrics.ready.set(1)
        self.lifecycle.status_line = status_line(self.ctx)
        self.notifier.ready(self.lifecycle.status_line)
        log.info("running: %d components", len(self.components))  # tests and scripts wait for this line
        log.info("ready: %s", self.lifecycle.status_line)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop, signal.Signals(signum).name)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        tasks: list[asyncio.Task[None]] = []
        try:
            await self.start()
            if not self._stop.is_set():
                self._announce_ready()
                tasks.append(loop.create_task(self._measure_lag()))
                tasks.append(loop.create_task(self._refresh_status()))
                self.lifecycle.watchdog_interval = watchdog_interval()
                if self.lifecycle.watchdog_interval is not None:
                    tasks.append(loop.create_task(self._feed_watchdog(self.lifecycle.watchdog_interval)))
                await self._stop.wait()
        except ConfigError as error:
            print(f"appliance: config error: {error}", file=sys.stderr)
            self.exit_status = EX_CONFIG
        except Exception:
            log.exception("the daemon could not start")
            self.exit_status = 1
        finally:
            self.lifecycle.ready = False
            self.lifecycle.stopping = True
            self.ctx.metrics.ready.set(0)
            self.notifier.stopping()
            for task in tasks:
                task.cancel()
            if self._reload_task is not None:
                self._reload_task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.stop()
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(signum)
        return self.exit_status or self.lifecycle.exit_status
