"""The composition root: builds the components from the config in dependency order, starts them, stops them
in reverse. Nothing else wires components together."""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.alarms import Alarms
from appliance.appconfig import AppConfig
from appliance.component import Component
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
    TimeAnchor,
)
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
    groundlink: GroundLinkControl | None = None
    components: list[Component] = field(default_factory=list)
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
    # "appliance.maintenance.component:build",
]


def build_components(ctx: Context) -> list[Component]:
    """Construct every component, in start order."""
    for target in BUILDERS:
        module_name, _, function_name = target.partition(":")
        builder: Builder = getattr(importlib.import_module(module_name), function_name)
        ctx.components.append(builder(ctx))
    return list(ctx.components)


class Daemon:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.components: list[Component] = []
        self._started: list[Component] = []
        self._stop = asyncio.Event()
        self.exit_status = 0
        if ctx.request_stop is None:
            ctx.request_stop = self.request_stop

    def request_stop(self, reason: str = "requested") -> None:
        if not self._stop.is_set():
            log.info("stopping: %s", reason)
            self._stop.set()

    async def start(self) -> None:
        self.components = build_components(self.ctx)
        for component in self.components:
            log.debug("starting %s", component.name)
            await component.start()
            self._started.append(component)

    async def stop(self) -> None:
        while self._started:
            component = self._started.pop()
            try:
                await component.stop()
            except Exception:
                log.exception("component %s failed to stop cleanly", component.name)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop, signal.Signals(signum).name)
        try:
            await self.start()
            log.info("running: %d components", len(self.components))
            await self._stop.wait()
        finally:
            await self.stop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
        return self.exit_status
