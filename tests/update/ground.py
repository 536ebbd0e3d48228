"""A ground for the update tests: the TUF repository (appliance trust init/publish, python-tuf) served by a
real aiohttp server on loopback, with Range requests answered and the bytes paced to a link rate (the 2 Mbit/s
of a 3G link), and per-path overrides (an attack: a wheel replaced by other bytes)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

Override = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class PacedServer:
    repo: Path
    rate: float = 0.0  # bytes/s; 0: as fast as loopback goes
    overrides: dict[str, Override] = field(default_factory=dict)
    body_bytes: int = 0  # body bytes sent of targets/
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        tail = request.match_info["tail"]
        for pattern, override in self.overrides.items():
            if re.search(pattern, tail):
                return await override(request)
        path = (self.repo / tail).resolve()
        if not path.is_relative_to(self.repo.resolve()) or not path.is_file():
            raise web.HTTPNotFound()
        data = path.read_bytes()
        status, body = 200, data
        match = re.fullmatch(r"bytes=(\d+)-(\d+)", request.headers.get("Range", ""))
        if match:
            first, last = int(match.group(1)), min(int(match.group(2)), len(data) - 1)
            status, body = 206, data[first : last + 1]
        response = web.StreamResponse(status=status, headers={"Content-Length": str(len(body))})
        if status == 206:
            response.headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
        await response.prepare(request)
        start = time.monotonic()
        for offset in range(0, len(body), 16384):
            piece = body[offset : offset + 16384]
            await response.write(piece)
            if tail.startswith("targets/"):
                self.body_bytes += len(piece)
            if self.rate > 0:
                due = start + (offset + len(piece)) / self.rate - time.monotonic()
                if due > 0:
                    await asyncio.sleep(due)
        await response.write_eof()
        return response


@contextlib.asynccontextmanager
async def serve(repo: Path, rate: float = 0.0) -> AsyncIterator[PacedServer]:
    server = PacedServer(repo, rate)
    app = web.Application()
    app.router.add_get("/tuf/{tail:.+}", server.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.url = f"http://127.0.0.1:{runner.addresses[0][1]}/tuf"
    try:
        yield server
    finally:
        await runner.cleanup()
