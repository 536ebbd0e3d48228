"""The outbox (appliance.ports.Outbox): orders, payments, e-mails waiting for the ground window.

Items live in the TinyDB table `outbox` on the journal (appliance.storage.tinystore), so an append is durable
(journaled and fsynced, group-committed with its neighbours) when `append` returns. Each item's id is a UUID
that is its Idempotency-Key forever. States: pending -> delivered (only once the ground station confirmed)
or pending -> dead (kept with the reason). Logs name ids and kinds only, never a payload (e-mail addresses).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from tinydb import Query

from appliance.metrics import Metrics
from appliance.ports import OUTBOX_KINDS, OutboxItem, StorageRefused
from appliance.storage.tinystore import JournaledDB

log = logging.getLogger("appliance.storage.outbox")

TABLE = "outbox"
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
_Q = Query()
# UUIDs (version 4) from a generator seeded once from os.urandom: uuid.uuid4() reads os.urandom on every call,
# which costs ~50 us on a virtual machine. Idempotency keys must be unique, not secret.
_ids = random.Random()
_ids_lock = threading.Lock()


def _after_fork() -> None:
    """A forked child must not repeat its parent's ids (nor inherit a held lock)."""
    global _ids_lock
    _ids.seed()
    _ids_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)


def new_id() -> str:
    with _ids_lock:
        bits = _ids.getrandbits(128)
    return str(uuid.UUID(int=bits, version=4))


class JournalOutbox:
    """Implements Outbox. Built before the store is open; `attach(db)` when storage has started."""

    def __init__(self, stamp: Callable[[], dict[str, Any]], metrics: Metrics | None = None) -> None:
        self._stamp = stamp
        self._metrics = metrics
        self._db: JournaledDB | None = None
        self._index: dict[str, int] = {}  # item id -> TinyDB doc id
        self._inflight: set[str] = set()  # appended, not yet durable: not offered for delivery
        self._next_seq = 1
        self._pending_counts: dict[str, int] = {}  # kind -> pending items (kept incrementally)
        if metrics is not None:  # every known kind has its samples (0) from the first scrape
            for kind in OUTBOX_KINDS:
                metrics.outbox_pending.labels(kind=kind).set(0)
                metrics.outbox_delivered.labels(kind=kind)

    def attach(self, db: JournaledDB) -> None:
        self._db = db
        self._index = {}
        self._pending_counts = {}
        last_seq = 0
        # One pass over the raw documents (no TinyDB Document per order): at boot this is every order still
        # kept, and it is on the way to READY=1.
        for doc_id, doc in db.store.tables.get(TABLE, {}).items():
            self._index[doc["id"]] = int(doc_id)
            last_seq = max(last_seq, int(doc["seq"]))
            kind = str(doc["kind"])
            self._pending_counts[kind] = self._pending_counts.get(kind, 0) + (doc["state"] == PENDING)
        self._next_seq = last_seq + 1
        self._update_gauges()

    def detach(self) -> None:
        self._db = None

    def _table_db(self) -> JournaledDB:
        if self._db is None:
            raise StorageRefused("storage is not started")
        return self._db

    # --- OrderSink / Outbox --------------------------------------------------------------------------------

    async def append(self, kind: str, payload: Mapping[str, Any]) -> OutboxItem:
        db = self._table_db()
        if not isinstance(kind, str) or not kind:
            raise ValueError("kind must be a non-empty string")
        body = dict(payload)  # what JSON cannot hold is refused by the commit, before anything is written
        item_id = new_id()
        seq = self._next_seq
        self._next_seq += 1
        stamp = self._stamp()
        doc = {"id": item_id, "seq": seq, "kind": kind, "payload": body, "created_wall": stamp["wall"],
               "stamp": stamp, "attempts": 0, "state": PENDING, "last_error": None}
        table = db.table(TABLE)
        self._inflight.add(item_id)
        try:
            doc_id, futures = db.start_write(lambda: table.insert(doc))  # queued now, in call order
        except BaseException:
            self._inflight.discard(item_id)
            raise
        # shield: once queued, the item is bookkept even if the caller is cancelled (it will be delivered)
        return await asyncio.shield(self._settle(db, futures, doc, doc_id))

    async def _settle(self, db: JournaledDB, futures: list[Any], doc: dict[str, Any], doc_id: int) -> OutboxItem:
        try:
            await db.finish_write(futures)
        finally:
            self._inflight.discard(doc["id"])
        self._index[doc["id"]] = doc_id
        self._count(doc["kind"], +1)
        log.info("outbox: %s %s queued (seq %d)", doc["kind"], doc["id"], doc["seq"])
        return _item(doc)

    def _raw_docs(self) -> list[dict[str, Any]]:
        """Every document of the table as the store holds it (read only: no TinyDB Document per order, so a
        scan of 100,000 orders costs milliseconds; the health checks and the delivery loop scan often)."""
        if self._db is None:
            return []
        return list(self._db.store.tables.get(TABLE, {}).values())

    def pending(self, kind: str | None = None) -> list[OutboxItem]:
        docs = [d for d in self._raw_docs() if d["state"] == PENDING and (kind is None or d["kind"] == kind)
                and d["id"] not in self._inflight]  # fmt: skip
        return [_item(d) for d in sorted(docs, key=lambda d: int(d["seq"]))]

    async def mark_delivered(self, item_id: str, receipt: Mapping[str, Any]) -> None:
        doc = self._doc(item_id)
        if doc["state"] == DELIVERED:
            return
        fields = {"state": DELIVERED, "receipt": json.loads(json.dumps(dict(receipt))),
                  "delivered": self._stamp()}
        await self._update(item_id, fields)
        if self._metrics is not None:
            self._metrics.outbox_delivered.labels(kind=doc["kind"]).inc()
        if doc["state"] == PENDING:
            self._count(doc["kind"], -1)
        log.info("outbox: %s %s delivered", doc["kind"], item_id)

    async def record_attempt(self, item_id: str, error: str) -> None:
        doc = self._doc(item_id)
        await self._update(item_id, {"attempts": int(doc["attempts"]) + 1, "last_error": str(error)[:500],
                                     "last_attempt": self._stamp()})

    async def dead_letter(self, item_id: str, reason: str) -> None:
        doc = self._doc(item_id)
        await self._update(item_id, {"state": DEAD, "reason": str(reason)[:500], "dead": self._stamp()})
        if doc["state"] == PENDING:
            self._count(doc["kind"], -1)
        log.warning("outbox: %s %s dead-lettered: %s", doc["kind"], item_id, str(reason)[:200])

    def dead_letters(self) -> list[dict[str, Any]]:
        docs = sorted((d for d in self._raw_docs() if d["state"] == DEAD), key=lambda d: int(d["seq"]))
        return [{"id": d["id"], "seq": d["seq"], "kind": d["kind"], "payload": d["payload"],
                 "created_wall": d["created_wall"], "attempts": d["attempts"], "reason": d.get("reason", ""),
                 "last_error": d.get("last_error")} for d in docs]

    def counts(self) -> dict[str, int]:
        return dict(sorted(self._pending_counts.items()))

    def delivered_count(self) -> int:
        return sum(d["state"] == DELIVERED for d in self._raw_docs())

    async def prune_delivered(self, keep: int = 1000) -> int:
        """Forget all but the `keep` most recent delivered items (the ground has them). Returns how many."""
        db = self._table_db()
        table = db.table(TABLE)
        delivered = sorted(table.search(_Q.state == DELIVERED), key=lambda d: int(d["seq"]))
        drop = delivered[: max(0, len(delivered) - keep)]
        if drop:
            await db.write(lambda: table.remove(doc_ids=[d.doc_id for d in drop]))
            for d in drop:
                self._index.pop(d["id"], None)
        return len(drop)

    # --- helpers -------------------------------------------------------------------------------------------

    def _doc(self, item_id: str) -> dict[str, Any]:
        db = self._table_db()
        doc_id = self._index.get(item_id)
        doc = db.table(TABLE).get(doc_id=doc_id) if doc_id is not None else None
        if doc is None:
            raise KeyError(f"no outbox item {item_id}")
        return dict(doc)

    async def _update(self, item_id: str, fields: dict[str, Any]) -> None:
        db = self._table_db()
        table = db.table(TABLE)
        doc_id = self._index[item_id]
        await db.write(lambda: table.update(fields, doc_ids=[doc_id]))

    def _count(self, kind: str, delta: int) -> None:
        self._pending_counts[kind] = self._pending_counts.get(kind, 0) + delta
        self._update_gauges()

    def _update_gauges(self) -> None:
        if self._metrics is None:
            return
        for kind in dict.fromkeys((*OUTBOX_KINDS, *self._pending_counts)):
            self._metrics.outbox_pending.labels(kind=kind).set(self._pending_counts.get(kind, 0))


def _item(doc: Mapping[str, Any]) -> OutboxItem:
    return OutboxItem(id=doc["id"], seq=int(doc["seq"]), kind=doc["kind"], payload=doc["payload"],
                      created_wall=float(doc["created_wall"]), attempts=int(doc["attempts"]))
