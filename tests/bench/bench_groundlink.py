"""Outbox delivery over the simulated link (2 Mbit/s, 150 ms round trip) with 10,000 pending orders.

The outbox is the storage component's journaled one (every append and every confirmation fsynced), filled
before the clock starts. The ground station runs in its own process (`python -m firmware_sim`), so its work
does not count as ours.
Two figures against the link's own limit for the same protocol, measured in the same run:
- strict order per kind (one request in flight per kind, the default): the limit is one order per round trip
  per kind (plus its serialisation time);
- pipelined (`in_flight_per_kind = 64`): the limit is the bandwidth of the busier direction.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

from appliance.groundlink.client import GroundClient
from appliance.groundlink.config import GroundlinkConfig
from appliance.groundlink.delivery import Delivery
from appliance.metrics import Metrics
from appliance.ports import Outbox
from appliance.storage.component import StorageComponent
from appliance.storage.config import StorageConfig
from appliance.timebase import SystemClock
from tests.bench import Figure
from tests.conftest import python_module, subprocess_env

BANDWIDTH = 2_000_000
RTT = 0.150
ORDERS = 10_000
KINDS = ("booking", "offer", "email")
STRICT_SECONDS = 10.0
CEILING_SECONDS = 5.0
IN_FLIGHT = 64  # per kind: 192 in flight covers the bandwidth-delay product (~115 orders) with room


def control(address: str, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://{address}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


async def fill(outbox: Outbox) -> None:
    async def one(n: int) -> None:
        kind = KINDS[n % 3]
        await outbox.append(
            kind, {"kind": kind, "item": f"item-{n % 97:03d}", "email": f"passenger{n}@example.com", "seat": "23C"}
        )

    for start in range(0, ORDERS, 250):  # concurrent appends share fsyncs (group commit)
        await asyncio.gather(*(one(n) for n in range(start, min(ORDERS, start + 250))))


async def deliver(url: str, in_flight: int, seconds: float | None) -> tuple[int, float, float]:
    """(orders delivered, seconds, our CPU seconds)."""
    with tempfile.TemporaryDirectory(prefix="bench-groundlink-") as state:
        storage = StorageComponent(StorageConfig(dir=str(Path(state))), SystemClock(), Metrics(), lambda: None)
        await storage.start()
        try:
            outbox = storage.outbox
            await fill(outbox)
            config = GroundlinkConfig(url=url, in_flight_per_kind=in_flight, request_timeout=60.0)
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
                delivery = Delivery(outbox, GroundClient(url, session, Metrics()), config, Metrics())
                cpu, started = time.process_time(), time.monotonic()
                drain = asyncio.create_task(delivery.drain())
                try:
                    await asyncio.wait_for(asyncio.shield(drain), seconds)
                except TimeoutError:
                    drain.cancel()
                    await asyncio.gather(drain, return_exceptions=True)
                elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
            return ORDERS - sum(outbox.counts().values()), elapsed, cpu
        finally:
            await storage.stop()


def run() -> list[Figure]:
    process = subprocess.Popen(
        python_module("firmware_sim", "--control", "127.0.0.1:0"), stdout=subprocess.PIPE, env=subprocess_env()
    )
    try:
        assert process.stdout is not None
        endpoints = json.loads(process.stdout.readline())
        address, url = endpoints["control"], endpoints["groundlink.url"]
        # the ceiling of appliance + station with no link in between: what "limited by the link" is measured against
        ceiling, ceiling_s, _ = asyncio.run(deliver(url, IN_FLIGHT, CEILING_SECONDS))
        control(address, "PUT", "/ground/link", {"bandwidth_bps": BANDWIDTH, "rtt_ms": RTT * 1000})

        strict, strict_s, _ = asyncio.run(deliver(url, 1, STRICT_SECONDS))
        before = control(address, "GET", "/state")["ground"]["link"]
        piped, piped_s, cpu = asyncio.run(deliver(url, IN_FLIGHT, None))
        after = control(address, "GET", "/state")["ground"]["link"]
        received = control(address, "GET", "/ground/received?payloads=0")
    finally:
        process.terminate()
        process.wait(timeout=10)

    up = (after["bytes_received"] - before["bytes_received"]) / piped
    down = (after["bytes_sent"] - before["bytes_sent"]) / piped
    per_order_s = max(up, down) * 8 / BANDWIDTH
    bandwidth_limit = 1.0 / per_order_s
    strict_limit = len(KINDS) / (RTT + (up + down) * 8 / BANDWIDTH)
    strict_rate, piped_rate = strict / strict_s, piped / piped_s
    # the timed runs are stopped mid-way: orders in flight then were accepted but not confirmed
    done = ceiling + strict + piped
    assert done <= received["total"] <= done + 2 * IN_FLIGHT * len(KINDS), received["total"]
    ceiling_rate = ceiling / ceiling_s
    piped_ratio, strict_ratio = piped_rate / bandwidth_limit, strict_rate / strict_limit
    return [
        Figure(
            f"outbox delivery, pipelined (10,000 pending, {IN_FLIGHT} in flight per kind)",
            piped_rate,
            "orders/s",
            reference=bandwidth_limit,
            reference_name="link bandwidth limit",
            ratio=piped_ratio,
            goal="limited by the link: >= 0.9 of its limit",
            met=piped_ratio >= 0.9,
        ),
        Figure(
            "outbox delivery, strict order per kind (1 in flight per kind)",
            strict_rate,
            "orders/s",
            reference=strict_limit,
            reference_name="one order per round trip per kind",
            ratio=strict_ratio,
            goal="limited by the round trip: >= 0.9",
            met=strict_ratio >= 0.9,
        ),
        Figure(
            "appliance + station with no link in between (loopback, same in-flight)",
            ceiling_rate,
            "orders/s",
            reference=bandwidth_limit,
            reference_name="link bandwidth limit",
            ratio=ceiling_rate / bandwidth_limit,
            goal="above the link's limit",
            met=ceiling_rate > bandwidth_limit,
        ),
        Figure("HTTP bytes on the wire per order (up + down)", up + down, "bytes", goal="small"),
        Figure(
            "link utilisation, pipelined (busier direction)",
            piped_rate * per_order_s,
            "of capacity",
            goal=">= 0.9",
            met=piped_rate * per_order_s >= 0.9,
        ),
        Figure("appliance CPU per delivered order, pipelined", cpu / piped * 1e6, "µs", goal="below the link's share"),
    ]
