"""TinyDB on the journal: TinyDB stays the query layer, but never writes its JSON file in place.

TinyDB's own JSONStorage rewrites the whole file on every write (and a power cut mid-write leaves a broken
file). Here a Table subclass turns each write into the documents it actually changed and commits only those
to the `Store` as one journal record, so an insert costs the same in a 10,000-document table as in a
100-document one, and the state rebuilds from snapshot + journal at boot.

    db = JournaledDB(store)
    db.table("orders").insert({...})               # blocks until durable (use from a worker thread)
    await db.write(lambda: db.table("orders").insert({...}))   # from the event loop: never blocks on fsync
    doc_id, seqs = db.start_write(lambda: ...)      # queue now (in call order) ...
    await db.finish_write(seqs)                     # ... and wait for durability later

Writes raise StorageRefused when the journal refuses them; nothing of a refused write stays in memory.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextvars import ContextVar
from typing import Any, TypeVar, cast

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from appliance.ports import StorageRefused
from appliance.storage.store import Op, Store

T = TypeVar("T")

# Set by JournaledDB.write: commits made inside collect their sequence numbers here instead of blocking.
_DEFERRED: ContextVar[list[int] | None] = ContextVar("_DEFERRED", default=None)


class JournalStorage(Storage):
    """TinyDB's Storage API over the Store. `read` hands out the live tables (one shallow dict copy of the
    table map, so TinyDB's whole-database `write` — only used by drop_table(s) — can be diffed)."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

    def read(self) -> dict[str, dict[str, Any]] | None:
        return dict(self.store.tables)

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        live = self.store.tables
        ops: list[Op] = [["clear", name] for name in live if name not in data]
        for name, docs in data.items():
            if live.get(name) is not docs:
                ops.append(["clear", name])
                ops.extend(["put", name, str(key), doc] for key, doc in docs.items())
        if ops:
            _commit(self.store, ops)


class _TableView(MutableMapping[int, Any]):
    """What TinyDB's updaters edit: the live table seen through an overlay. Documents read are copies, so
    nothing changes in memory until the commit; afterwards `ops` lists only what changed."""

    def __init__(self, base: dict[str, Any]) -> None:
        self._base = base
        self._writes: dict[str, Any] = {}  # key -> new document, or None for deleted
        self._touched: dict[str, tuple[str, Any]] = {}  # key -> (JSON before, working copy)
        self._cleared = False

    def _visible(self, key: str) -> bool:
        if key in self._writes:
            return self._writes[key] is not None
        return not self._cleared and key in self._base

    def __contains__(self, doc_id: object) -> bool:
        return self._visible(str(doc_id))

    def __getitem__(self, doc_id: int) -> Any:
        key = str(doc_id)
        if key in self._writes:
            if self._writes[key] is None:
                raise KeyError(doc_id)
            return self._writes[key]
        if key in self._touched:
            return self._touched[key][1]
        if self._cleared or key not in self._base:
            raise KeyError(doc_id)
        before = json.dumps(self._base[key], sort_keys=True)
        working = json.loads(before)
        self._touched[key] = (before, working)
        return working

    def __setitem__(self, doc_id: int, document: Any) -> None:
        key = str(doc_id)
        self._touched.pop(key, None)
        self._writes[key] = document

    def __delitem__(self, doc_id: int) -> None:
        key = str(doc_id)
        if not self._visible(key):
            raise KeyError(doc_id)
        self._touched.pop(key, None)
        self._writes[key] = None

    def __iter__(self) -> Iterator[int]:
        keys = [] if self._cleared else [k for k in self._base if k not in self._writes]
        keys.extend(k for k, v in self._writes.items() if v is not None)
        return iter([int(k) for k in keys])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def clear(self) -> None:
        self._cleared = True
        self._writes.clear()
        self._touched.clear()

    def ops(self, table: str) -> list[Op]:
        ops: list[Op] = [["clear", table]] if self._cleared else []
        for key, (before, working) in self._touched.items():
            if key not in self._writes and json.dumps(working, sort_keys=True) != before:
                self._writes[key] = working
        for key, document in self._writes.items():
            ops.append(["del", table, key] if document is None else ["put", table, key, document])
        return ops


class JournaledTable(Table):
    """A TinyDB table whose writes are journaled deltas."""

    def _update_table(self, updater: Callable[[dict[int, Mapping[Any, Any]]], None]) -> None:
        storage = cast(JournalStorage, self._storage)
        view = _TableView(storage.store.tables.get(self.name, {}))
        updater(cast(dict[int, Mapping[Any, Any]], view))
        ops = view.ops(self.name)
        if ops:
            _commit(storage.store, ops)
        self.clear_cache()


class JournaledDB(TinyDB):
    """TinyDB over a Store. Pass the Store as the only argument."""

    table_class = JournaledTable

    def __init__(self, store: Store) -> None:
        super().__init__(store, storage=JournalStorage)
        self.store = store
        self._finishing: set[asyncio.Future[None]] = set()

    async def write(self, fn: Callable[[], T]) -> T:
        """Run TinyDB writes in `fn` on the event loop without blocking it on fsync; return once all of them
        are durable. Raises StorageRefused (and rolls back) when any was refused."""
        result, seqs = self.start_write(fn)
        await self.finish_write(seqs)
        return result

    def start_write(self, fn: Callable[[], T]) -> tuple[T, list[int]]:
        """The first half of `write`: run `fn` now (its records are queued before this returns) and hand back
        the records' sequence numbers to pass to `finish_write`."""
        seqs: list[int] = []
        token = _DEFERRED.set(seqs)
        try:
            result = fn()
        except BaseException:
            if seqs:  # some of fn's writes were queued before it failed: still see them through
                self._finishing.add(asyncio.ensure_future(self.finish_write(seqs)))
                self._finishing = {f for f in self._finishing if not f.done()}
            raise
        finally:
            _DEFERRED.reset(token)
        return result, seqs

    async def finish_write(self, seqs: list[int]) -> None:
        """The second half of `write`: wait until every record is durable; on a refusal roll back and raise."""
        refused: StorageRefused | None = None
        for seq in seqs:
            try:
                await self.store.journal.watch(seq)  # cancelling the waiter never cancels the record
            except StorageRefused as error:
                refused = error
        if refused is not None:
            self.store.rollback()
            raise refused


def _commit(store: Store, ops: list[Op]) -> None:
    deferred = _DEFERRED.get()
    if deferred is None:
        store.commit_sync(ops)
    else:
        deferred.append(store.commit(ops))
