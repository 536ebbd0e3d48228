"""The boot-time check is incremental: it re-hashes only what changed, plus what was being written when the
previous shutdown was not clean; the component quarantines and reports; file events make it quick; the
background re-hash finds silent corruption."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path

from pytest import MonkeyPatch

from appliance.component import Status
from appliance.content.check import Checker
from appliance.content.component import ContentComponent
from appliance.content.config import ContentConfig
from appliance.content.manifest import Manifest
from appliance.content.pack import pack
from appliance.content.statcache import STATCACHE
from appliance.content.store import ContentStore
from appliance.metrics import Metrics
from tests.content_support import KIB, wait_until, write_tree

FILES: dict[str, int | bytes] = {f"newspapers/p{i}.pdf": (i + 1) * 3 * KIB for i in range(20)} | {
    "videos/film.mp4": 700 * KIB
}


@dataclass
class Boot:
    """What storage's boot bookkeeping reports (appliance.ports.BootInfo)."""

    previous_shutdown_clean: bool
    boot_id: str = "boot-1"
    unsafe_shutdowns: int = 0
    last_shutdown_reason: str = "stop"


def install(tmp_path: Path) -> tuple[ContentStore, Path]:
    write_tree(tmp_path / "src", FILES)
    store = ContentStore(tmp_path / "content")
    store.ensure_layout()
    manifest = pack(tmp_path / "src", store.staging / "in", bundle_id="b1")
    return store, store.install(store.staging / "in", manifest)


def corrupt_keeping_stat(path: Path) -> None:
    """Flip a byte but put size and mtime back: only a hash can tell (lost write cache, bit rot)."""
    st = path.stat()
    with open(path, "r+b") as handle:
        handle.seek(10)
        byte = handle.read(1)
        handle.seek(10)
        handle.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_incremental_check_rehashes_only_what_changed(tmp_path: Path) -> None:
    store, root = install(tmp_path)
    first = Checker(store).check(full=False, repair=False)
    assert first.hashed_files == len(FILES) and not first.problems
    second = Checker(store).check(full=False, repair=False)  # a fresh checker: the cache was persisted
    assert second.hashed_files == 0 and not second.problems

    os.utime(root / "newspapers/p3.pdf", ns=(1, 1_000_000_000))  # touched, same content
    (root / "newspapers/p4.pdf").write_bytes(b"x" * (5 * 3 * KIB))  # rewritten, same size
    third = Checker(store).check(full=False, repair=False)
    assert third.hashed_files == 2
    assert [(p.kind, p.path) for p in third.problems] == [("corrupt", "newspapers/p4.pdf")]

    corrupt_keeping_stat(root / "newspapers/p5.pdf")
    assert not [p for p in Checker(store).check(full=False, repair=False).problems if p.path.endswith("p5.pdf")]
    full = Checker(store).check(full=True, repair=False)
    assert full.hashed_files == len(FILES)
    assert {p.path for p in full.problems} == {"newspapers/p4.pdf", "newspapers/p5.pdf"}


async def test_unclean_shutdown_rehashes_what_was_being_written(tmp_path: Path) -> None:
    store, root = install(tmp_path)
    assert store.writing() == {root.name}
    metrics = Metrics()
    config = ContentConfig(dir=str(store.root), rehash_mb_per_s=0, watch=False)

    clean_boot = ContentComponent(config, metrics, Boot(previous_shutdown_clean=True))
    await clean_boot.start()
    await clean_boot.stop()
    assert clean_boot.boot_report is not None and clean_boot.boot_report.hashed_files == len(FILES)
    assert store.writing() == set()  # verified: no longer "being written"

    # an install interrupted by a power cut: the list says what to distrust even though stats match
    store.mark_writing(root.name)
    corrupt_keeping_stat(root / "videos/film.mp4")
    clean_again = ContentComponent(config, metrics, Boot(previous_shutdown_clean=True))
    await clean_again.start()
    await clean_again.stop()
    assert clean_again.boot_report is not None and clean_again.boot_report.hashed_files == 0

    store.mark_writing(root.name)
    unclean = ContentComponent(config, metrics, Boot(previous_shutdown_clean=False))
    await unclean.start()
    await unclean.stop()
    report = unclean.boot_report
    assert report is not None and report.hashed_files == len(FILES)
    assert [(p.kind, p.path, p.repaired) for p in report.problems] == [("corrupt", "videos/film.mp4", True)]
    assert not (root / "videos/film.mp4").exists()
    assert store.damage() == {root.name: ["videos/film.mp4"]}
    assert metrics.registry.get_sample_value("appliance_fsck_errors", {"kind": "corrupt"}) == 1
    health = unclean.health()
    assert health.status is Status.WARN and "awaiting download" in health.reason

    no_boot_info = ContentComponent(config, metrics, None)  # unknown: treated as unclean
    store.mark_writing(root.name)
    await no_boot_info.start()
    await no_boot_info.stop()
    assert no_boot_info.boot_report is not None and no_boot_info.boot_report.hashed_files == len(FILES) - 1


async def test_file_events_make_the_store_notice_quickly(tmp_path: Path) -> None:
    store, root = install(tmp_path)
    config = ContentConfig(dir=str(store.root), rehash_mb_per_s=0, scan_interval_s=3600, watch=True)
    component = ContentComponent(config, Metrics(), Boot(previous_shutdown_clean=True))
    await component.start()
    try:
        assert component.health().status is Status.PASS
        (root / "newspapers/planted.exe").write_bytes(b"not from the ground")
        assert await wait_until(lambda: component.found == {"extra": 1}, 3.0), component.found
        assert not (root / "newspapers/planted.exe").exists()
        assert [p.name for p in store.quarantine.rglob("*") if p.is_file()] == ["planted.exe"]
    finally:
        await component.stop()


async def test_without_events_the_periodic_scan_still_finds_changes(tmp_path: Path) -> None:
    store, root = install(tmp_path)
    config = ContentConfig(dir=str(store.root), rehash_mb_per_s=0, scan_interval_s=0.3, watch=False)
    component = ContentComponent(config, Metrics(), Boot(previous_shutdown_clean=True))
    await component.start()
    try:
        (root / "videos/film.mp4").unlink()
        await asyncio.sleep(1.0)
        assert store.damage() == {root.name: ["videos/film.mp4"]}
    finally:
        await component.stop()


async def test_background_rehash_finds_silent_corruption(tmp_path: Path) -> None:
    store, root = install(tmp_path)
    config = ContentConfig(dir=str(store.root), rehash_mb_per_s=50, rehash_pause_s=0.1, watch=False)
    component = ContentComponent(config, Metrics(), Boot(previous_shutdown_clean=True))
    await component.start()
    try:
        corrupt_keeping_stat(root / "newspapers/p7.pdf")
        assert await wait_until(lambda: component.found.get("corrupt") == 1, 5.0), component.found
        assert not (root / "newspapers/p7.pdf").exists()
        assert component.rehash_passes >= 1
    finally:
        await component.stop()


async def test_background_rehash_waits_for_ready(tmp_path: Path) -> None:
    """The re-hash is background work: it starts once the daemon has sent READY=1, not during the start."""
    store, _ = install(tmp_path)
    ready = False
    config = ContentConfig(dir=str(store.root), rehash_mb_per_s=50, rehash_pause_s=0.1, watch=False)
    component = ContentComponent(config, Metrics(), Boot(previous_shutdown_clean=True), lambda: ready)
    await component.start()
    try:
        await asyncio.sleep(0.5)
        assert component.rehash_passes == 0
        ready = True
        assert await wait_until(lambda: component.rehash_passes >= 1, 5.0)
    finally:
        await component.stop()


def test_rate_limiter_bounds_the_background_rate() -> None:
    import threading
    import time

    from appliance.content.component import RateLimiter

    limiter = RateLimiter(2e6, threading.Event())  # 2 MB/s
    started = time.monotonic()
    for _ in range(8):
        limiter(128 * 1024)  # 1 MiB in all: about half a second
    assert time.monotonic() - started >= 0.45


def test_active_id_after_a_boot_check_parses_no_manifest(tmp_path: Path, monkeypatch: MonkeyPatch) -> None:
    """Health asks for the active bundle's id on the event loop (READY's STATUS= line among them): a boot's check
    that finds the bundle unchanged gives the store its id, so no manifest is parsed for it; a new install or a
    changed manifest is parsed again."""
    import appliance.content.store as store_module

    store, root = install(tmp_path)
    Checker(store).check(full=False, repair=False)  # the first check: manifest parsed, summary with its id
    parsed: list[Path] = []
    real_load = store_module.load_manifest

    def counting_load(bundle_dir: Path) -> Manifest:
        parsed.append(bundle_dir)
        return real_load(bundle_dir)

    monkeypatch.setattr(store_module, "load_manifest", counting_load)
    booted = ContentStore(store.root)  # the next boot: a new store and checker, the bundle unchanged
    assert Checker(booted).check(full=False, repair=False).hashed_files == 0
    assert booted.active_id() == "b1" and booted.active_id() == "b1" and parsed == []
    assert booted.active_manifest() is not None and len(parsed) == 1  # the files are parsed when asked for
    assert booted.active_manifest() is not None and len(parsed) == 1  # once

    # a stat cache from before ids were kept: the check parses once (in its thread) and keeps the id
    cache = json.loads((store.state / STATCACHE).read_bytes())
    del cache["bundles"][root.name]["bundle_id"]
    (store.state / STATCACHE).write_bytes(json.dumps(cache).encode())
    legacy = ContentStore(store.root)
    Checker(legacy).check(full=False, repair=False)
    assert json.loads((store.state / STATCACHE).read_bytes())["bundles"][root.name]["bundle_id"] == "b1"
    parsed.clear()
    assert legacy.active_id() == "b1" and parsed == []

    # a new bundle is activated (as another process, `appliance content install`, would): its id, not b1's
    manifest = pack(tmp_path / "src", store.staging / "in2", bundle_id="b2")
    ContentStore(store.root).install(store.staging / "in2", manifest)
    assert booted.active_id() == "b2" and len(parsed) == 1
    # what the store knew no longer matches the manifest on disk (another inode): parsed again
    active = booted.active_dir()
    assert active is not None
    booted.remember_manifest(active, [0, 0, 0], "stale")
    assert booted.active_id() == "b2" and len(parsed) == 2
