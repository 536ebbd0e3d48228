"""Helpers for the content tests: source trees, bundles, a ground station serving them through a link."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from appliance.content.manifest import Manifest
from appliance.content.pack import pack, publish
from firmware_sim.ground.content import ContentServer, add_content_routes
from firmware_sim.ground.link import LinkModel

KIB = 1024


def write_tree(root: Path, files: dict[str, int | bytes], seed: int = 1) -> None:
    """Files of the given sizes (random bytes, reproducible) or contents."""
    rng = random.Random(seed)
    for rel, spec in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(spec if isinstance(spec, bytes) else rng.randbytes(spec))


def make_bundle(ground: Path, name: str, files: dict[str, int | bytes], seed: int = 1) -> Manifest:
    """Pack a bundle under `ground/<name>` and publish it as current in `ground/index.json`."""
    src = ground.parent / f"src-{name}"
    write_tree(src, files, seed)
    manifest = pack(src, ground / name, bundle_id=name)
    publish(ground, manifest, name)
    return manifest


@dataclass
class Ground:
    url: str
    content: ContentServer
    link: LinkModel


@asynccontextmanager
async def serve_ground(bundles_dir: Path, link: LinkModel | None = None) -> AsyncIterator[Ground]:
    app = web.Application()
    server = add_content_routes(app, bundles_dir, link or LinkModel())
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield Ground(f"http://127.0.0.1:{port}", server, server.link)
    finally:
        await runner.cleanup()


async def wait_until(predicate: Callable[[], bool], seconds: float, step: float = 0.05) -> bool:
    """Poll `predicate` until it holds or `seconds` pass; whether it held."""
    for _ in range(int(seconds / step) + 1):
        if predicate():
            return True
        await asyncio.sleep(step)
    return predicate()
