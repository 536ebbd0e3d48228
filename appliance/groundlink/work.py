"""The work inside the ground window, one step per priority (GroundLink's base; link.py opens and closes the
window around it).

In priority order: the clock check (cheap, and records made in the window then carry a good time), then the
trust refresh (ports.TRUST: the TUF metadata, before anything else is taken from the ground), 1) the outbox,
2) the telemetry summary, 3) the schedule and content updates (newspapers before videos: the content sync fetches
in its manifest's priority order). With a trust service, the schedule and the content are taken only after a
refresh that verified in this cycle, and only if they are the signed targets (`schedule.json`, `content/...`); a
refusal keeps the last good ones (the trust component counts and reports it). Without one (a test building the
link alone) they are taken as they arrive. Roaming: only the outbox runs. A failing step is noted and the next
one still runs; the window's closing cancels the cycle, and nothing is lost, since an item leaves the outbox
only once the station confirmed it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from appliance.component import Component
from appliance.groundlink import telemetry
from appliance.groundlink.budget import RoamingLedger
from appliance.groundlink.certificates import CertificateStep
from appliance.groundlink.client import BudgetExhausted, GroundClient
from appliance.groundlink.clockcheck import ClockUnavailable, check_clock
from appliance.groundlink.config import GroundlinkConfig
from appliance.groundlink.delivery import Delivery, backoff_delay
from appliance.groundlink.logbuffer import RecentLogs
from appliance.groundlink.metrics import GroundlinkMetrics
from appliance.groundlink.schedule import ScheduleStore, ScheduleUnavailable, fetch_schedule
from appliance.ports import BootInfo, ContentUpdater, Outbox, ReleaseUpdater, TimeAnchor, Trust, TrustRefresh
from appliance.timebase import Clock

log = logging.getLogger("appliance.groundlink")

HOME = "home"


class WindowWork:
    """The steps of one cycle. The state they read and write is set up by GroundLink.__init__ (declared here
    for the type checker); `snapshot` is GroundLink's, sent with the telemetry."""

    config: GroundlinkConfig
    clock: Clock
    series: GroundlinkMetrics
    outbox: Outbox | None
    time_anchor: TimeAnchor | None
    components: Callable[[], list[Component]]
    boot: BootInfo | None
    content: ContentUpdater | None
    trust: Trust | None
    updater: ReleaseUpdater | None
    certificate: CertificateStep | None
    rng: random.Random
    roaming: RoamingLedger
    schedule: ScheduleStore
    client: GroundClient | None
    delivery: Delivery | None
    logs: RecentLogs
    snapshot: Callable[[], dict[str, Any]]
    _session: aiohttp.ClientSession | None
    _process_id: str
    # written by the steps (and shown by GroundLink.snapshot)
    reason: str
    cycles: int
    last_success: float | None
    last_error: str
    errors: int
    clock_skew: float | None
    telemetry_sent: int
    content_runs: int
    last_content: dict[str, Any]
    last_release: dict[str, Any]
    last_trust: TrustRefresh | None
    last_report: dict[str, Any]
    _logs_sent: int
    _health_at: float
    _drain_after: float
    _drain_failures: int

    async def _cycle(self, full: bool, mode: str) -> None:
        """One pass of the priorities. A failing step is noted and the next one still runs: a station without
        a clock or a broken telemetry endpoint must not keep the orders or the newspaper from moving."""
        self.cycles += 1
        roaming = mode != HOME
        try:
            if full and not roaming and self.config.clock_check:
                await self._guarded("clock check", self._clock_check())
            trusted = True
            if full and not roaming and self.trust is not None:
                trusted = await self._refresh_trust()
            if self.delivery is not None:
                await self._guarded("outbox", self._drain(mode))
            if roaming or not full:
                return
            if self.config.telemetry:
                await self._guarded("telemetry", self._send_telemetry())
            if not trusted:  # the last good schedule and content stay in use
                return
            if self.certificate is not None:
                await self._guarded("certificate", self._certificate())
            if self.config.schedule:
                await self._guarded("schedule", self._fetch_schedule())
            if self.content is not None:
                await self._guarded("content", self._update_content())
            if self.updater is not None and self.trust is not None:  # passengers' content first, then releases
                await self._guarded("release", self._update_release())
        finally:
            if roaming:
                self.roaming.save()
                self.series.groundlink_roaming_bytes.labels(operator=mode).set(self.roaming.spent_today(mode))

    async def _guarded(self, what: str, step: Awaitable[None]) -> None:
        try:
            await step
        except (aiohttp.ClientError, TimeoutError, BudgetExhausted, ClockUnavailable, ScheduleUnavailable) as problem:
            self._note_error(f"{what}: {type(problem).__name__}: {problem}")
            self._health_at = 0.0  # check the station again at the next step
        except Exception as problem:  # storage refusing a write, a bug: noted, the window logic goes on
            log.exception("ground link: %s failed", what)
            self._note_error(f"{what}: {type(problem).__name__}: {problem}")
            self._drain_after = self.clock.monotonic() + self.config.backoff_max

    async def _drain(self, mode: str) -> None:
        assert self.delivery is not None
        report = await self.delivery.drain()
        self.last_report = {
            "delivered": report.delivered,
            "dead_letters": report.dead,
            "gave_up": dict(report.gave_up),
            "budget_exhausted": report.budget_exhausted,
        }
        if report.delivered:
            self.last_success = self.clock.wall()
        if report.complete:
            self._drain_failures = 0
            return
        self._drain_failures += 1
        if report.gave_up:
            self._note_error(f"outbox: {next(iter(report.gave_up.values()))}")
        if report.budget_exhausted:
            self.reason = f"open, roaming on {mode}: {self.delivery.last_error}"
        # retried enough for now: the next outbox cycle waits, lower priorities go on
        self._drain_after = self.clock.monotonic() + backoff_delay(
            self._drain_failures, self.config.backoff_initial * 4, self.config.backoff_max, self.rng
        )

    async def _refresh_trust(self) -> bool:
        """The TUF metadata refresh; True when it verified (the trust component reports a refusal itself)."""
        assert self.trust is not None
        try:
            self.last_trust = await self.trust.refresh(self.config.url)
        except Exception as problem:  # a bug in the trust path: nothing from the ground is taken this cycle
            log.exception("ground link: trust refresh failed")
            self._note_error(f"trust: {type(problem).__name__}: {problem}")
            return False
        if not self.last_trust.ok:
            why = (self.last_trust.refusal and f"refused ({self.last_trust.refusal})") or self.last_trust.problem
            self._note_error(f"trust: {why}: keeping the last good schedule and content")
        return self.last_trust.ok

    async def _update_release(self) -> None:
        """The updater's part of the window: only against metadata verified in this cycle."""
        assert self.updater is not None and self.trust is not None and self._session is not None
        signed = self.trust.signed()
        if signed is None:
            return
        self.last_release = await self.updater.window(self._session, signed)
        if self.last_release.get("status") in ("failed", "refused"):
            self._note_error(f"release: {self.last_release.get('status')} {self.last_release.get('reason', '')}")

    async def _certificate(self) -> None:
        assert self.certificate is not None and self.client is not None
        problem = await self.certificate.run(self.client, self.trust, self._refresh_trust)
        if problem:
            self._note_error(problem)

    async def _update_content(self) -> None:
        assert self.content is not None
        self.last_content = await self.content.update(self.config.url, verifier=self.trust)
        self.content_runs += 1
        if self.last_content.get("status") in ("failed", "interrupted"):
            self._note_error(f"content: {self.last_content.get('error') or self.last_content.get('status')}")

    async def _fetch_schedule(self) -> None:
        assert self.client is not None
        await fetch_schedule(self.client, self.schedule, self.config.schedule_path, self.config.request_timeout,
                             self.clock.wall(), verifier=self.trust)

    async def _clock_check(self) -> None:
        assert self.client is not None
        reading = await check_clock(
            self.client, self.clock, self.time_anchor, self.config.time_path, self.config.request_timeout
        )
        self.clock_skew = reading.skew
        self.series.groundlink_clock_skew.set(reading.skew)

    async def _send_telemetry(self) -> None:
        assert self.client is not None
        number = self.telemetry_sent + 1
        boot_id = self.boot.boot_id if self.boot is not None else self._process_id
        report = telemetry.summary(
            boot_id=boot_id,
            number=number,
            wall=self.clock.wall(),
            components=self.components,
            outbox=self.outbox,
            link=self.snapshot(),
            logs=self.logs.since(self._logs_sent),
            trust=self.trust.telemetry() if self.trust is not None else None,
            release=self.updater.telemetry() if self.updater is not None else None,
        )
        last_line = self.logs.number
        headers = {"Idempotency-Key": f"telemetry-{boot_id}-{number}"}
        body = telemetry.encode(report)
        for attempt in range(1, 4):
            reply = await self.client.request(
                "POST", self.config.telemetry_path, body=body, headers=headers, time_limit=self.config.request_timeout
            )
            if 200 <= reply.status < 300:
                self.telemetry_sent = number
                self._logs_sent = last_line
                return
            self._note_error(f"telemetry: HTTP {reply.status}: {reply.error_text()}")
            if 400 <= reply.status < 500 and reply.status not in (408, 409, 425, 429):
                return
            await asyncio.sleep(backoff_delay(attempt, self.config.backoff_initial, self.config.backoff_max, self.rng))

    def _note_error(self, error: str) -> None:
        self.errors += 1
        self.last_error = error
        self.series.groundlink_requests.labels(outcome="error").inc()
