"""Shared pieces of the trust tests: a ground repository on disk, a real aiohttp server serving it (with
per-path attack overrides), and an aircraft-side TrustedMetadata refreshing through a LoopFetcher."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web

from appliance.trust import repo as ground
from appliance.trust.client import RefreshOutcome, TrustedMetadata
from appliance.trust.fetcher import LoopFetcher

NOW = datetime(2026, 1, 1, tzinfo=UTC)  # when the ground signs; the aircraft's reference times are around it
T_NOW = NOW.timestamp() + 3600.0  # a trusted time an hour after signing

Override = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Ground:
    keys: Path
    repo: Path
    clock: datetime = NOW

    def init(self, **kwargs: int) -> None:
        ground.init(self.keys, self.repo, now=self.clock, **kwargs)

    def publish(self, *paths: Path, prefix: str = "") -> list[str]:
        self.clock += timedelta(minutes=1)
        return ground.publish(self.keys, self.repo, list(paths), prefix=prefix, now=self.clock)

    def rotate(self, role: str) -> None:
        self.clock += timedelta(minutes=1)
        ground.rotate(self.keys, self.repo, role, now=self.clock)

    def metadata(self, name: str) -> Path:
        return self.repo / "metadata" / name

    def pinned_root(self) -> Path:
        return self.metadata("1.root.json")


@dataclass
class RepoServer:
    """Serves REPODIR at /tuf/ as static files; `overrides[path]` replaces one path's answer (an attack)."""

    repo: Path
    overrides: dict[str, Override] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        tail = request.match_info["tail"]
        self.requests.append(tail)
        if tail in self.overrides:
            return await self.overrides[tail](request)
        path = (self.repo / tail).resolve()
        if not path.is_relative_to(self.repo.resolve()) or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)


@contextlib.asynccontextmanager
async def serve(repo: Path) -> AsyncIterator[RepoServer]:
    server = RepoServer(repo)
    app = web.Application()
    app.router.add_get("/tuf/{tail:.+}", server.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)  # a stalling attack handler must not hold up teardown
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"http://127.0.0.1:{port}/tuf"
    try:
        yield server
    finally:
        await runner.cleanup()


@dataclass
class Aircraft:
    trusted: TrustedMetadata
    fetcher: LoopFetcher

    async def refresh(self, reference: float = T_NOW) -> RefreshOutcome:
        return await asyncio.to_thread(self.trusted.refresh, reference)


@contextlib.asynccontextmanager
async def aircraft(metadata_dir: Path, pinned_root: Path, base_url: str, *, read_timeout: float = 2.0,
                   min_rate: float = 256.0, rate_grace: float = 1.0) -> AsyncIterator[Aircraft]:
    async with aiohttp.ClientSession() as session:
        fetcher = LoopFetcher(session, asyncio.get_running_loop(), read_timeout=read_timeout, min_rate=min_rate,
                              rate_grace=rate_grace)
        yield Aircraft(TrustedMetadata.from_files(metadata_dir, pinned_root, base_url, fetcher), fetcher)


def bundle(directory: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (directory / rel).parent.mkdir(parents=True, exist_ok=True)
        (directory / rel).write_bytes(data)
    return directory
