"""The update component: in the running release, it proves a release on trial (commit or roll back), puts an
installed release on trial at a safe moment, and takes new releases from the ground in the window (the ground
link calls `window`, appliance.update.window).

The trial (RAUC's mark-good, greenboot's required checks): the release on trial is committed once the daemon
has been READY and its health (appliance.lifecycle.overall over every component) out of `fail` for
`[update] trial_seconds`; a `fail` during the trial rolls it back at once. Either way the daemon then stops with
EX_SWITCH (76), which the unit restarts (RestartForceExitStatus=): the next start runs what `current` names. A
release that never gets that far (it exits, hangs before READY and is killed by TimeoutStartSec, or loops) is
rolled back by the committed release's preflight (`appliance release preflight`, ExecStartPre) after
`[update] max_starts` starts. Disk errors while switching are logged and the health says so; nothing is
switched half-way (appliance.update.layout).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry, Gauge

from appliance import ports
from appliance.component import Check, Status
from appliance.core.spec import ASSEMBLY, Assembly, Setup
from appliance.fs import formats
from appliance.lifecycle import Lifecycle, overall
from appliance.timebase import Clock
from appliance.update.config import UpdateConfig
from appliance.update.layout import ActivationRefused, Layout
from appliance.update.window import WindowRunner

log = logging.getLogger("appliance.update")

EX_SWITCH = 76  # `appliance run` after a switch of release: restart me (RestartForceExitStatus=)
STATE_CODES = {"idle": 0, "downloading": 1, "trial": 2, "committed": 3, "rolled_back": 4}
STREAMS_METRIC = "appliance_sse_clients"  # the portal's gauge of open flight streams (portal/metrics.py)


def running_version(root: Path, prefix: str = sys.prefix) -> str | None:
    """The release this process runs, when it runs from `<root>/releases/<version>` (else None: a dev run)."""
    here = Path(prefix).resolve()
    return here.name if here.parent == (root / "releases").resolve() else None


class UpdateComponent:
    name = "update"
    critical = False

    def __init__(self, config: UpdateConfig, layout: Layout, clock: Clock, lifecycle: Lifecycle,
                 registry: CollectorRegistry, *, assembly: Assembly | None, flight: ports.FlightView | None,
                 request_stop: Any, version: str | None) -> None:
        self.config = config
        self.layout = layout
        self.clock = clock
        self.lifecycle = lifecycle
        self.registry = registry
        # the portal's stream gauge alone: a whole-registry scan each check also ran the system metrics'
        # psutil calls (1.4 % of the loop under a flight-document load, py-spy)
        self._streams = registry.restricted_registry([STREAMS_METRIC])
        self.assembly = assembly
        self.flight = flight
        self.request_stop = request_stop
        self.version = version
        self.runner = WindowRunner(config, layout)
        self.state_gauge = Gauge("appliance_update_state",
                                 "0 idle, 1 downloading, 2 trial, 3 committed, 4 rolled back.", registry=registry)
        self.problem = ""  # why the health fails ("" when it does not)
        self.on_trial = False
        self.ready_since: float | None = None
        self.busy_since: float | None = None  # when a passenger stream was last seen
        self.was_busy = False
        self._task: asyncio.Task[None] | None = None
        self._refresh_gauge()

    # --- lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            problem = formats.can_read(formats.READS, self.layout.state_formats())
        except formats.FormatUnreadable as error:
            problem = str(error)
        except OSError as error:
            problem = f"state formats unreadable: {error}"
        try:
            trial = self.layout.trial() if self.layout.link("current") != self.layout.link("committed") else None
        except (ValueError, TypeError):
            trial = None
        self.on_trial = trial is not None and self.version is not None and trial.version == self.version
        if problem is not None:
            self.problem = f"this release cannot read the state: {problem}"
            log.error("%s", self.problem)
            if self.on_trial:
                self._switch(lambda: self.layout.rollback_trial(self.problem), "rollback")
        self._refresh_gauge()
        self._task = asyncio.create_task(self._loop(), name="update")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def health(self) -> Check:
        if self.problem:
            return Check.failing(self.problem)
        event = self.layout.history()[-1:] if not self.on_trial else []
        if event and event[0].get("event") == "rollback":
            return Check.warning(f"rolled back {event[0].get('version')}: {event[0].get('reason')}")
        return Check.passing(f"trial of {self.version}" if self.on_trial else f"release {self.version or 'unmanaged'}")

    # --- the trial and the safe moment -----------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            try:
                self._tick()
            except OSError as error:
                self.problem = f"release switch failed on disk: {error}"
                log.error("%s", self.problem)
            self._refresh_gauge()
            await asyncio.sleep(self.config.check_seconds)

    def _tick(self) -> None:
        now = self.clock.monotonic()
        if self.on_trial and not self.lifecycle.stopping:
            self._trial_tick(now)
            return
        streams = self._stream_count()
        # a stream seen at the last check may have lasted until this one: the quiet time starts at the first
        # check that sees none
        if streams > 0 or self.was_busy or self.busy_since is None:
            self.busy_since = now
        self.was_busy = streams > 0
        pending = self.layout.pending()
        if pending is None or self.config.activate != "ground" or self.lifecycle.stopping:
            return
        on_ground = self.flight.on_ground if self.flight is not None else None
        if on_ground is True and now - self.busy_since >= self.config.quiet_seconds:
            self._switch(lambda: self.layout.activate(pending).version, "activate")

    def _stream_count(self) -> float:
        """Passengers' flight streams now (0 when no portal publishes the gauge)."""
        for metric in self._streams.collect():
            for sample in metric.samples:
                if sample.name == STREAMS_METRIC:
                    return sample.value
        return 0.0

    def _trial_tick(self, now: float) -> None:
        if not self.lifecycle.ready:
            return
        if self.ready_since is None:
            self.ready_since = now
        if self.assembly is not None:
            checks = [(c, k) for c, k in self.assembly.checks() if c is not self]
            if overall(checks) is Status.FAIL:
                failing = "; ".join(f"{c.name}: {k.reason}" for c, k in checks if k.status is Status.FAIL)
                self._switch(lambda: self.layout.rollback_trial(f"health fail during the trial: {failing}"),
                             "rollback")
                return
        if now - self.ready_since >= self.config.trial_seconds:
            committed = self.layout.commit()
            log.info("release %s committed after %.0f s ready and healthy", committed, now - self.ready_since)
            self.on_trial = False

    def _switch(self, action: Any, what: str) -> None:
        try:
            version = action()
        except ActivationRefused as error:
            log.warning("release not activated: %s", error)
            return
        log.warning("release %s: %s; restarting into %s", what, version, self.layout.link("current"))
        self.on_trial = False
        self.lifecycle.exit_status = EX_SWITCH
        self.request_stop(f"release {what}: {version}")

    # --- the window (ports.ReleaseUpdater) ----------------------------------------------------------------

    async def window(self, session: aiohttp.ClientSession, targets: ports.SignedTargets,
                     budget: Any = None) -> dict[str, Any]:
        self._refresh_gauge(downloading=True)
        try:
            return await self.runner.run(session, targets, budget)
        finally:
            self._refresh_gauge()

    def telemetry(self) -> dict[str, Any]:
        return {**self.status(), "running": self.version}

    def status(self) -> dict[str, Any]:
        state = self.layout.status()
        return {**state, "running": self.version, "state": self.state_name(), "problem": self.problem or None,
                "download": self.runner.last}

    def state_name(self, downloading: bool = False) -> str:
        if downloading or self.runner.active:
            return "downloading"
        if self.on_trial:
            return "trial"
        event = self.layout.history()[-1:]
        if event and event[0].get("event") == "commit":
            return "committed"
        if event and event[0].get("event") == "rollback":
            return "rolled_back"
        return "idle"

    def _refresh_gauge(self, downloading: bool = False) -> None:
        with contextlib.suppress(OSError):
            self.state_gauge.set(STATE_CODES[self.state_name(downloading)])


def build(setup: Setup[UpdateConfig]) -> UpdateComponent:
    config = setup.config
    state_dir = setup.require(ports.STATE_DIR).path
    layout = Layout(Path(config.root), state_dir, wall=setup.clock.wall, max_starts=config.max_starts)
    component = UpdateComponent(config, layout, setup.clock, setup.lifecycle, setup.metrics.registry,
                                assembly=setup.use(ASSEMBLY), flight=setup.use(ports.FLIGHT),
                                request_stop=setup.request_stop, version=running_version(Path(config.root)))
    setup.provide(ports.UPDATER, component)
    return component
