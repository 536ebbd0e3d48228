"""Trust (TUF) cost per ground window for a fleet repository of 2,000 targets, served by a real aiohttp
server on loopback, fetched through the LoopFetcher the ground link will use:

1. first refresh of an aircraft (pinned root only): every metadata byte;
2. a daily window after a typical update (20 video files of 2 MB and 30 guide pages replaced): the metadata
   bytes and the CPU time the refresh costs, against the bytes of the update's own files (goal: < 1 % of them
   and < 0.2 s CPU);
3. a window with nothing new (timestamp only);
4. the same in a whole window as the daemon runs it (tests/bench/trust_window.py): the trust component's refresh
   next to the content sync's own bytes and time, the sync verifying every file against the signed targets.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from tests.bench import Figure
from tests.trust.support import T_NOW, Ground, aircraft, serve

TARGETS = 2000
VIDEOS = 20
VIDEO_BYTES = 2 * 1024 * 1024
PAGES = 30


def _fleet_tree(root: Path) -> None:
    for i in range(TARGETS):
        kind = "video" if i < 200 else "guide"
        path = root / kind / f"item-{i:04d}.{'ts' if kind == 'video' else 'html'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "video":
            with open(path, "wb") as f:
                f.truncate(64 * 1024)  # sparse: hashed like any file, cheap to make
        else:
            path.write_bytes(os.urandom(2048))


def _daily_update(root: Path) -> list[Path]:
    changed = []
    for i in range(VIDEOS):
        path = root / "video" / f"item-{i:04d}.ts"
        with open(path, "wb") as f:
            f.write(os.urandom(16))
            f.truncate(VIDEO_BYTES)
        changed.append(path)
    for i in range(200, 200 + PAGES):
        path = root / "guide" / f"item-{i:04d}.html"
        path.write_bytes(os.urandom(2048))
        changed.append(path)
    return changed


async def _measure(work: Path) -> list[Figure]:
    ground = Ground(work / "keys", work / "repo")
    ground.init()
    tree = work / "fleet"
    _fleet_tree(tree)
    started = time.process_time()
    ground.publish(tree, prefix="content")
    publish_cpu = time.process_time() - started
    targets_json = max((ground.repo / "metadata").glob("*.targets.json"), key=lambda p: int(p.name.split(".")[0]))
    figures = [Figure("ground publish of 2,000 targets (hash, copy, sign)", publish_cpu, "s CPU"),
               Figure("targets.json for 2,000 targets", targets_json.stat().st_size / 1024, "KiB")]
    async with serve(ground.repo) as server, aircraft(work / "trust", ground.pinned_root(), server.url) as plane:
        lag = 0.0
        running = True

        async def ticker() -> None:  # the event loop's responsiveness while ngclient works in its thread
            nonlocal lag
            loop = asyncio.get_running_loop()
            while running:
                before = loop.time()
                await asyncio.sleep(0.005)
                lag = max(lag, loop.time() - before - 0.005)

        tick = asyncio.create_task(ticker())
        first = await plane.refresh()
        running = False
        await tick
        assert first.ok, first
        figures.append(Figure("event-loop lag during the first refresh (ngclient in a thread)", lag * 1000, "ms",
                              goal="< 50 ms", met=lag < 0.05))
        figures.append(Figure("first refresh (pinned root -> all metadata)", first.bytes / 1024, "KiB"))
        figures.append(Figure("first refresh CPU", first.cpu_seconds, "s"))
        changed = _daily_update(tree)
        ground.clock += timedelta(days=1)
        ground.publish(*[p.parent for p in changed[:1]], prefix="content/fleet")  # videos dir: 200 targets
        ground.publish(*changed[VIDEOS:], prefix="content/fleet/guide")
        update_bytes = sum(p.stat().st_size for p in changed)
        window = await plane.refresh(T_NOW + 86400)
        assert window.ok, window
        share = window.bytes / update_bytes
        figures.append(Figure("daily window: metadata bytes", window.bytes / 1024, "KiB",
                              reference=update_bytes / 1024, reference_name="the update's files (KiB)",
                              ratio=share, goal="< 1 % of the update", met=share < 0.01))
        figures.append(Figure("daily window: trust CPU", window.cpu_seconds, "s", goal="< 0.2 s",
                              met=window.cpu_seconds < 0.2))
        idle = await plane.refresh(T_NOW + 86400 + 60)
        figures.append(Figure("window with nothing new: metadata bytes", idle.bytes / 1024, "KiB"))
        figures.append(Figure("window with nothing new: CPU", idle.cpu_seconds, "s"))
        started = time.process_time()
        for path in changed:
            rel = "content/fleet/" + path.relative_to(tree).as_posix()
            assert plane.trusted.verify_file(rel, path) is None, rel
        figures.append(Figure("verify the update's 50 files against the signed targets",
                              time.process_time() - started, "s CPU"))
    return figures


def run() -> list[Figure]:
    from tests.bench.trust_window import measure

    with tempfile.TemporaryDirectory(prefix="bench-trust-") as tmp:
        figures = asyncio.run(_measure(Path(tmp) / "metadata"))
        return figures + asyncio.run(measure(Path(tmp) / "window", _fleet_tree, _daily_update))
