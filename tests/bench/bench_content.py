"""Content store and content sync benchmarks.

- boot-time check of 20,000 content files after a clean shutdown (goal < 1 s);
- full re-hash throughput against `sha256sum` on the same files (goal >= 0.9x);
- a content update over the simulated link (2 Mbit/s, 150 ms RTT, about 30 s): bytes on the link against
  the bytes that changed (goal <= 1.02x), and link utilisation (goal >= 0.9).
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from appliance.content.check import Checker
from appliance.content.manifest import Manifest
from appliance.content.pack import pack, publish
from appliance.content.store import ContentStore
from appliance.content.sync import ContentSync
from firmware_sim.ground.link import LinkModel
from tests.bench import ROUNDS, Figure, Rounds
from tests.content_support import serve_ground, write_tree

FILES = 20_000
MIB = 1024 * 1024
LINK_BPS = 2_000_000
RTT_S = 0.150
SYNC_SECONDS = 30


def _small_tree(root: Path, count: int) -> None:
    rng = random.Random(3)
    for i in range(count):
        path = root / f"newspapers/issue{i // 500:03d}/page{i:05d}.html"
        if i % 500 == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(rng.randint(1024, 12 * 1024)))


def _big_tree(root: Path) -> None:
    rng = random.Random(4)
    for i in range(4):
        path = root / f"videos/film{i}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as out:
            for _ in range(32):
                out.write(rng.randbytes(MIB))


def _install(store: ContentStore, src: Path, bundle_id: str) -> Path:
    store.ensure_layout()
    manifest = pack(src, store.staging / "in", bundle_id=bundle_id)
    return store.install(store.staging / "in", manifest)


def _sha256sum_seconds(files: list[Path]) -> float:
    started = time.perf_counter()
    for start in range(0, len(files), 2000):
        batch = [str(p) for p in files[start : start + 2000]]
        subprocess.run(["sha256sum", *batch], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _store_figures(work: Path) -> list[Figure]:
    figures: list[Figure] = []
    src = work / "src"
    _small_tree(src, FILES)
    _big_tree(src)
    store = ContentStore(work / "content")
    root = _install(store, src, "bench")
    Checker(store).check(full=False, repair=False)  # the install's first check fills the stat cache

    times = []
    for _ in range(3):
        started = time.perf_counter()
        fresh = ContentStore(store.root)
        fresh.recover()
        report = Checker(fresh).check(full=False, repair=True)
        times.append(time.perf_counter() - started)
        assert report.files == FILES + 4 and report.hashed_files == 0 and not report.problems
    boot = min(times)
    figures.append(
        Figure("boot-time check, 20,000 files + 4 films, clean shutdown", boot, "s", goal="< 1 s", met=boot < 1.0)
    )

    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "manifest.json")
    total = sum(p.stat().st_size for p in files)
    _sha256sum_seconds(files)  # warm the page cache for both
    rounds = Rounds()
    for i in range(ROUNDS):  # alternating ABBA: the machine's load hits both alike
        if i % 2:
            rounds.reference.append(total / _sha256sum_seconds(files) / 1e6)
        report = Checker(ContentStore(store.root)).check(
            full=True, repair=False, workers=os.cpu_count() or 2, processes=True
        )
        assert report.hashed_bytes == total
        rounds.ours.append(total / report.seconds / 1e6)
        if not i % 2:
            rounds.reference.append(total / _sha256sum_seconds(files) / 1e6)
    figures.append(
        Figure.from_rounds(
            f"full re-hash throughput ({total / 1e6:,.0f} MB in {len(files):,} files, page cache warm)",
            "MB/s",
            rounds,
            reference_name="sha256sum",
            goal=">= 0.9x sha256sum",
            met=lambda _v, r: r >= 0.9,
        )
    )
    return figures


def _common_prefix(a: bytes, b: bytes) -> int:
    limit = min(len(a), len(b))
    step = 4096
    n = 0
    while n < limit and a[n : n + step] == b[n : n + step]:
        n += step
    n = min(n, limit)
    while n < limit and a[n] == b[n]:
        n += 1
    return n


def _changed_bytes(old: Manifest, old_dir: Path, new: Manifest, new_dir: Path) -> int:
    """Bytes of the new bundle that the old one does not have at the same place (a common prefix counts as
    unchanged; everything else in a changed or new file counts as changed)."""
    old_paths = old.by_path()
    changed = 0
    for entry in new.files:
        if entry.path not in old_paths:
            changed += entry.size
            continue
        a = (old_dir / entry.path).read_bytes()
        b = (new_dir / entry.path).read_bytes()
        prefix = _common_prefix(a, b)
        changed += len(b) - prefix
    return changed


async def _sync_figures(work: Path) -> list[Figure]:
    ground = work / "ground"
    budget_bytes = LINK_BPS // 8 * SYNC_SECONDS  # what the link carries in SYNC_SECONDS
    old_files: dict[str, int | bytes] = {
        "catalog.json": b'{"issue": 1}',
        **{f"newspapers/d1/p{i}.pdf": 150_000 + i * 1000 for i in range(10)},
        **{f"videos/v{i}.mp4": 3 * MIB + i * 777 for i in range(6)},
    }
    write_tree(work / "src-old", old_files, seed=11)
    old = pack(work / "src-old", ground / "v1", bundle_id="v1")
    publish(ground, old, "v1")
    # the update: today's newspapers replace yesterday's, two new films, one film withdrawn, a new catalog
    new_src = work / "src-new"
    shutil.copytree(work / "src-old", new_src)
    shutil.rmtree(new_src / "newspapers/d1")
    (new_src / "videos/v5.mp4").unlink()
    news = budget_bytes * 3 // 10
    films = budget_bytes - news - 20_000
    write_tree(
        new_src,
        {"catalog.json": b'{"issue": 2, "films": 7}'}
        | {f"newspapers/d2/p{i}.pdf": news // 12 for i in range(12)}
        | {"videos/new1.mp4": films // 2, "videos/new2.mp4": films - films // 2},
        seed=12,
    )
    new = pack(new_src, ground / "v2", bundle_id="v2")
    changed = _changed_bytes(old, ground / "v1", new, ground / "v2")

    store = ContentStore(work / "store")
    link = LinkModel()
    async with serve_ground(ground, link) as station:
        first = await ContentSync(store, station.url).sync()
        assert first.status == "activated", first
        publish(ground, new, "v2")
        link.bandwidth_bps = LINK_BPS
        link.rtt_s = RTT_S
        sent_before, busy_before = link.bytes_sent, link.busy_s
        started = time.perf_counter()
        result = await ContentSync(store, station.url, concurrency=3).sync()
        elapsed = time.perf_counter() - started
        assert result.status == "activated", result
    transferred = link.bytes_sent - sent_before
    utilisation = (link.busy_s - busy_before) / elapsed
    return [
        Figure(
            f"content update over 2 Mbit/s, 150 ms RTT: link bytes vs bytes changed ({elapsed:.0f} s sync)",
            transferred / changed,
            "x",
            reference=float(changed),
            reference_name="bytes changed",
            ratio=transferred / changed,
            goal="<= 1.02x",
            met=transferred / changed <= 1.02,
        ),
        Figure(
            "link utilisation during the sync (3 range requests in flight)",
            utilisation,
            "of capacity",
            goal=">= 0.9",
            met=utilisation >= 0.9,
        ),
    ]


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="bench-content-", dir=os.environ.get("BENCH_TMP")) as tmp:
        work = Path(tmp)
        figures = _store_figures(work / "store")
        figures += asyncio.run(_sync_figures(work / "sync"))
    return figures
