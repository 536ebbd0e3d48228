"""A crash at every durable file operation of a content install and of a content sync (the process dies
there: that operation and everything after it never happen). After each, a reboot's recovery leaves the old
bundle or the new one active and whole, never a mix; the next sync finishes the job, fetching again at most
one chunk."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from appliance.content.check import Checker
from appliance.content.pack import pack, publish
from appliance.content.store import ContentStore
from appliance.content.sync import ContentSync
from appliance.fs.fileops import FileOps
from tests.content_support import serve_ground, write_tree

CHUNK = 4096


class Crash(BaseException):
    """The power went: nothing after this point happens."""


class CrashAt(FileOps):
    """Real file operations until the `at`-th write-side operation, which (and every later one) crashes."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.count = 0

    def _tick(self) -> None:
        self.count += 1
        if self.count >= self.at:
            raise Crash

    def open(self, path: Path, flags: int, mode: int = 0o644) -> int:
        if flags & (1 | 2 | 64 | 512):  # O_WRONLY | O_RDWR | O_CREAT | O_TRUNC
            self._tick()
        return super().open(path, flags, mode)

    def pwrite(self, fd: int, data: bytes, offset: int) -> None:
        self._tick()
        super().pwrite(fd, data, offset)

    def fsync(self, fd: int) -> None:
        self._tick()
        super().fsync(fd)

    def truncate(self, fd: int, size: int) -> None:
        self._tick()
        super().truncate(fd, size)

    def rename(self, src: Path, dst: Path) -> None:
        self._tick()
        super().rename(src, dst)

    def unlink(self, path: Path) -> None:
        self._tick()
        super().unlink(path)

    def mkdir(self, path: Path) -> None:
        self._tick()
        super().mkdir(path)

    def symlink(self, target: str, path: Path) -> None:
        self._tick()
        super().symlink(target, path)

    def rmdir(self, path: Path) -> None:
        self._tick()
        super().rmdir(path)

    def fsync_dir(self, path: Path) -> None:
        self._tick()
        super().fsync_dir(path)


def assert_whole(root: Path, allowed: set[str]) -> str:
    """After recovery: one of the allowed bundles is active, and it is exactly its manifest."""
    store = ContentStore(root)
    store.recover()
    active = store.active_id()
    assert active in allowed, active
    report = Checker(store).check(full=True, repair=False)
    assert report.problems == [], report.problems
    return active


def make_base(tmp_path: Path) -> tuple[Path, Path]:
    """A store with bundle v1 active, and the ground with v1 and v2 published (v2 current)."""
    ground = tmp_path / "ground"
    write_tree(tmp_path / "s1", {"catalog.json": b'{"v": 1}', "news/a.txt": 3 * CHUNK, "video/b.bin": 5 * CHUNK})
    write_tree(tmp_path / "s2", {"catalog.json": b'{"v": 2}', "news/c.txt": 4 * CHUNK + 7}, seed=2)
    shutil.copy(tmp_path / "s1/video/b.bin", tmp_path / "s2/video.bin")  # reused locally, not fetched
    v1 = pack(tmp_path / "s1", ground / "v1", bundle_id="v1", chunk_size=CHUNK)
    base = tmp_path / "base"
    store = ContentStore(base)
    store.ensure_layout()
    shutil.copytree(ground / "v1", store.staging / "in")
    store.install(store.staging / "in", v1)
    v2 = pack(tmp_path / "s2", ground / "v2", bundle_id="v2", chunk_size=CHUNK)
    publish(ground, v2, "v2")
    return base, ground


def test_crash_at_every_operation_of_an_install(tmp_path: Path) -> None:
    base, ground = make_base(tmp_path)
    from appliance.content.manifest import load_manifest

    v2 = load_manifest(ground / "v2")
    outcomes: dict[str, int] = {}
    point = 1
    while True:
        root = tmp_path / f"try{point}"
        shutil.copytree(base, root, symlinks=True)
        shutil.copytree(ground / "v2", root / "staging/in2")
        (root / "staging/in2/manifest.json").unlink()
        try:
            ContentStore(root, CrashAt(point)).install(root / "staging/in2", v2)
            finished = True
        except Crash:
            finished = False
        active = assert_whole(root, {"v1", "v2"})
        outcomes[active] = outcomes.get(active, 0) + 1
        shutil.rmtree(root)
        if finished:
            break
        point += 1
    assert outcomes.get("v1", 0) > 0 and outcomes.get("v2", 0) > 0
    print("install crash points", point, outcomes)
    assert point > 10


@pytest.mark.timeout(120)
async def test_crash_at_every_operation_of_a_sync(tmp_path: Path) -> None:
    base, ground = make_base(tmp_path)
    new_bytes = CHUNK * 4 + 7 + len(b'{"v": 2}')  # what v2 has that v1 does not
    points = 0
    async with serve_ground(ground) as station:
        point = 1
        while True:
            root = tmp_path / "try"
            shutil.copytree(base, root, symlinks=True)
            sent = station.link.body_bytes
            try:
                result = await ContentSync(ContentStore(root, CrashAt(point)), station.url, concurrency=1).sync()
                assert result.status == "activated", result
                finished = True
            except Crash:
                finished = False
            await asyncio.to_thread(assert_whole, root, {"v1", "v2"})
            again = await ContentSync(ContentStore(root), station.url, concurrency=1).sync()
            assert again.status in ("activated", "up_to_date"), again
            assert await asyncio.to_thread(assert_whole, root, {"v2"}) == "v2"
            fetched = station.link.body_bytes - sent
            # index and manifests aside, the new bytes once, plus at most one chunk fetched again
            assert fetched - new_bytes <= CHUNK + 2 * 4096, (point, fetched)
            shutil.rmtree(root)
            points += 1
            if finished:
                break
            point += 1
    print("crash points", points)
    assert points > 20
