"""A keyspace of JSON documents (tables of key -> document) kept in memory and made durable by the journal.

Every change is a transaction: a list of operations journaled as one record (all or nothing after a crash)::

    ["put", table, key, document] | ["del", table, key] | ["clear", table]

`commit` applies the transaction in memory at once (so the caller reads its own writes) and returns the journal
record's sequence number, to wait for (`commit_sync`) or watch (`commit_async`, `journal.watch`) until durable.
If the journal refuses it (failed fsync, disk full), the caller's `rollback()` undoes every transaction that did
not become durable, newest first, so memory never holds what the disk refused. Boot rebuilds the state from the
snapshot plus the journal after it; a checkpoint writes the whole state as the new snapshot so the journal to
replay stays short.

Use from one thread at a time (the event loop's), or hold `lock` around reads that must not race a commit.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import gc
import json
import logging
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from appliance.fs.fileops import REAL_OPS, FileOps
from appliance.ports import StorageRefused
from appliance.storage.journal import Journal
from appliance.storage.recovery import Problem, Recovery

log = logging.getLogger("appliance.storage.store")

TXN = 1  # journal record type of a transaction
Op = list[Any]
Tables = dict[str, dict[str, Any]]
_ABSENT = object()


class Store:
    def __init__(self, journal: Journal, recovery: Recovery, tables: Tables, checkpoint_bytes: int) -> None:
        self.journal = journal
        self.recovery = recovery
        self.tables = tables
        self.checkpoint_bytes = checkpoint_bytes
        self.lock = threading.RLock()
        self._applied_seq = recovery.records[-1].seq if recovery.records else recovery.snapshot_seq
        self._inflight: deque[tuple[int, list[tuple[str, str | None, Any]]]] = deque()  # (seq, undo), oldest first
        self._checkpointing: concurrent.futures.Future[None] | None = None

    @classmethod
    def open(
        cls,
        directory: Path,
        ops: FileOps = REAL_OPS,
        segment_bytes: int = 4 * 1024 * 1024,
        checkpoint_bytes: int = 16 * 1024 * 1024,
    ) -> Store:
        """Recover from `directory` (journal, snapshot). Never fails on damage: it is in `recovery.problems`.

        The recovered documents (about ten objects each, a million for 100,000 orders) live as long as the
        process: once loaded they are moved out of the cyclic GC's generations (`gc.freeze`), so no later
        collection walks them again (they are plain JSON, acyclic: reference counting still frees each one
        that is deleted or replaced)."""
        with gc_paused():  # recovery allocates ~1 object per document and frees none: GC passes only cost time
            store = cls._open(directory, ops, segment_bytes, checkpoint_bytes)
            gc.freeze()
            return store

    @classmethod
    def _open(cls, directory: Path, ops: FileOps, segment_bytes: int, checkpoint_bytes: int) -> Store:
        journal, recovery = Journal.open(directory, ops, segment_bytes)
        tables: Tables = {}
        if recovery.snapshot is not None:
            try:
                tables = orjson.loads(recovery.snapshot)["tables"]
                if not isinstance(tables, dict) or not all(isinstance(d, dict) for d in tables.values()):
                    raise TypeError("tables are not objects of documents")
            except (ValueError, KeyError, TypeError) as error:
                tables = {}
                recovery.problems.append(Problem("snapshot", 0, 0, False, f"snapshot unreadable: {error}"))
        _replay(tables, recovery)
        return cls(journal, recovery, tables, checkpoint_bytes)

    # --- writing -------------------------------------------------------------------------------------------

    def commit(self, ops: list[Op]) -> int:
        """Apply `ops` now and journal them; returns the record's sequence number (`journal.outcome` tells when
        it is durable). Raises StorageRefused at once (nothing applied) when the journal refuses writes.
        Queued last, after the apply: the writer thread then wakes with nothing left here to contend for."""
        payload = _encode(ops)
        canonical = orjson.loads(payload)  # memory holds exactly what recovery will rebuild
        journal = self.journal
        with self.lock:
            undo: list[tuple[str, str | None, Any]] = []
            try:
                _apply(self.tables, canonical, undo)  # a malformed operation raises: nothing stays applied
                seq = journal.submit(TXN, payload)
            except BaseException as error:
                _undo(self.tables, undo)
                if isinstance(error, StorageRefused):
                    self.rollback()  # whatever an earlier, unobserved refusal left applied goes now
                raise
            self._inflight.append((seq, undo))
            self._applied_seq = seq
            while self._inflight and self._inflight[0][0] <= journal.durable_seq:
                self._inflight.popleft()
        if journal.bytes_since_checkpoint >= self.checkpoint_bytes:
            self.checkpoint()
        return seq

    def commit_sync(self, ops: list[Op]) -> int:
        seq = self.commit(ops)
        try:
            return self.journal.wait(seq)
        except StorageRefused:
            self.rollback()
            raise

    async def commit_async(self, ops: list[Op]) -> int:
        seq = self.commit(ops)
        try:
            # cancelling the waiter never cancels the record: one that does become durable must not look
            # refused (and be rolled back from memory)
            return await self.journal.watch(seq)
        except StorageRefused:
            self.rollback()
            raise

    def rollback(self) -> None:
        """Undo, newest first, every applied transaction the journal refused. A transaction still on its way to
        disk is kept: it may yet become durable (a power-fail freeze refuses new writes but flushes the queued
        ones), and memory must hold whatever the journal holds, or the next checkpoint would drop it."""
        with self.lock:
            while self._inflight and self.journal.outcome(self._inflight[-1][0]) is False:
                _, undo = self._inflight.pop()
                _undo(self.tables, undo)

    # --- checkpoints ---------------------------------------------------------------------------------------

    def checkpoint(self) -> concurrent.futures.Future[None]:
        """Snapshot the state (serialised on the writer thread) and drop the journal it covers."""
        with self.lock:
            if self._checkpointing is not None and not self._checkpointing.done():
                return self._checkpointing
            frozen = {name: dict(docs) for name, docs in self.tables.items()}
            seq = self._applied_seq

            def serialise() -> bytes:
                return orjson.dumps({"tables": frozen})

            self._checkpointing = self.journal.checkpoint(serialise, seq)
            return self._checkpointing

    def close(self) -> None:
        self.journal.close()

    @property
    def failure(self) -> str | None:
        return self.journal.failure


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic GC pass inside (for bulk passes over the documents that allocate nothing cyclic)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_ORJSON_STRICT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def _encode(ops: list[Op]) -> bytes:
    """A transaction's JSON, as the standard encoder (compact, UTF-8, no NaN) decides what is storable; orjson
    writes it when it surely agrees (a twentieth of the cost: a third of a one-writer append's CPU here).
    Whatever orjson would pass through or refuse (datetimes, dataclasses, subclasses of str/int/dict/list,
    non-string keys, integers past 64 bits) and any output with a null (orjson writes NaN and the infinities
    as null, where the standard encoder refuses them) goes to the standard encoder, whose answer stands."""
    try:
        payload = orjson.dumps(ops, option=_ORJSON_STRICT)
    except TypeError:
        payload = b"null"
    if b"null" in payload:
        return json.dumps(ops, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    return payload


def _replay(tables: Tables, recovery: Recovery) -> None:
    """Apply the journal after the snapshot, record by record (one orjson call each: as fast as one call over
    the joined payloads, without the copy). A record that cannot be applied is reported (never fails
    recovery). A lone put, the outbox's and TinyDB's common transaction, is applied inline (recovery's hot
    path: 100,000 records at a boot after a long flight); anything else goes through `_apply`."""
    loads = orjson.loads
    problems = recovery.problems
    for record in recovery.records:
        try:
            if record.rtype != TXN:
                raise ValueError(f"unknown record type {record.rtype}")
            try:
                ops = loads(record.payload)
            except ValueError:  # orjson.JSONDecodeError is a ValueError; the standard parser is the judge
                ops = json.loads(record.payload)
            if type(ops) is list and len(ops) == 1 and type(op := ops[0]) is list and len(op) == 4 \
                    and op[0] == "put" and (docs := tables.get(op[1])) is not None:
                docs[op[2]] = op[3]
            else:
                _apply(tables, ops, None)
        except Exception as error:  # a bad record is data to report, never a reason not to boot
            problems.append(Problem("journal", record.offset, len(record.payload), False,
                                    f"record {record.seq} unusable: {error!r}"))


def _apply(tables: Tables, ops: list[Op], undo: list[tuple[str, str | None, Any]] | None) -> None:
    for op in ops:
        kind, table = op[0], op[1]
        docs = tables.get(table)
        if kind == "put":
            if docs is None:
                docs = tables[table] = {}
                if undo is not None:
                    undo.append((table, None, _ABSENT))
            if undo is not None:
                undo.append((table, op[2], docs.get(op[2], _ABSENT)))
            docs[op[2]] = op[3]
        elif kind == "del":
            if docs is not None and op[2] in docs:
                previous = docs.pop(op[2])
                if undo is not None:
                    undo.append((table, op[2], previous))
        elif kind == "clear":
            if docs is not None:
                del tables[table]
                if undo is not None:
                    undo.append((table, None, docs))
        else:
            raise ValueError(f"unknown operation {kind!r}")


def _undo(tables: Tables, undo: list[tuple[str, str | None, Any]]) -> None:
    for table, key, previous in reversed(undo):
        _restore(tables, table, key, previous)


def _restore(tables: Tables, table: str, key: str | None, previous: Any) -> None:
    if key is None:  # the whole table
        if previous is _ABSENT:
            tables.pop(table, None)
        else:
            tables[table] = previous
        return
    docs = tables.setdefault(table, {})
    if previous is _ABSENT:
        docs.pop(key, None)
    else:
        docs[key] = previous
