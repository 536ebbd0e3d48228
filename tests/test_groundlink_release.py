"""The ground link hands the updater its part of the window: after the passengers' content, against the
metadata verified in this cycle, and never when the refresh was refused; what the updater says goes into the
telemetry to the ground."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from appliance.ports import TrustRefresh
from tests.groundlink_support import MemoryOutbox, running_station
from tests.test_groundlink_window import Flight, Modem, link_on, until


class Signed:
    targets_url = "http://ground/tuf/targets/"

    def view(self) -> None:
        return None


class FakeTrust:
    """Verifies (or refuses) every refresh; lets every document through."""

    def __init__(self, ok: bool) -> None:
        self.ok = ok
        self.metadata = Signed()

    async def refresh(self, base_url: str) -> TrustRefresh:
        return TrustRefresh(self.ok, refusal=None if self.ok else "signature")

    def telemetry(self) -> dict[str, Any]:
        return {"versions": {}, "refusing": None if self.ok else "signature", "refusals": {}, "problem": None}

    def signed(self) -> Signed:
        return self.metadata

    def check_document(self, target: str, data: bytes) -> str | None:
        return None

    def check_entries(self, prefix: str, entries: Any) -> str | None:
        return None

    def check_file(self, target: str, local: Path) -> str | None:
        return None


class FakeUpdater:
    def __init__(self) -> None:
        self.calls: list[Any] = []

    async def window(self, session: Any, targets: Any, budget: Any = None) -> dict[str, Any]:
        self.calls.append(targets)
        return {"status": "up_to_date", "version": None}

    def telemetry(self) -> dict[str, Any]:
        return {"current": "0.1.0", "refused": {}}


async def test_the_updater_runs_in_the_window_against_the_verified_metadata(tmp_path: Path) -> None:
    async with running_station() as station:
        trust, updater = FakeTrust(ok=True), FakeUpdater()
        async with link_on(station, tmp_path, flight=Flight(True), modem=Modem(True), outbox=MemoryOutbox(),
                           trust=trust, updater=updater) as link:
            await until(lambda: bool(updater.calls), 15.0)
            assert updater.calls[0] is trust.metadata and link.last_release["status"] == "up_to_date"
        reports = station.ledger.report(True)["kinds"]["telemetry"]
        assert reports and reports[0]["payload"]["release"] == {"current": "0.1.0", "refused": {}}


async def test_a_refused_refresh_takes_no_release(tmp_path: Path) -> None:
    async with running_station() as station:
        trust, updater = FakeTrust(ok=False), FakeUpdater()
        async with link_on(station, tmp_path, flight=Flight(True), modem=Modem(True), outbox=MemoryOutbox(),
                           trust=trust, updater=updater) as link:
            await until(lambda: link.windows >= 1 and link.telemetry_sent >= 1, 15.0)
            await asyncio.sleep(0.3)  # the rest of the cycle
            assert updater.calls == [] and link.last_release == {}
