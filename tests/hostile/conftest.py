"""The hostile-client suite's rigs: the real passenger portal (tests.portal's PortalRig: real storage, content
store, alarms) and the real maintenance listener, both on loopback in this process; attackers as their own
processes (tests/hostile/attacker.py) connecting from other loopback addresses (127.0.0.0/8 is all local), so a
normal passenger on 127.0.0.1 is another device. `figures` records what an attack cost (descriptors, kernel
socket memory, RSS, latency), printed at the end of each test (`pytest -s` shows them)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest

from appliance import discretes
from appliance.component import Check
from appliance.maintenance.component import MaintenanceComponent
from tests.conftest import free_port, python_module, subprocess_env
from tests.maintenance_support import FakeDiscretes, Part, Scene, scene_for
from tests.ops_support import write_token
from tests.portal.conftest import PortalRig, start_rig

ORDER = {"kind": "booking", "item": "hotel-madrid", "email": "ana@example.com"}
BUDGET = 1.0  # seconds: a normal passenger's and an engineer's request under attack


@dataclass
class Maintenance:
    url: str
    token: str
    component: MaintenanceComponent
    ctx: Scene

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token if token is not None else self.token}"}


@contextlib.asynccontextmanager
async def maintenance_listener(tmp_path: Path, **section: Any) -> AsyncIterator[Maintenance]:
    token = write_token(tmp_path / "maintenance.token")
    port = free_port()
    (tmp_path / "state").mkdir(exist_ok=True)
    ctx = scene_for(tmp_path, port, **section)
    ctx.install(Part("avionics", True, Check.passing("fresh")))
    ctx.install(FakeDiscretes(), discretes.COMPONENT)  # its route: PUT /api/v1/outputs/{name}
    component = ctx.listener()
    await component.start()
    ctx.lifecycle.ready = True
    try:
        yield Maintenance(f"http://127.0.0.1:{port}", token, component, ctx)
    finally:
        await component.stop()


@contextlib.asynccontextmanager
async def portal(tmp_path: Path, **config: Any) -> AsyncIterator[PortalRig]:
    rig = await start_rig(tmp_path / "portal", **config)
    try:
        yield rig
    finally:
        await rig.stop()


class Attacker:
    """tests/hostile/attacker.py as a child process; `open` is its latest count of connections still open."""

    def __init__(self, mode: str, port: int, count: int, sources: list[str], seconds: float = 60.0) -> None:
        argv = python_module("tests.hostile.attacker", mode, "127.0.0.1", str(port), str(count),
                             ",".join(sources), str(seconds))
        self.process = subprocess.Popen(argv, env=subprocess_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        self.open = -1
        self.connected = -1

    async def started(self) -> dict[str, int]:
        line = await asyncio.wait_for(asyncio.to_thread(self._line), 60)
        self.connected = line["connected"]
        return line

    def _line(self) -> dict[str, int]:
        assert self.process.stdout is not None
        text = self.process.stdout.readline()
        assert text, "the attacker exited"
        value: dict[str, int] = json.loads(text)
        return value

    async def count_open(self) -> int:
        self.open = (await asyncio.wait_for(asyncio.to_thread(self._line), 10))["open"]
        return self.open

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


@contextlib.contextmanager
def attacking(mode: str, port: int, count: int, sources: list[str], seconds: float = 60.0) -> Iterator[Attacker]:
    attacker = Attacker(mode, port, count, sources, seconds)
    try:
        yield attacker
    finally:
        attacker.stop()


def sources(count: int, net: int = 2) -> list[str]:
    """`count` loopback addresses that are not 127.0.0.1 (each a spoofed device)."""
    return [f"127.0.{net}.{i}" for i in range(1, count + 1)]


def sockstat_tcp_kib() -> int:
    """The kernel's TCP socket memory (all sockets of this host), /proc/net/sockstat `mem` (pages), in KiB."""
    for line in Path("/proc/net/sockstat").read_text().splitlines():
        if line.startswith("TCP:"):
            parts = line.split()
            return int(parts[parts.index("mem") + 1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    return -1


@dataclass
class Figures:
    """What an attack cost the daemon (this process): descriptors, kernel TCP memory, RSS, latencies."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)

    def snapshot(self, label: str) -> None:
        me = psutil.Process()
        self.values[f"{label}.fds"] = me.num_fds()
        self.values[f"{label}.rss_mib"] = round(me.memory_info().rss / 2**20, 1)
        self.values[f"{label}.tcp_kernel_kib"] = sockstat_tcp_kib()

    def latency(self, label: str, seconds: float) -> None:
        self.values[f"{label}.latency_ms"] = round(seconds * 1000, 1)

    def dump(self) -> str:
        return json.dumps({"attack": self.name, **self.values}, sort_keys=True)


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    f = Figures(request.node.name)
    yield f
    print("\nFIGURES " + f.dump())
    request.node.user_properties.append(("figures", f.dump()))


async def timed(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> tuple[int, float]:
    """Status and seconds of one request on a fresh connection, failing past BUDGET (as a passenger's wait)."""
    started = time.monotonic()
    async with asyncio.timeout(BUDGET * 3):
        async with session.request(method, url, **kwargs) as r:
            await r.read()
            return r.status, time.monotonic() - started


async def normal_passenger_and_engineer(rig: PortalRig, maintenance: Maintenance, figures: Figures,
                                        label: str, email: str = "ana@example.com") -> None:
    """A passenger on 127.0.0.1 (another device than the attackers) gets the flight and orders; an engineer
    gets /health: each within BUDGET, on fresh connections."""
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as s:
        status, seconds = await timed(s, "GET", rig.base + "/api/v1/flight")
        figures.latency(f"{label}.flight", seconds)
        assert status == 200 and seconds < BUDGET, (status, seconds)
        status, seconds = await timed(s, "POST", rig.base + "/api/v1/orders", json={**ORDER, "email": email})
        figures.latency(f"{label}.order", seconds)
        assert status == 201 and seconds < BUDGET, (status, seconds)
        status, seconds = await timed(s, "GET", maintenance.url + "/health", headers=maintenance.auth())
        figures.latency(f"{label}.health", seconds)
        assert status == 200 and seconds < BUDGET, (status, seconds)


@contextlib.contextmanager
def soft_nofile(limit: int) -> Iterator[None]:
    """This process's soft RLIMIT_NOFILE at `limit` (systemd's default soft limit is 1,024), restored after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
