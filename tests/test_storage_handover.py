"""The journal's hand-over: one append with nobody else waiting costs one write and one fdatasync (no fsync,
no extra metadata sync); asyncio waiters of a batch are woken with one call per event loop, not one per record;
a cancelled waiter never cancels its record."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from appliance.fs.fileops import FileOps
from appliance.ports import StorageRefused
from appliance.storage.journal import Journal
from appliance.storage.store import Store


class CountingOps(FileOps):
    """Real operations, counted by kind (after `reset`)."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def reset(self) -> None:
        self.calls = {}

    def _count(self, kind: str) -> None:
        self.calls[kind] = self.calls.get(kind, 0) + 1

    def pwrite(self, fd: int, data: bytes, offset: int) -> None:
        self._count("pwrite")
        super().pwrite(fd, data, offset)

    def fsync(self, fd: int) -> None:
        self._count("fsync")
        os.fsync(fd)

    def fdatasync(self, fd: int) -> None:
        self._count("fdatasync")
        os.fdatasync(fd)

    def fsync_dir(self, path: Path) -> None:
        self._count("fsync_dir")
        super().fsync_dir(path)


def test_one_writer_one_append_is_one_write_and_one_fdatasync(tmp_path: Path) -> None:
    ops = CountingOps()
    store = Store.open(tmp_path, ops=ops, checkpoint_bytes=1 << 40)
    ops.reset()

    async def one_writer() -> list[int]:
        return [await store.commit_async([["put", "t", str(n), {"n": n}]]) for n in range(20)]

    seqs = asyncio.run(one_writer())
    store.close()
    assert seqs == list(range(1, 21))
    assert ops.calls == {"pwrite": 20, "fdatasync": 20}, ops.calls
    assert store.journal.batches == 20


def test_a_batch_wakes_its_loop_once(tmp_path: Path) -> None:
    journal, _ = Journal.open(tmp_path)
    wakes = 0

    async def many() -> list[int]:
        nonlocal wakes
        loop = asyncio.get_running_loop()
        plain = loop.call_soon_threadsafe

        def counted(callback: Any, *args: Any, **kwargs: Any) -> Any:
            nonlocal wakes
            wakes += 1
            return plain(callback, *args, **kwargs)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        return await asyncio.gather(*(journal.append(1, b"r%d" % n) for n in range(64)))

    before = journal.batches
    seqs = asyncio.run(many())
    batches = journal.batches - before
    journal.close()
    assert sorted(seqs) == list(range(1, 65))
    assert batches < 64  # group commit: the 64 writers shared syncs
    assert wakes == batches, (wakes, batches)


def test_a_cancelled_waiter_does_not_cancel_its_record(tmp_path: Path) -> None:
    store = Store.open(tmp_path, checkpoint_bytes=1 << 40)

    async def cancel_one() -> None:
        task = asyncio.ensure_future(store.commit_async([["put", "t", "k", {"v": 1}]]))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert store.journal.drain(10)

    asyncio.run(cancel_one())
    store.close()
    reopened = Store.open(tmp_path)
    assert reopened.tables["t"] == {"k": {"v": 1}}  # durable and kept in memory: nothing rolled back
    reopened.close()


def test_a_refused_batch_reaches_its_asyncio_waiters(tmp_path: Path) -> None:
    class FailingSync(FileOps):
        def fsync(self, fd: int) -> None:
            raise OSError(5, "Input/output error")

    journal, _ = Journal.open(tmp_path)
    journal.ops = FailingSync()  # the segment exists; the next record's sync fails

    async def refused() -> None:
        results = await asyncio.gather(*(journal.append(1, b"x") for _ in range(8)), return_exceptions=True)
        assert all(isinstance(r, StorageRefused) for r in results), results

    asyncio.run(asyncio.wait_for(refused(), 10))
    journal.close()


def test_recovered_documents_are_out_of_the_cyclic_gcs_way(tmp_path: Path) -> None:
    import gc

    store = Store.open(tmp_path, checkpoint_bytes=1 << 40)
    for n in range(200):
        store.commit_sync([["put", "t", str(n), {"n": n, "tags": [n, {"x": n}]}]])
    store.close()
    gc.unfreeze()
    reopened = Store.open(tmp_path)
    try:
        doc = reopened.tables["t"]["7"]
        assert gc.get_freeze_count() > 0
        assert not any(o is doc for o in gc.get_objects())  # frozen: no collection walks it again
        assert doc == {"n": 7, "tags": [7, {"x": 7}]}
    finally:
        reopened.close()
        gc.unfreeze()
