"""One ground window as the daemon runs it, for a fleet bundle of 2,000 files: the trust component's refresh,
then the content sync with the trust component as its verifier (index, manifest and every file checked
against the signed targets), both against one aiohttp server on loopback serving `/tuf/` (the signed
repository) and `/content/` (the bundles, with Range). The figures put the trust's bytes and CPU next to the
content sync's own bytes and time in the same run, for the first sync and for a typical daily update."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from appliance.content.pack import pack, publish
from appliance.content.store import ContentStore
from appliance.content.sync import ContentSync
from appliance.metrics import Metrics
from appliance.timebase import SystemClock
from appliance.trust import repo as trust_repo
from appliance.trust.component import TrustComponent
from appliance.trust.config import TrustConfig
from firmware_sim.ground.content import add_content_routes
from tests.bench import Figure
from tests.trust.support import T_NOW, Ground, RepoServer


class _Trusted:
    """The daemon's trusted time (storage's TimeKeeper) for a ground that signed at tests.trust.support.NOW."""

    def __init__(self) -> None:
        self.at = T_NOW

    def now(self) -> float:
        return self.at


async def measure(work: Path, make_tree: Callable[[Path], None], update: Callable[[Path], list[Path]]) -> list[Figure]:
    ground = Ground(work / "keys", work / "repo")
    ground.init()
    tree, bundles = work / "tree", work / "bundles"
    make_tree(tree)

    def edition(bundle_id: str, retire: str = "") -> None:
        """`appliance content pack --publish`, then `appliance trust publish --prefix content` retiring the
        edition before (so targets.json lists one bundle, not every bundle ever published)."""
        manifest = pack(tree, bundles / bundle_id, bundle_id=bundle_id, now=ground.clock)
        publish(bundles, manifest, bundle_id)
        ground.clock += timedelta(minutes=1)
        trust_repo.publish(ground.keys, ground.repo, [bundles / bundle_id, bundles / "index.json"],
                           prefix="content", now=ground.clock, retire=[retire] if retire else [])

    edition("day1")
    app = web.Application()
    add_content_routes(app, bundles)
    repo = RepoServer(ground.repo)
    app.router.add_get("/tuf/{tail:.+}", repo.handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    clock = _Trusted()
    trust = TrustComponent(TrustConfig(root=str(ground.pinned_root())), SystemClock(), Metrics(),
                           state_dir=work / "state", time=clock)
    store = ContentStore(work / "store")
    figures: list[Figure] = []
    try:
        await trust.start()
        for label in ("first window (empty aircraft)", "daily window (20 videos, 30 pages new)"):
            if label.startswith("daily"):
                update(tree)
                ground.clock += timedelta(days=1)
                clock.at += 86400
                edition("day2", retire="content/day1")
            cpu0, wall0 = time.process_time(), time.monotonic()
            refresh = await trust.refresh(url)
            assert refresh.ok, refresh
            trust_cpu = time.process_time() - cpu0
            cpu1, wall1 = time.process_time(), time.monotonic()
            result = await ContentSync(store, url, verifier=trust).sync()
            assert result.status == "activated", result
            sync_cpu, sync_wall = time.process_time() - cpu1, time.monotonic() - wall1
            share = refresh.bytes / max(1, result.bytes_downloaded)
            figures += [
                Figure(f"{label}: trust metadata bytes", refresh.bytes / 1024, "KiB",
                       reference=result.bytes_downloaded / 1024, reference_name="content sync bytes (KiB)",
                       ratio=share, goal="< 1 % of the update" if label.startswith("daily") else "",
                       met=share < 0.01 if label.startswith("daily") else None),
                Figure(f"{label}: trust refresh CPU", trust_cpu, "s", reference=sync_cpu,
                       reference_name="content sync CPU incl. signed checks (s)",
                       goal="< 0.2 s" if label.startswith("daily") else "",
                       met=trust_cpu < 0.2 if label.startswith("daily") else None),
                Figure(f"{label}: refresh + content sync wall time", time.monotonic() - wall0, "s",
                       reference=sync_wall, reference_name="content sync alone (s)"),
            ]
    finally:
        await trust.stop()
        await runner.cleanup()
    return figures
