"""The daemon's real ground link, content and trust components (built from their specs as the daemon builds
them, over a real storage component) against the simulator's ground station, in one process: a test drives
the station's TUF knobs and watches what the aircraft installs, counts, reports and sends to the ground."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance import content, groundlink, storage, trust
from appliance.component import Check
from appliance.timebase import Clock
from firmware_sim.ground.station import GroundStation
from tests.component_rig import Rig, rig_for, started

SPECS = [storage.COMPONENT, trust.COMPONENT, content.COMPONENT, groundlink.COMPONENT]


@dataclass
class Plane:
    rig: Rig
    station: GroundStation | None  # None: a ground that is not the simulator (nginx)
    parts: dict[str, Any]

    @property
    def link(self) -> Any:
        return self.parts["groundlink"]

    @property
    def trust(self) -> Any:
        return self.parts["trust"]

    @property
    def content(self) -> Any:
        return self.parts["content"]

    def active(self) -> str | None:
        active_id: str | None = self.content.store.active_id()
        return active_id

    def refusals(self, reason: str) -> float:
        value = self.rig.metrics.registry.get_sample_value("appliance_trust_refusals_total", {"reason": reason})
        return value or 0.0

    def trust_health(self) -> Check:
        check: Check = self.trust.health()
        return check

    def telemetry(self) -> list[dict[str, Any]]:
        """The summaries the station received, oldest first."""
        assert self.station is not None
        entries = self.station.ledger.report()["kinds"].get("telemetry", [])
        return [e["payload"] for e in entries]

    async def sync(self, until: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
        """Ask for full cycles until `until()` holds (each cycle: clock, trust, outbox, telemetry, schedule,
        content)."""
        deadline = time.monotonic() + seconds
        while not until():
            if time.monotonic() > deadline:
                state = json.dumps({"link": self.link.snapshot(), "trust": self.trust.snapshot()}, default=str)
                raise AssertionError(f"timed out waiting for {what}: {state[:2000]}")
            if not self.link.snapshot()["working"]:
                self.link.request_sync()
            await asyncio.sleep(0.05)

    async def cycle(self) -> None:
        """One more full cycle, to its end."""
        before = self.link.cycles
        self.link.request_sync()
        deadline = time.monotonic() + 30
        while self.link.cycles == before or self.link.snapshot()["working"]:
            assert time.monotonic() < deadline, "no cycle ran"
            await asyncio.sleep(0.05)


@asynccontextmanager
async def plane(tmp_path: Path, url: str, root: Path, station: GroundStation | None = None, *,
                clock: Clock | None = None, groundlink_keys: dict[str, Any] | None = None,
                **trust_keys: Any) -> AsyncIterator[Plane]:
    """The four components syncing from the ground at `url`, pinning `root`, started in the daemon's order;
    `clock` is the board's (its wall is the RTC)."""
    document = {
        "storage": {"dir": str(tmp_path / "state")},
        "content": {"dir": str(tmp_path / "state" / "content")},
        "trust": {"root": str(root), "read_timeout_s": 1.0, "min_rate_bps": 4096.0, "rate_grace_s": 0.5,
                  **trust_keys},
        "groundlink": {"url": url, "poll_seconds": 0.05, "backoff_initial": 0.01, "backoff_max": 0.05,
                       "request_timeout": 2.0, "modem_required": False, "flight_required": False,
                       **(groundlink_keys or {})},
    }
    rig = rig_for(SPECS, document, **({"clock": clock} if clock is not None else {}))
    async with started(rig, SPECS) as parts:
        yield Plane(rig, station, parts)


@asynccontextmanager
async def plane_and_station(tmp_path: Path, *, root: Path | None = None, **keys: Any) -> AsyncIterator[Plane]:
    """A started simulated station (no sample edition) and the plane syncing from it."""
    station = GroundStation(publish_sample=False)
    await station.start()
    try:
        async with plane(tmp_path, station.url, root or station.tuf.pinned_root(), station, **keys) as p:
            yield p
    finally:
        await station.stop()
