"""Shared pieces of the ground-link tests: an in-memory Outbox (the appliance.ports.Outbox protocol, until the
storage component's journaled outbox is merged), a running ground station, a client on it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import aiohttp

from appliance.groundlink.client import GroundClient
from appliance.groundlink.config import GroundlinkConfig
from appliance.metrics import Metrics
from appliance.ports import OutboxItem
from firmware_sim.ground.station import GroundStation


class MemoryOutbox:
    """The Outbox protocol kept in memory, with a log of every call for assertions."""

    def __init__(self) -> None:
        self.items: dict[str, OutboxItem] = {}
        self.delivered: dict[str, Mapping[str, Any]] = {}
        self.dead: list[dict[str, Any]] = []
        self.attempts: list[tuple[str, str]] = []
        self._seq = 0

    async def append(self, kind: str, payload: Mapping[str, Any]) -> OutboxItem:
        self._seq += 1
        item = OutboxItem(str(uuid.uuid4()), self._seq, kind, dict(payload), 0.0)
        self.items[item.id] = item
        return item

    def pending(self, kind: str | None = None) -> list[OutboxItem]:
        return [i for i in self.items.values() if kind is None or i.kind == kind]

    async def mark_delivered(self, item_id: str, receipt: Mapping[str, Any]) -> None:
        del self.items[item_id]
        self.delivered[item_id] = receipt

    async def record_attempt(self, item_id: str, error: str) -> None:
        item = self.items[item_id]
        self.items[item_id] = replace(item, attempts=item.attempts + 1)
        self.attempts.append((item_id, error))

    async def dead_letter(self, item_id: str, reason: str) -> None:
        item = self.items.pop(item_id)
        self.dead.append({"id": item_id, "kind": item.kind, "reason": reason})

    def dead_letters(self) -> list[dict[str, Any]]:
        return list(self.dead)

    def dead_count(self) -> int:
        return len(self.dead)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.items.values():
            counts[item.kind] = counts.get(item.kind, 0) + 1
        return counts


def config(url: str, **overrides: Any) -> GroundlinkConfig:
    base: dict[str, Any] = {"url": url, "backoff_initial": 0.01, "backoff_max": 0.05, "request_timeout": 2.0}
    return GroundlinkConfig(**(base | overrides))


@asynccontextmanager
async def running_station() -> AsyncIterator[GroundStation]:
    station = GroundStation(publish_sample=False)
    await station.start()
    try:
        yield station
    finally:
        await station.stop()


@asynccontextmanager
async def ground_client(url: str, metrics: Metrics | None = None) -> AsyncIterator[GroundClient]:
    async with aiohttp.ClientSession() as session:
        yield GroundClient(url, session, metrics or Metrics())


def received_keys(station: GroundStation, kind: str) -> list[str]:
    return [station.ledger.accepted[k].key for k in station.ledger.by_kind.get(kind, [])]
