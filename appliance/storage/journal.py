"""The append-only journal: framed records in segment files, group commit, recovery, rotation, checkpoints.

Writers (any thread, or asyncio tasks through `append`) call `submit`: the record gets its sequence number at
once and waits in a queue. One writer thread takes everything queued, writes it with one `pwrite` and makes it
durable with one `fdatasync` (data and size; a record needs no timestamps). So the event loop never blocks on
the sync. With one writer and nobody else waiting a batch is one record: one write, one fdatasync.

A record's outcome is a function of its sequence number alone: durable once `durable_seq` reaches it, refused
once the journal has failed before it did (a failure refuses everything not yet durable), pending otherwise.
So there is no per-record future to create, lock and resolve: threads `wait(seq)` on the journal's condition,
asyncio tasks `watch(seq)`, and the writer wakes each event loop with waiters once per batch (one
`call_soon_threadsafe`, not one per record: appliance.storage.waiters), which keeps the hand-over short for one
writer and for 64.

A failed write or sync fails the whole batch (and everything queued behind it) with `StorageRefused`, and the
journal refuses every later write until it is reopened: after a failed fsync Linux may have dropped the dirty
pages, so nothing is retried and assumed good. ENOSPC is reported as "disk full".

`checkpoint(snapshot, seq)` writes a snapshot covering every record up to `seq` by atomic replace and deletes
the segments it makes redundant, so recovery time stays bounded (segments with corruption are moved to
`corrupt/` instead). Files: `seg-<index>.log`, `snapshot`. Recovery itself is in appliance.storage.recovery.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

from appliance.fs.atomic import atomic_write_bytes
from appliance.fs.fileops import REAL_OPS, FileOps
from appliance.ports import StorageRefused
from appliance.storage.framing import FLAG_BATCH_END, SEGMENT_HEADER_SIZE, encode_record, encode_segment_header
from appliance.storage.recovery import (
    SNAPSHOT_NAME,
    Problem,
    Recovery,
    Segment,
    encode_snapshot,
    quarantine,
    recover,
    segment_name,
)
from appliance.storage.waiters import LoopWaiters

__all__ = ["Journal", "Problem", "Recovery"]

log = logging.getLogger("appliance.storage.journal")

#: Zeros written ahead of the records (see Journal._padded_write): one growing sync per this many bytes.
ZERO_AHEAD = 256 * 1024


class _Control:
    """A non-record job for the writer thread (checkpoint, drain), run in queue order."""

    def __init__(self, run: Callable[[], None]) -> None:
        self.run = run
        self.future: concurrent.futures.Future[None] = concurrent.futures.Future()


_Item = tuple[int, int, bytes]  # seq, record type, payload


class Journal:
    def __init__(self, directory: Path, ops: FileOps, segment_bytes: int) -> None:
        self.directory = directory
        self.ops = ops
        self.segment_bytes = segment_bytes
        self._cond = threading.Condition()
        self._queue: list[_Item | _Control] = []
        self._next_seq = 1
        self._durable_seq = 0
        self._segments: list[Segment] = []
        self._fd = -1
        self._offset = 0
        self._zeroed_to = 0  # the current segment is durable zeros (or records) up to here: see _padded_write
        self._failure: str | None = None
        self.reopenable = False  # the failure was a full disk before anything reached the page cache
        self._damaged: set[str] = set()  # segments with corruption: quarantined, not deleted, at checkpoint
        self._frozen = False
        self._closing = False
        self._doorbell: queue.SimpleQueue[None] = queue.SimpleQueue()  # wakes the idle writer (_wake_writer)
        self._writer_idle = False  # under _cond: the writer is asleep on the doorbell, or about to be
        self._busy = False
        self._thread: threading.Thread | None = None
        self._waiters = LoopWaiters(self.outcome, self._result)
        self.snapshot_seq = 0
        self.bytes_since_checkpoint = 0
        self.batches = 0
        self.records_written = 0

    # --- opening -------------------------------------------------------------------------------------------

    @classmethod
    def open(
        cls, directory: Path, ops: FileOps = REAL_OPS, segment_bytes: int = 4 * 1024 * 1024
    ) -> tuple[Journal, Recovery]:
        """Recover the journal in `directory` (created if missing) and start a new segment to write in."""
        started = time.monotonic()
        journal = cls(directory, ops, segment_bytes)
        found = recover(directory, ops)
        journal._segments = found.segments
        journal._damaged = found.damaged
        journal._next_seq = found.last_seq + 1
        journal._durable_seq = found.last_seq
        journal.snapshot_seq = found.recovery.snapshot_seq
        journal.bytes_since_checkpoint = found.journal_bytes
        journal._start_segment(journal._next_seq)
        found.recovery.seconds = time.monotonic() - started
        return journal, found.recovery

    @staticmethod
    def inspect(directory: Path, ops: FileOps = REAL_OPS) -> Recovery:
        """Read-only check (for `appliance fsck`): what recovery would find, changing nothing on disk."""
        return recover(directory, ops, repair=False).recovery

    def _start_segment(self, first_seq: int) -> None:
        """Open a new segment (always a new file at open and at rotation: never append after damage)."""
        if self._fd >= 0:
            self.ops.close(self._fd)
            self._fd = -1
        index = self._segments[-1].index + 1 if self._segments else 1
        path = self.directory / segment_name(index)
        fd = self.ops.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            self.ops.pwrite(fd, encode_segment_header(index, first_seq), 0)
            self.ops.fsync(fd)
            self.ops.fsync_dir(self.directory)
        except BaseException:
            self.ops.close(fd)
            raise
        self._fd = fd
        self._offset = self._zeroed_to = SEGMENT_HEADER_SIZE
        self._segments.append(Segment(index, path, 0))

    # --- writing -------------------------------------------------------------------------------------------

    @property
    def failure(self) -> str | None:
        """Why the journal refuses writes (until reopened), or None."""
        return self._failure

    @property
    def durable_seq(self) -> int:
        return self._durable_seq

    @property
    def segment_count(self) -> int:
        return len(self._segments)

    def submit(self, rtype: int, payload: bytes) -> int:
        """Queue a record and return its sequence number (`wait` or `watch` it to learn when it is durable).
        Raises StorageRefused at once when the journal is failed, frozen for a power fail, or closed."""
        with self._cond:
            self._check_open()
            seq = self._next_seq
            self._next_seq += 1
            self._queue.append((seq, rtype, payload))
            self._wake_writer()
        return seq

    def outcome(self, seq: int) -> bool | None:
        """True once record `seq` is durable, False once it is refused (it never will be), None while pending.
        (`_durable_seq` never moves once `_failure` is set, so it is read again after the failure is seen.)"""
        if seq <= self._durable_seq:
            return True
        if self._failure is None:
            return None
        return seq <= self._durable_seq

    def _result(self, seq: int) -> int:
        """A decided record's sequence number, or its refusal raised."""
        if seq <= self._durable_seq:
            return seq
        raise StorageRefused(f"not stored: {self._failure}")

    def wait(self, seq: int) -> int:
        """Block until record `seq` is durable (returns `seq`) or refused (raises StorageRefused)."""
        with self._cond:
            while self.outcome(seq) is None:
                self._cond.wait()
        return self._result(seq)

    async def append(self, rtype: int, payload: bytes) -> int:
        """Durable when it returns (the sequence number). Raises StorageRefused."""
        return await self.watch(self.submit(rtype, payload))

    def watch(self, seq: int) -> asyncio.Future[int]:
        """An asyncio future (of the running loop) resolved once record `seq` is durable or refused. Cancelling
        it never cancels the record: the record is written anyway (as `asyncio.shield`). Call from the event
        loop's thread."""
        return self._waiters.watch(seq)

    def append_sync(self, rtype: int, payload: bytes) -> int:
        return self.wait(self.submit(rtype, payload))

    def _check_open(self) -> None:
        if self._failure is not None:
            raise StorageRefused(f"journal refuses writes: {self._failure}")
        if self._frozen:
            raise StorageRefused("journal frozen for a power fail: writes resume when power is back")
        if self._closing:
            raise StorageRefused("journal closed")

    def _wake_writer(self) -> None:
        """Under `_cond`: the writer thread starts with the first write (a journal only read never needs it).
        An idle writer sleeps on a SimpleQueue, not on `_cond`: its put and get are C, with no lock allocated
        and no Python run per wake (about 20 us of a one-writer append's hand-over on this machine)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._writer, name="journal-writer", daemon=True)
            self._thread.start()
        self._ring()

    def _ring(self) -> None:
        """Under `_cond`: wake the writer if it sleeps (one token per sleep)."""
        if self._writer_idle:
            self._writer_idle = False
            self._doorbell.put(None)

    def _writer(self) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    if self._closing:
                        return
                    self._writer_idle = True
                    batch = None
                else:
                    batch, self._queue = self._queue, []
                    self._busy = True
            if batch is None:
                self._doorbell.get()
                continue
            try:
                self._write_batch(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()  # `wait` and `drain`
                    # Last, as this thread is about to look for more: a woken event loop finds the GIL free
                    # sooner than after the bookkeeping above (one writer's hand-over latency).
                    self._wake_waiters()

    def _write_batch(self, batch: list[_Item | _Control]) -> None:
        records: list[_Item] = []
        for item in batch:
            if isinstance(item, _Control):
                self._commit(records)
                self._wake_waiters()  # a checkpoint may take long: what is durable is told first
                records = []
                self._run_control(item)
            else:
                records.append(item)
        self._commit(records)

    def _commit(self, items: list[_Item]) -> None:
        if not items:
            return
        if self._failure is not None:  # refused by the failure already (their waiters are woken after the batch)
            return
        last = len(items) - 1
        data = b"".join(
            encode_record(seq, rtype, payload, FLAG_BATCH_END if i == last else 0)
            for i, (seq, rtype, payload) in enumerate(items)
        )
        try:
            self._padded_write(data)
        except OSError as error:  # ENOSPC here: nothing of the batch is durable, the file is cut back below
            self._fail(error, reopenable=error.errno == errno.ENOSPC)
            return
        try:
            self.ops.fdatasync(self._fd)
        except OSError as error:  # the page cache may now hold what the disk does not: never reopen in-process
            self._fail(error, reopenable=False)
            return
        self._offset += len(data)
        self.bytes_since_checkpoint += len(data)
        self._durable_seq = items[-1][0]
        self._segments[-1].max_seq = items[-1][0]
        self.batches += 1
        self.records_written += len(items)
        if self._offset >= self.segment_bytes:
            try:
                self._start_segment(self._durable_seq + 1)
            except OSError as error:
                self._set_failure(_describe(error, "creating a new segment"), error.errno == errno.ENOSPC)

    def _padded_write(self, data: bytes) -> None:
        """Write a batch at the end of the records. A batch that reaches past the zeroed space takes the next
        ZERO_AHEAD bytes of zeros with it, in the same pwrite: the batches after it overwrite blocks that exist,
        so their fdatasync flushes data alone, without an inode (size) and journal commit (ext4: about a
        quarter of the sync's cost here), as SQLite's reused WAL and PostgreSQL's pre-zeroed segments do.
        Recovery reads the zeros after a batch's last record as unused space (framing.scan_segment)."""
        end = self._offset + len(data)
        if end > self._zeroed_to:
            target = max(end, min(self._zeroed_to + ZERO_AHEAD, self.segment_bytes))
            data += bytes(target - end)
            self._zeroed_to = target
        self.ops.pwrite(self._fd, data, self._offset)

    def _fail(self, error: OSError, reopenable: bool) -> None:
        reason = _describe(error, "writing the journal")
        # Best effort: take the refused batch back off the end of the file (the next boot truncates it
        # anyway if it is torn). Never treated as making anything good.
        try:
            self.ops.truncate(self._fd, self._offset)
            self._zeroed_to = self._offset
        except OSError:
            reopenable = False
        self._set_failure(reason, reopenable)

    def _set_failure(self, reason: str, reopenable: bool = False) -> None:
        """From now on every record not yet durable is refused (`outcome`): the queued ones are dropped, never
        written. Runs on the writer thread, which wakes their waiters after the batch (`_writer`)."""
        with self._cond:
            if self._failure is None:
                self._failure = reason
                self.reopenable = reopenable
                log.error("journal: %s; refusing writes until reopened", reason)
            self._queue = [item for item in self._queue if isinstance(item, _Control)]

    def _wake_waiters(self) -> None:
        """After `_durable_seq` or `_failure` moved (on the writer thread)."""
        self._waiters.wake()

    def _run_control(self, control: _Control) -> None:
        try:
            control.run()
        except BaseException as error:
            control.future.set_exception(error)
        else:
            control.future.set_result(None)

    def _enqueue_control(self, run: Callable[[], None]) -> concurrent.futures.Future[None]:
        control = _Control(run)
        with self._cond:
            if self._closing:
                raise StorageRefused("journal closed")
            self._queue.append(control)
            self._wake_writer()
        return control.future

    # --- checkpoints ---------------------------------------------------------------------------------------

    def checkpoint(self, snapshot: Callable[[], bytes], seq: int) -> concurrent.futures.Future[None]:
        """Write `snapshot()` (the state after every record up to `seq`) by atomic replace, then delete the
        segments it covers. Runs on the writer thread after every record queued before it is durable."""
        return self._enqueue_control(lambda: self._checkpoint(snapshot, seq))

    def _checkpoint(self, snapshot: Callable[[], bytes], seq: int) -> None:
        if self._failure is not None:
            raise StorageRefused(f"no checkpoint: {self._failure}")
        if seq > self._durable_seq:
            raise StorageRefused(f"checkpoint at {seq} is past the durable sequence {self._durable_seq}")
        try:
            if self._segments[-1].max_seq:
                self._start_segment(self._durable_seq + 1)  # seal the current segment
            atomic_write_bytes(self.directory / SNAPSHOT_NAME, encode_snapshot(seq, snapshot()), ops=self.ops)
            self.snapshot_seq = seq
            keep = [s for s in self._segments if s is self._segments[-1] or s.max_seq > seq]
            dropped = [s for s in self._segments if s not in keep]
            for segment in dropped:
                if segment.path.name in self._damaged:
                    quarantine(self.directory, segment.path.name, self.ops)  # evidence is kept, not deleted
                else:
                    self.ops.unlink(segment.path)
            if dropped:
                self.ops.fsync_dir(self.directory)
            self._segments = keep
            self.bytes_since_checkpoint = 0
        except OSError as error:  # the old snapshot and every segment are still there
            self._set_failure(_describe(error, "writing a checkpoint"), error.errno == errno.ENOSPC)
            raise StorageRefused(f"checkpoint failed: {self._failure}") from error

    # --- power fail and closing ----------------------------------------------------------------------------

    def freeze(self) -> None:
        """Refuse new records (StorageRefused) from now on; what is queued is still written."""
        with self._cond:
            self._frozen = True

    def thaw(self) -> None:
        with self._cond:
            self._frozen = False

    @property
    def frozen(self) -> bool:
        return self._frozen

    def barrier(self) -> concurrent.futures.Future[None]:
        """A future resolved once everything queued before it is written and fsynced (or refused). Needs no
        thread of its own: the power-fail path awaits it even when every worker thread is busy."""
        return self._enqueue_control(lambda: None)

    def drain(self, timeout: float | None = None) -> bool:
        """Block until everything queued is written and fsynced (or refused). True when drained in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self) -> None:
        """Write what is queued, stop the writer thread, close the segment. Idempotent."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            self._ring()
        if self._thread is not None:
            self._thread.join()
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                self.ops.close(self._fd)
            self._fd = -1


def _describe(error: OSError, doing: str) -> str:
    if error.errno == errno.ENOSPC:
        return f"disk full (ENOSPC) while {doing}"
    name = errno.errorcode.get(error.errno or 0, "error")
    return f"{name} while {doing}: {error.strerror or error}"
