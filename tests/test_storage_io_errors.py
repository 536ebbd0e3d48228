"""I/O errors injected through the file-operation layer: EIO and ENOSPC on the Nth write or fsync."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path

import pytest

from appliance.component import Status
from appliance.fs.fileops import FileOps
from appliance.ports import StorageRefused
from appliance.storage.component import StorageComponent
from appliance.storage.config import StorageConfig
from appliance.storage.store import Store
from appliance.timebase import ManualClock


class FaultyOps(FileOps):
    """Real operations, except that the Nth `kind` ("write" or "fsync") call on a path containing `only`
    after `arm()` fails with `err` (and every later one too when `persistent`)."""

    def __init__(self, kind: str, err: int, nth: int, persistent: bool = False, only: str = "journal") -> None:
        self.kind, self.err, self.nth, self.persistent, self.only = kind, err, nth, persistent, only
        self.calls = 0
        self.armed = False
        self.fired = 0
        self.paths: dict[int, str] = {}

    def open(self, path: Path, flags: int, mode: int = 0o644) -> int:
        fd = super().open(path, flags, mode)
        self.paths[fd] = str(path)
        return fd

    def arm(self) -> None:
        self.armed, self.calls = True, 0

    def _maybe_fail(self, kind: str, path: str) -> None:
        if not self.armed or kind != self.kind or self.only not in path:
            return
        self.calls += 1
        if self.calls == self.nth or (self.persistent and self.calls > self.nth):
            self.fired += 1
            raise OSError(self.err, os.strerror(self.err))

    def pwrite(self, fd: int, data: bytes, offset: int) -> None:
        self._maybe_fail("write", self.paths.get(fd, ""))
        super().pwrite(fd, data, offset)

    def fsync(self, fd: int) -> None:
        self._maybe_fail("fsync", self.paths.get(fd, ""))
        super().fsync(fd)

    def fsync_dir(self, path: Path) -> None:
        self._maybe_fail("fsync", str(path))
        super().fsync_dir(path)


CASES = [(kind, err, nth) for kind in ("write", "fsync") for err in (errno.EIO, errno.ENOSPC) for nth in (1, 4, 9)]


@pytest.mark.parametrize(("kind", "err", "nth"), CASES)
async def test_injected_error_refuses_without_false_ack(tmp_path: Path, kind: str, err: int, nth: int) -> None:
    ops = FaultyOps(kind, err, nth)
    config = StorageConfig(dir=str(tmp_path), segment_bytes=8 * 1024)
    storage = StorageComponent(config, ManualClock(), ops=ops)
    await storage.start()
    ops.arm()
    acked: list[str] = []
    refused: list[str] = []

    async def writer(i: int) -> None:
        try:
            item = await storage.outbox.append("booking", {"i": i, "pad": "z" * 300})
        except StorageRefused as error:
            refused.append(str(error))
        else:
            acked.append(item.id)

    for wave in range(30):  # until the fault has fired and a writer met it (it may hit a segment rotation)
        await asyncio.gather(*(writer(wave * 10 + i) for i in range(10)))
        if refused:
            break
    assert ops.fired == 1 and refused, "the fault never fired"
    expected = "disk full (ENOSPC)" if err == errno.ENOSPC else "EIO"
    assert all(expected in r for r in refused), refused[:3]
    check = storage.health()
    assert check.status == Status.FAIL and expected in check.reason
    assert {i.id for i in storage.outbox.pending()} == set(acked)  # nothing refused is visible
    with pytest.raises(StorageRefused):  # never retried and assumed good: refused until reopened
        await storage.outbox.append("booking", {"late": 1})
    await storage.stop()

    again = StorageComponent(config, ManualClock())  # the next boot, on a healthy disk
    await again.start()
    assert again.health().status == Status.PASS, again.health().reason
    assert set(acked) <= {i.id for i in again.outbox.pending()}
    await again.outbox.append("booking", {"works": True})
    await again.stop()


async def test_failed_checkpoint_keeps_everything(tmp_path: Path) -> None:
    ops = FaultyOps("fsync", errno.EIO, 1, only="")
    store = Store.open(tmp_path, ops)
    for i in range(20):
        store.commit_sync([["put", "t", str(i), {"i": i}]])
    store.checkpoint().result()
    for i in range(20, 30):
        store.commit_sync([["put", "t", str(i), {"i": i}]])
    ops.arm()
    with pytest.raises(StorageRefused, match="checkpoint failed"):
        store.checkpoint().result()
    with pytest.raises(StorageRefused):
        store.commit_sync([["put", "t", "x", {}]])
    assert "x" not in store.tables["t"]
    store.close()
    again = Store.open(tmp_path)
    assert sorted(int(k) for k in again.tables["t"]) == list(range(30))
    assert not again.recovery.problems
    again.close()


async def test_enospc_on_segment_rotation(tmp_path: Path) -> None:
    ops = FaultyOps("write", errno.ENOSPC, 2, only="")
    store = Store.open(tmp_path, ops, segment_bytes=2048)
    ops.arm()
    acked = []
    with pytest.raises(StorageRefused, match="disk full"):
        for i in range(100):
            store.commit_sync([["put", "t", str(i), {"pad": "q" * 1500}]])
            acked.append(str(i))
    assert store.failure is not None and "disk full" in store.failure
    store.close()
    again = Store.open(tmp_path)
    assert set(acked) <= set(again.tables["t"])
    assert not again.recovery.corruption
    again.close()


async def test_disk_full_reopens_when_room_is_back_but_failed_fsync_does_not(tmp_path: Path) -> None:
    for kind, err, reopens in (("write", errno.ENOSPC, True), ("fsync", errno.EIO, False)):
        ops = FaultyOps(kind, err, 1, persistent=True)
        config = StorageConfig(dir=str(tmp_path / kind))
        storage = StorageComponent(config, ManualClock(), ops=ops)
        await storage.start()
        kept = await storage.outbox.append("booking", {"before": True})
        ops.arm()
        with pytest.raises(StorageRefused):
            await storage.outbox.append("booking", {"refused": True})
        assert await storage.check_disk() is False  # still failing
        assert storage.alive is reopens  # a failed fsync: only a restart mends it, so stop feeding the watchdog
        with pytest.raises(StorageRefused):
            await storage.outbox.append("booking", {"refused": True})
        ops.armed = False  # room again / the disk answers again
        assert await storage.check_disk() is reopens
        if reopens:
            assert storage.health().status == Status.PASS
            await storage.outbox.append("booking", {"after": True})
            assert [i.payload for i in storage.outbox.pending()] == [{"before": True}, {"after": True}]
        else:
            assert storage.health().status == Status.FAIL
            with pytest.raises(StorageRefused):
                await storage.outbox.append("booking", {"after": True})
        assert kept.id in {i.id for i in storage.outbox.pending()}
        await storage.stop()
