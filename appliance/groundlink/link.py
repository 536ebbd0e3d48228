"""The ground window: when it opens and closes, and the cycles of work run inside it.

The window is open when the aircraft is on the ground, the modem is registered and the ground station answers
its health check. While it is open a cycle runs (work.py: the steps and their priorities) when a full one is due
or the outbox has items. Roaming: only the outbox runs, and every byte (health checks included) counts against
the operator's daily budget. When a condition goes away the work is cancelled at once; nothing is lost, since an
item leaves the outbox only once the station confirmed it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from appliance.component import Check, Component, Status
from appliance.groundlink.budget import RoamingLedger, RoamingMeter
from appliance.groundlink.certificates import CertificateStep
from appliance.groundlink.client import BudgetExhausted, GroundClient
from appliance.groundlink.config import GroundlinkConfig
from appliance.groundlink.delivery import Delivery
from appliance.groundlink.logbuffer import RecentLogs
from appliance.groundlink.metrics import GroundlinkMetrics
from appliance.groundlink.schedule import ScheduleStore
from appliance.groundlink.work import HOME, WindowWork
from appliance.metrics import Metrics
from appliance.ports import (
    BootInfo,
    ContentUpdater,
    FlightView,
    ModemView,
    Outbox,
    ReleaseUpdater,
    TimeAnchor,
    Trust,
    TrustRefresh,
)
from appliance.tasks import cancel_and_wait, wait_event
from appliance.timebase import Clock

log = logging.getLogger("appliance.groundlink")


class GroundLink(WindowWork):
    name = "groundlink"

    def __init__(
        self,
        config: GroundlinkConfig,
        clock: Clock,
        metrics: Metrics,
        *,
        state_dir: Path,
        flight: FlightView | None = None,
        modem: ModemView | None = None,
        outbox: Outbox | None = None,
        time_anchor: TimeAnchor | None = None,
        components: Callable[[], list[Component]] = list,
        boot: BootInfo | None = None,
        content: ContentUpdater | None = None,
        trust: Trust | None = None,
        updater: ReleaseUpdater | None = None,
        rng: random.Random | None = None,
        certificate: CertificateStep | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.metrics = metrics
        self.series = metrics.of(GroundlinkMetrics)
        self.flight = flight
        self.modem = modem
        self.outbox = outbox
        self.time_anchor = time_anchor
        self.components = components
        self.boot = boot
        self._process_id = uuid.uuid4().hex  # telemetry keys when there is no boot bookkeeping
        self.content = content
        self.trust = trust
        self.updater = updater  # releases: after the content, in the window, checked against the signed targets
        self.last_release: dict[str, Any] = {}
        self.certificate = certificate  # the HTTPS certificate: the on-board key's CSR out, the signed one back
        self.last_trust: TrustRefresh | None = None
        self.rng = rng or random.Random()
        self.roaming = RoamingLedger(state_dir / "groundlink-roaming.json", clock)
        self.schedule = ScheduleStore(state_dir / "schedule.json")
        self.client: GroundClient | None = None
        self.delivery: Delivery | None = None
        self.open = False
        self.reason = "not started"
        self.mode = HOME  # HOME or the roaming operator's MCC+MNC
        self.windows = 0
        self.cycles = 0
        self.last_success: float | None = None  # wall time of the station's last 2xx
        self.last_error = ""
        self.errors = 0
        self.clock_skew: float | None = None
        self.telemetry_sent = 0
        self.content_runs = 0
        self.last_content: dict[str, Any] = {}
        self.logs = RecentLogs(clock)
        self._logs_sent = 0  # number of the last log line a telemetry summary carried
        self.last_report: dict[str, Any] = {}
        self._session: aiohttp.ClientSession | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._work: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._full_due = False
        self._full_at = float("inf")  # monotonic: the next full cycle while the window stays open
        self._drain_after = 0.0  # monotonic: no outbox cycle before (after a cycle that gave up)
        self._health_at = 0.0
        self._drain_failures = 0

    # --- lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        logging.getLogger("appliance").addHandler(self.logs)
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32, keepalive_timeout=60))
        self.client = GroundClient(self.config.url, self._session, self.metrics)
        if self.outbox is not None:
            self.delivery = Delivery(self.outbox, self.client, self.config, self.metrics, self.rng)
        self._supervisor = asyncio.create_task(self._supervise(), name="groundlink")

    async def stop(self) -> None:
        await cancel_and_wait(self._supervisor)
        self._supervisor = None
        await self._close("stopped")
        if self._session is not None:
            await self._session.close()
            self._session = None
        logging.getLogger("appliance").removeHandler(self.logs)

    def request_sync(self) -> dict[str, Any]:
        """"Sync now" (maintenance API): a full cycle (outbox, telemetry, content) as soon as the window allows."""
        self._full_due = True
        self._drain_after = 0.0
        self._health_at = 0.0
        self._wake.set()
        return {"requested": True, "window": "open" if self.open else "closed", "reason": self.reason}

    # --- the window --------------------------------------------------------------------------------------

    def conditions(self) -> str:
        """Why the window is closed, or "" when the aircraft is on the ground with a registered modem."""
        if self.flight is None:
            if self.config.flight_required:
                return "no flight state"
        else:
            on_ground = self.flight.on_ground
            if on_ground is None:
                return "on ground unknown"
            if not on_ground:
                return "in the air"
        if self.modem is None:
            if self.config.modem_required:
                return "no modem"
        elif not self.modem.registered:
            return f"modem not registered (state {self.modem.state})"
        return ""

    def current_mode(self) -> str:
        if self.modem is not None and self.modem.roaming:
            return self.modem.operator or "unknown"
        return HOME

    def _meter(self, mode: str) -> RoamingMeter | None:
        if mode == HOME:
            return None
        return RoamingMeter(self.roaming, mode, self.config.roaming_budget(mode))

    async def _supervise(self) -> None:
        while True:
            try:
                await self.step()
            except Exception as problem:  # a bug here must not end the window logic for good
                log.exception("ground link step failed")
                self._note_error(f"{type(problem).__name__}: {problem}")
            await wait_event(self._wake, self.config.poll_seconds)
            self._wake.clear()

    async def step(self) -> None:
        """Evaluate the window once: close it, open it, start or cancel the work."""
        reason = self.conditions()
        if reason:
            await self._close(reason)
            return
        mode = self.current_mode()
        if self.open and mode != self.mode:  # home <-> roaming: start again under the new rules
            await self._cancel_work()
            self._full_due = True
            self.reason = "open" if mode == HOME else f"open, roaming on {mode}"
            self._drain_after = 0.0
        assert self.client is not None
        self.client.meter = self._meter(mode)
        self.mode = mode
        idle = self._work is None or self._work.done()
        if not self.open or (idle and self.clock.monotonic() >= self._health_at):
            problem = await self._health()
            if problem:
                await self._close(problem)
                return
            if not self.open:
                self._open()
        if idle and self._work_due():
            full = self._full_due
            self._full_due = False
            self._work = asyncio.create_task(self._cycle(full, mode), name="groundlink-cycle")

    def _work_due(self) -> bool:
        if self.clock.monotonic() >= self._full_at:
            self._full_due = True
        if self._full_due:
            self._full_at = self.clock.monotonic() + self.config.full_cycle_seconds
            return True
        pending = self.outbox is not None and any(self.outbox.counts().values())
        return pending and self.clock.monotonic() >= self._drain_after

    async def _health(self) -> str:
        assert self.client is not None
        self._health_at = self.clock.monotonic() + self.config.health_seconds
        try:
            reply = await self.client.request("GET", self.config.health_path, time_limit=self.config.health_timeout)
        except BudgetExhausted as exhausted:
            return str(exhausted)
        except (aiohttp.ClientError, TimeoutError) as problem:
            return f"ground station unreachable: {type(problem).__name__} {problem}".strip()
        if reply.status != 200:
            return f"ground station unhealthy: HTTP {reply.status}"
        self.last_success = self.clock.wall()
        return ""

    def _open(self) -> None:
        self.open = True
        self.windows += 1
        self.reason = "open" if self.mode == HOME else f"open, roaming on {self.mode}"
        self._full_due = True
        self._full_at = self.clock.monotonic() + self.config.full_cycle_seconds
        self._drain_after = 0.0
        self.series.groundlink_window_open.set(1)
        log.info("ground window %s", self.reason)

    async def _close(self, reason: str) -> None:
        await self._cancel_work()
        if self.open:
            log.info("ground window closed: %s", reason)
        self.open = False
        self.reason = reason
        self.series.groundlink_window_open.set(0)

    async def _cancel_work(self) -> None:
        if self._work is not None:
            self._work.cancel()
            await asyncio.gather(self._work, return_exceptions=True)
            self._work = None
        if self.client is not None and self.client.meter is not None:
            self.roaming.save()

    # --- health ------------------------------------------------------------------------------------------

    def window_open(self) -> bool:
        """Whether the ground window is open now (cheap: the portal asks on every order and welcome page)."""
        return self.open

    def snapshot(self) -> dict[str, Any]:
        delivery_errors = self.delivery.errors if self.delivery is not None else 0
        return {
            "window": "open" if self.open else "closed",
            "reason": self.reason,
            "mode": self.mode,
            "windows": self.windows,
            "cycles": self.cycles,
            "working": self._work is not None and not self._work.done(),
            "last_success": self.last_success,
            "backlog": self.outbox.counts() if self.outbox is not None else {},
            "dead_letters": self.outbox.dead_count() if self.outbox is not None else 0,
            "errors": self.errors + delivery_errors,
            "last_error": self.delivery.last_error if self.delivery and self.delivery.last_error else self.last_error,
            "last_drain": dict(self.last_report),
            "clock_skew": self.clock_skew,
            "telemetry_sent": self.telemetry_sent,
            "content_runs": self.content_runs,
            "trust": None if self.last_trust is None else {
                "ok": self.last_trust.ok, "refusal": self.last_trust.refusal, "problem": self.last_trust.problem,
                "versions": dict(self.last_trust.versions), "bytes": self.last_trust.bytes},
            "schedule": self.schedule.snapshot(),
            "certificate": self.certificate.snapshot() if self.certificate is not None else None,
            "last_content": {k: v for k, v in self.last_content.items() if isinstance(v, str | int | float | None)},
            "roaming_spent": self.roaming.snapshot(),
            "bytes": {
                "sent": self.client.bytes_sent if self.client else 0,
                "received": self.client.bytes_received if self.client else 0,
            },
        }

    def health(self) -> Check:
        details = self.snapshot()
        if self._supervisor is not None and self._supervisor.done():
            return Check(Status.FAIL, "the window supervisor stopped", details)
        if details["dead_letters"]:
            return Check(Status.WARN, f"{details['dead_letters']} order(s) refused by the ground", details)
        if self.open and self.last_report.get("gave_up"):
            return Check(Status.WARN, f"outbox delivery failing: {details['last_error']}", details)
        # an open window's reason starts with "open" ("open, roaming on 21407"): say it once
        text = f"window {self.reason}" if self.open else f"window closed: {self.reason}"
        return Check(Status.PASS, text, details)
