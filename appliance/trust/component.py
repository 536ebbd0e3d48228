"""The trust component (ports.TRUST): the pinned root, the trusted metadata in the state directory, and the
gate (appliance.trust.gate) in front of everything the ground link takes from the ground.

A missing or unreadable pinned root (`[trust] root`) is a broken image: the component's health fails, every
refresh answers `problem` and every check refuses, so nothing from the ground is accepted (the last good
content and schedule stay in use). `appliance run --sim` points `[trust] root` at the simulated station's
throwaway fleet repository, so a simulated run syncs through TUF.

Failure semantics: nothing here raises for what the ground served; a refusal is counted
(`appliance_trust_refusals_total{reason}`), warned in health with its reason until a refresh verifies again,
logged once per episode and reported in `telemetry()`. A link failure is a `problem`, not a refusal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from appliance import ports
from appliance.component import Check
from appliance.core.spec import Setup
from appliance.metrics import Metrics
from appliance.ports import TrustedTime, TrustRefresh
from appliance.timebase import Clock
from appliance.trust.config import TrustConfig
from appliance.trust.metrics import TrustMetrics
from appliance.trust.refusal import Refusal

if TYPE_CHECKING:  # python-tuf is imported with the gate, at the first ground window (see _gate_for)
    from appliance.trust.client import TrustedMetadata
    from appliance.trust.gate import TrustGate

log = logging.getLogger("appliance.trust")


class TrustComponent:
    name = "trust"

    def __init__(self, config: TrustConfig, clock: Clock, metrics: Metrics, *, state_dir: Path,
                 time: TrustedTime | None = None) -> None:
        self.config = config
        self.clock = clock
        self.metrics = metrics
        self.time = time
        self.metadata_dir = config.metadata_path(state_dir)
        self.pinned: bytes | None = None
        self.root_problem: str | None = "not started"
        self.gate: TrustGate | None = None
        self._base = ""
        self._session: aiohttp.ClientSession | None = None
        self.last: TrustRefresh | None = None
        for reason in Refusal:  # every reason's sample (0) from the first scrape
            metrics.of(TrustMetrics).trust_refusals.labels(reason=reason.value)

    # --- lifecycle -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            self.pinned = await asyncio.to_thread(Path(self.config.root).read_bytes)
            self.root_problem = None
        except OSError as error:
            self.root_problem = f"no pinned root at {self.config.root} ({error.strerror or error}): nothing " \
                                "from the ground is accepted"
            log.error("trust: %s", self.root_problem)
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=4))

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def reference_time(self) -> float:
        """The trusted time expiry is judged at (TimeKeeper.now(), never the raw RTC when storage is there)."""
        return self.time.now() if self.time is not None else self.clock.wall()

    def _gate_for(self, base_url: str) -> TrustGate | None:
        if self.pinned is None or self._session is None:
            return None
        base = base_url.rstrip("/") + self.config.path
        if self.gate is None or base != self._base:
            # Imported here: python-tuf and securesystemslib cost ~70 ms of start-up and 2.5 MB of RSS, and
            # nothing before the first ground window needs them (bench_ops; tests/architecture/test_startup_imports.py).
            from appliance.trust.client import TrustedMetadata
            from appliance.trust.fetcher import LoopFetcher
            from appliance.trust.gate import TrustGate

            fetcher = LoopFetcher(self._session, asyncio.get_running_loop(), read_timeout=self.config.read_timeout_s,
                                  min_rate=self.config.min_rate_bps, rate_grace=self.config.rate_grace_s)
            trusted = TrustedMetadata(self.metadata_dir, self.pinned, f"{base}/metadata/", f"{base}/targets/",
                                      fetcher=fetcher)
            previous = self.gate
            self.gate = TrustGate(trusted, self.metrics)
            if previous is not None:  # the same reporting across a change of URL
                self.gate.refusals = previous.refusals
            self._base = base
        return self.gate

    # --- ports.Trust ---------------------------------------------------------------------------------------

    async def refresh(self, base_url: str) -> TrustRefresh:
        gate = self._gate_for(base_url)
        if gate is None:
            self.last = TrustRefresh(False, problem=self.root_problem or "not started")
            return self.last
        outcome = await gate.refresh(self.reference_time())
        problem = outcome.link_error or outcome.disk_error
        self.last = TrustRefresh(outcome.ok, refusal=outcome.refusal.value if outcome.refusal else None,
                                 problem=problem, versions=dict(outcome.versions), bytes=outcome.bytes,
                                 cpu_seconds=outcome.cpu_seconds)
        return self.last

    def signed(self) -> TrustedMetadata | None:
        return self.gate.trusted if self.gate is not None else None

    def check_document(self, target: str, data: bytes) -> str | None:
        if self.gate is None:
            return Refusal.UNKNOWN_TARGET.value
        refusal = self.gate.check_bytes(target, data, self.reference_time())
        return refusal.value if refusal is not None else None

    def check_entries(self, prefix: str, entries: Sequence[tuple[str, int, str]]) -> str | None:
        if self.gate is None:
            return Refusal.UNKNOWN_TARGET.value
        from appliance.trust.gate import Entry  # loaded with the gate

        problems = self.gate.check_entries(prefix, [Entry(path, size, sha) for path, size, sha in entries])
        return problems[0][1].value if problems else None

    def check_file(self, target: str, local: Path) -> str | None:
        if self.gate is None:
            return Refusal.UNKNOWN_TARGET.value
        refusal = self.gate.check_file(target, local)
        return refusal.value if refusal is not None else None

    # --- reporting -----------------------------------------------------------------------------------------

    def health(self) -> Check:
        if self.root_problem is not None:
            return Check.failing(self.root_problem)
        if self.gate is None:
            return Check.passing("pinned root loaded; no ground window yet")
        return self.gate.health()

    def telemetry(self) -> dict[str, Any]:
        if self.gate is None:
            return {"versions": {}, "refusing": None, "refusals": {}, "problem": self.root_problem}
        return self.gate.telemetry() | {"problem": self.root_problem}

    def snapshot(self) -> dict[str, Any]:
        last = self.last
        return self.telemetry() | {
            "root": self.config.root,
            "metadata_dir": str(self.metadata_dir),
            "last_refresh": None if last is None else {"ok": last.ok, "refusal": last.refusal,
                                                       "problem": last.problem, "bytes": last.bytes,
                                                       "cpu_seconds": round(last.cpu_seconds, 4)},
        }


def build(setup: Setup[TrustConfig]) -> TrustComponent:
    component = TrustComponent(setup.config, setup.clock, setup.metrics,
                               state_dir=setup.require(ports.STATE_DIR).path,
                               time=setup.use(ports.TRUSTED_TIME))
    setup.provide(ports.TRUST, component)
    return component
