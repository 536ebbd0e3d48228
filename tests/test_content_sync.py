"""Content sync across cuts: resumes, refetches at most one chunk, never activates a half bundle, detects a
corrupt chunk, respects a byte budget, reuses what the store has."""

from __future__ import annotations

import asyncio
import contextlib
import random
from pathlib import Path

from appliance.content.manifest import CHUNK_SIZE, load_manifest
from appliance.content.store import ContentStore
from appliance.content.sync import ContentSync
from firmware_sim.ground.link import LinkModel
from tests.conftest import python_module, subprocess_env
from tests.content_support import KIB, make_bundle, serve_ground

FILES_V1: dict[str, int | bytes] = {
    "catalog.json": b'{"items": []}',
    "newspapers/today.pdf": 300 * KIB,
    "videos/film.mp4": 5 * CHUNK_SIZE + 1000,
    "videos/empty.bin": b"",
}


def staged_names(store: ContentStore) -> list[str]:
    return sorted(p.name for p in store.staging.iterdir()) if store.staging.exists() else []


async def test_first_sync_installs_and_activates(tmp_path: Path) -> None:
    manifest = make_bundle(tmp_path / "ground", "b1", FILES_V1)
    store = ContentStore(tmp_path / "store")
    async with serve_ground(tmp_path / "ground") as ground:
        result = await ContentSync(store, ground.url).sync()
        assert result.status == "activated", result
        assert store.active_id() == "b1"
        root = store.active_root()
        assert root is not None
        for entry in manifest.files:
            assert (root / entry.path).read_bytes() == (tmp_path / "ground" / "b1" / entry.path).read_bytes()
        assert result.bytes_downloaded == manifest.total_size
        assert staged_names(store) == []
        again = await ContentSync(store, ground.url).sync()
        assert again.status == "up_to_date"
        assert again.bytes_downloaded == 0


async def test_update_fetches_only_changed_chunks(tmp_path: Path) -> None:
    ground_dir = tmp_path / "ground"
    make_bundle(ground_dir, "b1", FILES_V1)
    store = ContentStore(tmp_path / "store")
    async with serve_ground(ground_dir) as ground:
        assert (await ContentSync(store, ground.url).sync()).status == "activated"
        old_root = store.active_root()
        assert old_root is not None
        kept = (old_root / "videos/film.mp4").read_bytes()
        kept_inode = (old_root / "videos/film.mp4").stat().st_ino
        # v2: the old film kept as it is (shared with the old bundle, not copied), the film with one more chunk
        # appended, a new newspaper, yesterday's gone
        film = (ground_dir / "b1" / "videos/film.mp4").read_bytes()
        files_v2: dict[str, int | bytes] = {
            "catalog.json": b'{"items": [1]}',
            "newspapers/tomorrow.pdf": 200 * KIB,
            "videos/film.mp4": film + b"x" * CHUNK_SIZE,
            "videos/kept.mp4": kept,
        }
        make_bundle(ground_dir, "b2", files_v2, seed=7)
        result = await ContentSync(store, ground.url).sync()
    assert result.status == "activated", result
    assert store.active_id() == "b2"
    # the film's first 5 chunks are local; its 6th changed (1000 bytes + the appended ones) and 7th is new
    changed = len(b'{"items": [1]}') + 200 * KIB + (len(film) + CHUNK_SIZE - 5 * CHUNK_SIZE)
    assert result.bytes_downloaded == changed
    assert result.chunks_local == 5 + 6  # the film's first five, and the kept film's six by a hard link
    new_root = store.active_root()
    assert new_root is not None and (new_root / "videos/kept.mp4").stat().st_ino == kept_inode
    assert old_root is not None and not old_root.exists()  # removed once the new bundle was active


async def test_cut_mid_chunk_resumes_and_refetches_at_most_one_chunk(tmp_path: Path) -> None:
    manifest = make_bundle(tmp_path / "ground", "b1", FILES_V1)
    store = ContentStore(tmp_path / "store")
    link = LinkModel()
    async with serve_ground(tmp_path / "ground", link) as ground:
        link.schedule_cut(after_bytes=2 * CHUNK_SIZE + 100 * KIB)  # mid-chunk
        first = await ContentSync(store, ground.url, concurrency=3).sync()
        assert first.status == "interrupted", first
        assert store.active_id() is None  # never a half bundle
        assert staged_names(store) == ["b1"]
        sent_before = link.body_bytes
        link.restore()
        second = await ContentSync(store, ground.url, concurrency=3).sync()
    assert second.status == "activated", second
    assert store.active_id() == "b1"
    total_fetched = first.bytes_downloaded + second.bytes_downloaded
    assert total_fetched - manifest.total_size <= CHUNK_SIZE, (total_fetched, manifest.total_size)
    assert second.bytes_resumed > 0
    assert sent_before >= first.bytes_downloaded


async def test_cancel_loses_nothing(tmp_path: Path) -> None:
    manifest = make_bundle(tmp_path / "ground", "b1", {"videos/big.bin": 8 * CHUNK_SIZE})
    store = ContentStore(tmp_path / "store")
    link = LinkModel(bandwidth_bps=2 * 1024 * 1024 * 8)  # 2 MiB/s: the bundle takes about a second
    async with serve_ground(tmp_path / "ground", link) as ground:
        sync = ContentSync(store, ground.url, concurrency=3)
        task = asyncio.create_task(sync.sync())
        await asyncio.sleep(0.5)
        assert link.body_bytes > 0
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        received = link.body_bytes
        assert store.active_id() is None
        result = await ContentSync(store, ground.url, concurrency=3).sync()
    assert result.status == "activated"
    # everything received before the cancel was kept (what was on the wire but not yet read may be lost)
    assert received + result.bytes_downloaded - manifest.total_size <= 3 * 64 * KIB


async def test_corrupt_chunk_detected_counted_and_refetched(tmp_path: Path) -> None:
    manifest = make_bundle(tmp_path / "ground", "b1", FILES_V1)
    store = ContentStore(tmp_path / "store")
    async with serve_ground(tmp_path / "ground") as ground:
        ground.content.corrupt_next = 2
        result = await ContentSync(store, ground.url).sync()
    assert result.status == "activated", result
    assert result.corrupt_chunks == 2
    root = store.active_root()
    assert root is not None
    for entry in manifest.files:
        assert (root / entry.path).read_bytes() == (tmp_path / "ground" / "b1" / entry.path).read_bytes()


async def test_persistently_corrupt_chunk_fails_without_activating(tmp_path: Path) -> None:
    make_bundle(tmp_path / "ground", "b1", {"a.bin": 3 * CHUNK_SIZE})
    store = ContentStore(tmp_path / "store")
    async with serve_ground(tmp_path / "ground") as ground:
        ground.content.corrupt_next = 1000
        result = await ContentSync(store, ground.url, concurrency=1).sync()
    assert result.status == "failed"
    assert "corrupt" in result.error
    assert store.active_id() is None


async def test_byte_budget_stops_cleanly_then_resumes(tmp_path: Path) -> None:
    manifest = make_bundle(tmp_path / "ground", "b1", FILES_V1)
    store = ContentStore(tmp_path / "store")
    spent: list[int] = []
    limit = 3 * CHUNK_SIZE

    def budget(nbytes: int) -> bool:
        if sum(spent) + nbytes > limit:
            return False
        spent.append(nbytes)
        return True

    async with serve_ground(tmp_path / "ground") as ground:
        first = await ContentSync(store, ground.url).sync(budget)
        assert first.status == "budget"
        assert first.bytes_downloaded <= limit
        assert store.active_id() is None
        # newspapers before videos: the paper is complete, the film is not
        staged = store.staging / "b1" / "files"
        assert (staged / "newspapers/today.pdf").read_bytes() == (
            tmp_path / "ground" / "b1" / "newspapers/today.pdf"
        ).read_bytes()
        second = await ContentSync(store, ground.url).sync()
    assert second.status == "activated"
    assert first.bytes_downloaded + second.bytes_downloaded == manifest.total_size


async def test_damaged_active_bundle_is_repaired_by_sync(tmp_path: Path) -> None:
    make_bundle(tmp_path / "ground", "b1", FILES_V1)
    store = ContentStore(tmp_path / "store")
    async with serve_ground(tmp_path / "ground") as ground:
        assert (await ContentSync(store, ground.url).sync()).status == "activated"
        root = store.active_root()
        assert root is not None
        (root / "newspapers/today.pdf").unlink()
        store.record_damage(root.name, ["newspapers/today.pdf"])
        result = await ContentSync(store, ground.url).sync()
    assert result.status == "activated"
    assert result.bytes_downloaded == 300 * KIB
    new_root = store.active_root()
    assert new_root is not None and (new_root / "newspapers/today.pdf").is_file()
    assert store.damage() == {}
    assert load_manifest(new_root).bundle_id == "b1"


async def test_cuts_at_random_moments_until_done(tmp_path: Path) -> None:
    """A window that keeps closing: each attempt is cut at a random moment; nothing is activated before the
    whole bundle is there, and across all attempts at most one chunk's worth is fetched again per cut."""
    manifest = make_bundle(tmp_path / "ground", "b1", {"catalog.json": b"{}", "videos/a.bin": 12 * CHUNK_SIZE})
    store = ContentStore(tmp_path / "store")
    link = LinkModel(bandwidth_bps=16 * 1024 * 1024 * 8)  # 16 MiB/s: 3 MiB take about 0.2 s
    downloaded = 0
    cuts = 0
    async with serve_ground(tmp_path / "ground", link) as ground:
        for _ in range(40):
            link.restore()
            link.schedule_cut(random_in=(0.02, 0.08))
            result = await ContentSync(store, ground.url, concurrency=3).sync()
            downloaded += result.bytes_downloaded
            if result.status == "activated":
                break
            assert result.status == "interrupted", result
            assert store.active_id() is None
            cuts += 1
    assert result.status == "activated"
    assert store.active_id() == "b1"
    assert cuts >= 2
    assert downloaded - manifest.total_size <= cuts * CHUNK_SIZE


async def test_sigkill_mid_sync_resumes_and_refetches_at_most_one_chunk_per_kill(tmp_path: Path) -> None:
    """The real thing: the syncing process is killed (SIGKILL) at random moments, over and over."""
    manifest = make_bundle(tmp_path / "ground", "b1", {"catalog.json": b"{}", "videos/a.bin": 16 * CHUNK_SIZE})
    store_dir = tmp_path / "store"
    link = LinkModel(bandwidth_bps=8 * 1024 * 1024 * 8)  # 8 MiB/s: 4 MiB take half a second
    rng = random.Random(5)
    kills = 0
    async with serve_ground(tmp_path / "ground", link) as ground:
        for _ in range(6):
            process = await asyncio.create_subprocess_exec(
                *python_module("tests.content_killsync", str(store_dir), ground.url),
                env=subprocess_env(),
                stdout=asyncio.subprocess.PIPE,
            )
            assert process.stdout is not None
            assert await process.stdout.readline() == b"started\n"
            await asyncio.sleep(rng.uniform(0.05, 0.25))
            if process.returncode is None:
                process.kill()
                kills += 1
            await process.wait()
            assert ContentStore(store_dir).active_id() in (None, "b1")
            if ContentStore(store_dir).active_id() == "b1":
                break
        result = await ContentSync(ContentStore(store_dir), ground.url).sync()
    assert result.status in ("activated", "up_to_date")
    store = ContentStore(store_dir)
    root = store.active_root()
    assert root is not None
    assert (root / "videos/a.bin").read_bytes() == (tmp_path / "ground/b1/videos/a.bin").read_bytes()
    overhead = 6 * 4096  # the index and the manifest, once per attempt
    assert kills >= 1
    assert link.body_bytes - manifest.total_size <= kills * (CHUNK_SIZE + overhead), (link.body_bytes, kills)
