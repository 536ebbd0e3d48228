"""The outbox (appliance.ports.Outbox): orders, payments, e-mails waiting for the ground window.

Items live in the TinyDB table `outbox` on the journal (appliance.storage.tinystore), so an append is durable
(journaled and fsynced, group-committed with its neighbours) when `append` returns. Each item's id is a UUID
that is its Idempotency-Key forever. States: pending -> delivered (only once the ground station confirmed)
or pending -> dead (kept with the reason). Logs name ids and kinds only, never a payload (e-mail addresses).

An item may carry the request that made it (`append(..., request={"key": ..., ...})`: the passenger portal's
Idempotency-Key, as a digest, and what it answered), written in the same journal record as the item, so
`find_request(key)` finds it again after a restart. Requests are found for REQUEST_KEEP_S (two days, by the
item's wall stamp), at most MAX_REQUESTS of them (the oldest are forgotten first, with a warning); pruning
delivered items spares those whose request is still kept.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from tinydb import Query

from appliance.metrics import Metrics
from appliance.ports import OUTBOX_KINDS, OutboxItem, StorageRefused
from appliance.storage.metrics import StorageMetrics
from appliance.storage.store import gc_paused
from appliance.storage.tinystore import JournaledDB

log = logging.getLogger("appliance.storage.outbox")

TABLE = "outbox"
REQUEST_KEEP_S = 2 * 86400.0
MAX_REQUESTS = 100_000
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
        self._metrics = metrics.of(StorageMetrics) if metrics is not None else None
        self._db: JournaledDB | None = None
        self._index: dict[str, int] = {}  # item id -> TinyDB doc id
        self._inflight: set[str] = set()  # appended, not yet durable: not offered for delivery
        self._next_seq = 1
        self._pending_counts: dict[str, int] = {}  # kind -> pending items (kept incrementally)
        # kind -> ids of its durable pending items: made by one scan at the first `pending(kind)` (after READY,
        # not in attach's pass on the way to it), kept with every change of state from then on. Payments'
        # limits and status ask for a kind's items often; with 100,000 orders kept a scan each was 50-300 ms.
        self._pending_ids: dict[str, set[str]] | None = None
        self._dead = 0  # dead-lettered items (kept incrementally: status documents ask for it often)
        if self._metrics is not None:  # every known kind has its samples (0) from the first scrape
            for kind in OUTBOX_KINDS:
                self._metrics.outbox_pending.labels(kind=kind).set(0)
                self._metrics.outbox_delivered.labels(kind=kind)
        self._requests: dict[str, tuple[int, float]] = {}  # request key -> (doc id, created wall), oldest first

    def attach(self, db: JournaledDB) -> None:
        self._db = db
        index: dict[str, int] = {}
        counts: dict[str, int] = {}
        dead = 0
        last_seq = 0
        requests: list[tuple[int, str, int, float]] = []
        # One pass over the raw documents (no TinyDB Document per order, one lookup per field, no calls where
        # an operator does): at boot this is every order still kept, 100,000 after a long flight, and it is
        # on the way to READY=1. The cyclic GC is paused: the pass allocates and frees nothing cyclic.
        with gc_paused():
            for doc_id, doc in db.store.tables.get(TABLE, {}).items():
                index[doc["id"]] = int(doc_id)
                seq = int(doc["seq"])
                if seq > last_seq:  # noqa: PLR1730 - an operator, not a call of max() per order
                    last_seq = seq
                kind = str(doc["kind"])
                state = doc["state"]
                if state == PENDING:
                    counts[kind] = counts.get(kind, 0) + 1
                else:
                    dead += state == DEAD
                    if kind not in counts:
                        counts[kind] = 0
                if "request" in doc:
                    request = doc["request"]
                    if isinstance(request, dict) and isinstance(request.get("key"), str):
                        requests.append((seq, request["key"], int(doc_id), float(doc["created_wall"])))
        self._index = index
        self._pending_counts = counts
        self._pending_ids = None
        self._dead = dead
        self._requests = {}
        for _, key, doc_id_, created in sorted(requests):
            self._remember_request(key, doc_id_, created)
        self._next_seq = last_seq + 1
        self._update_gauges()

    def detach(self) -> None:
        self._db = None

    def _table_db(self) -> JournaledDB:
        if self._db is None:
            raise StorageRefused("storage is not started")
        return self._db

    # --- OrderSink / Outbox --------------------------------------------------------------------------------

    async def append(self, kind: str, payload: Mapping[str, Any],
                     request: Mapping[str, Any] | None = None) -> OutboxItem:
        """`request` (optional, JSON, with a string "key") is kept with the item for `find_request`; a key
        already kept raises ValueError (the caller must look it up first, under its own lock)."""
        db = self._table_db()
        if not isinstance(kind, str) or not kind:
            raise ValueError("kind must be a non-empty string")
        if request is not None:
            if not isinstance(request.get("key"), str) or not request["key"]:
                raise ValueError("a request needs a string key")
            if self.find_request(request["key"]) is not None:
                raise ValueError("this request key is already kept")
        body = dict(payload)  # what JSON cannot hold is refused by the commit, before anything is written
        item_id = new_id()
        seq = self._next_seq
        self._next_seq += 1
        stamp = self._stamp()
        doc = {"id": item_id, "seq": seq, "kind": kind, "payload": body, "created_wall": stamp["wall"],
               "stamp": stamp, "attempts": 0, "state": PENDING, "last_error": None}
        if request is not None:
            doc["request"] = dict(request)
        table = db.table(TABLE)
        self._inflight.add(item_id)
        try:
            doc_id, seqs = db.start_write(lambda: table.insert(doc))  # queued now, in call order
        except BaseException:
            self._inflight.discard(item_id)
            raise
        # shield: once queued, the item is bookkept even if the caller is cancelled (it will be delivered)
        return await asyncio.shield(self._settle(db, seqs, doc, doc_id))

    async def _settle(self, db: JournaledDB, seqs: list[int], doc: dict[str, Any], doc_id: int) -> OutboxItem:
        try:
            await db.finish_write(seqs)
        finally:
            self._inflight.discard(doc["id"])
        self._index[doc["id"]] = doc_id
        if "request" in doc:
            self._remember_request(doc["request"]["key"], doc_id, float(doc["created_wall"]))
        self._count(doc["kind"], doc["id"], +1)
        log.info("outbox: %s %s queued (seq %d)", doc["kind"], doc["id"], doc["seq"])
        return _item(doc)

    def find_request(self, key: str) -> tuple[OutboxItem, dict[str, Any]] | None:
        """The item made by the request `key` and that request, while it is kept (see the module's note);
        None when unknown, forgotten, or storage is not started."""
        found = self._requests.get(key)
        if found is None or self._db is None:
            return None
        doc_id, created = found
        if self._stamp()["wall"] - created > REQUEST_KEEP_S:
            return None
        doc = self._db.table(TABLE).get(doc_id=doc_id)
        if doc is None or doc.get("request", {}).get("key") != key:
            return None
        return _item(doc), dict(doc["request"])

    def progress(self, item_id: str) -> dict[str, Any] | None:
        """Where an item is (see ports.OrderSink.progress); None when unknown or storage is not started."""
        if self._db is None or item_id not in self._index:
            return None
        doc = self._db.table(TABLE).get(doc_id=self._index[item_id])
        if doc is None:
            return None
        return {"state": doc["state"], "attempts": int(doc["attempts"]), "receipt": doc.get("receipt"),
                "reason": doc.get("reason"), "last_error": doc.get("last_error"),
                "inflight": item_id in self._inflight}

    def _remember_request(self, key: str, doc_id: int, created: float) -> None:
        """Index a kept request; past MAX_REQUESTS or REQUEST_KEEP_S the oldest go (the dict is in seq order)."""
        self._requests[key] = (doc_id, created)
        while self._requests:
            oldest = next(iter(self._requests))
            if len(self._requests) <= MAX_REQUESTS and created - self._requests[oldest][1] <= REQUEST_KEEP_S:
                break
            if len(self._requests) > MAX_REQUESTS:
                log.warning("outbox: more than %d requests in %d h: the oldest key is forgotten early",
                            MAX_REQUESTS, REQUEST_KEEP_S // 3600)
            del self._requests[oldest]

    def _raw_docs(self) -> list[dict[str, Any]]:
        """Every document of the table as the store holds it (read only: no TinyDB Document per order, so a
        scan of 100,000 orders costs milliseconds; the health checks and the delivery loop scan often)."""
        if self._db is None:
            return []
        return list(self._db.store.tables.get(TABLE, {}).values())

    def pending(self, kind: str | None = None) -> list[OutboxItem]:
        """Durable pending items (of `kind`: from its id set, not a scan of every order), oldest first."""
        if kind is None:
            docs = [d for d in self._raw_docs() if d["state"] == PENDING and d["id"] not in self._inflight]
        else:
            docs = self._pending_of(kind)
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
            self._count(doc["kind"], item_id, -1)
        elif doc["state"] == DEAD:  # the ground took it after all
            self._dead -= 1
        log.info("outbox: %s %s delivered", doc["kind"], item_id)

    async def record_attempt(self, item_id: str, error: str) -> None:
        doc = self._doc(item_id)
        await self._update(item_id, {"attempts": int(doc["attempts"]) + 1, "last_error": str(error)[:500],
                                     "last_attempt": self._stamp()})

    async def dead_letter(self, item_id: str, reason: str) -> None:
        doc = self._doc(item_id)
        await self._update(item_id, {"state": DEAD, "reason": str(reason)[:500], "dead": self._stamp()})
        if doc["state"] == PENDING:
            self._count(doc["kind"], item_id, -1)
        if doc["state"] != DEAD:
            self._dead += 1
        log.warning("outbox: %s %s dead-lettered: %s", doc["kind"], item_id, str(reason)[:200])

    def dead_letters(self) -> list[dict[str, Any]]:
        docs = sorted((d for d in self._raw_docs() if d["state"] == DEAD), key=lambda d: int(d["seq"]))
        return [{"id": d["id"], "seq": d["seq"], "kind": d["kind"], "payload": d["payload"],
                 "created_wall": d["created_wall"], "attempts": d["attempts"], "reason": d.get("reason", ""),
                 "last_error": d.get("last_error")} for d in docs]

    def dead_count(self) -> int:
        return self._dead

    def counts(self) -> dict[str, int]:
        return dict(sorted(self._pending_counts.items()))

    def listing(self, limit: int = 100) -> dict[str, dict[str, dict[str, Any]]]:
        """Pending and dead-lettered items for engineers, by state ("pending", "dead") and kind, oldest first:
        per kind the count and the first `limit` items with id, seq, created_wall, attempts, last_error,
        last_attempt_wall (and for dead ones reason, dead_wall). Never a payload: the error texts have the
        item's own payload strings and anything shaped like an e-mail address replaced by "[redacted]" (a
        ground service may echo what it refused). Empty when storage is not attached."""
        result: dict[str, dict[str, dict[str, Any]]] = {PENDING: {}, DEAD: {}}
        if self._db is None:
            return result
        docs = self._db.table(TABLE).search(_Q.state.one_of([PENDING, DEAD]))
        for doc in sorted(docs, key=lambda d: int(d["seq"])):
            if doc["id"] in self._inflight:
                continue
            group = result[doc["state"]].setdefault(str(doc["kind"]), {"count": 0, "items": []})
            group["count"] += 1
            if len(group["items"]) >= limit:
                continue
            secrets = _payload_strings(doc.get("payload"))
            entry: dict[str, Any] = {
                "id": doc["id"], "seq": int(doc["seq"]), "created_wall": float(doc["created_wall"]),
                "attempts": int(doc["attempts"]), "last_error": _redact(doc.get("last_error"), secrets),
                "last_attempt_wall": _wall(doc.get("last_attempt")),
            }
            if doc["state"] == DEAD:
                entry |= {"reason": _redact(doc.get("reason"), secrets), "dead_wall": _wall(doc.get("dead"))}
            group["items"].append(entry)
        return result

    def delivered_count(self) -> int:
        return sum(d["state"] == DELIVERED for d in self._raw_docs())

    async def prune_delivered(self, keep: int = 1000) -> int:
        """Forget all but the `keep` most recent delivered items (the ground has them), except those whose
        request is still kept (a retry must still find its answer). Returns how many."""
        db = self._table_db()
        table = db.table(TABLE)
        delivered = sorted(table.search(_Q.state == DELIVERED), key=lambda d: int(d["seq"]))
        kept = {doc_id for doc_id, _ in self._requests.values()}
        now = self._stamp()["wall"]
        drop = [d for d in delivered[: max(0, len(delivered) - keep)]
                if d.doc_id not in kept or now - float(d["created_wall"]) > REQUEST_KEEP_S]
        if drop:
            await db.write(lambda: table.remove(doc_ids=[d.doc_id for d in drop]))
            for d in drop:
                self._index.pop(d["id"], None)
                request = d.get("request")
                if isinstance(request, dict) and self._requests.get(request.get("key", ""), (None,))[0] == d.doc_id:
                    del self._requests[request["key"]]
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

    def _count(self, kind: str, item_id: str, delta: int) -> None:
        """Item `item_id` of `kind` became pending (+1, durable) or is no longer (-1)."""
        self._pending_counts[kind] = self._pending_counts.get(kind, 0) + delta
        if self._pending_ids is not None:
            ids = self._pending_ids.setdefault(kind, set())
            if delta > 0:
                ids.add(item_id)
            else:
                ids.discard(item_id)
        self._update_gauges()

    def _pending_of(self, kind: str) -> list[dict[str, Any]]:
        """The raw documents of `kind`'s durable pending items (in no order)."""
        if self._db is None:
            return []
        docs = self._db.store.tables.get(TABLE, {})
        if self._pending_ids is None:
            by_kind: dict[str, set[str]] = {}
            for doc in docs.values():
                if doc["state"] == PENDING and doc["id"] not in self._inflight:
                    by_kind.setdefault(doc["kind"], set()).add(doc["id"])
            self._pending_ids = by_kind
        index = self._index
        return [doc for item_id in self._pending_ids.get(kind, ())
                if (doc := docs.get(str(index[item_id]))) is not None and doc["state"] == PENDING]

    def _update_gauges(self) -> None:
        if self._metrics is None:
            return
        for kind in dict.fromkeys((*OUTBOX_KINDS, *self._pending_counts)):
            self._metrics.outbox_pending.labels(kind=kind).set(self._pending_counts.get(kind, 0))


_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+")


def _payload_strings(payload: Any) -> list[str]:
    """Every string of at least two characters in a payload (nested), longest first."""
    found: set[str] = set()
    pending = [payload]
    while pending:
        value = pending.pop()
        if isinstance(value, str) and len(value) >= 2:
            found.add(value)
        elif isinstance(value, Mapping):
            pending.extend(value.values())
        elif isinstance(value, list | tuple):
            pending.extend(value)
    return sorted(found, key=len, reverse=True)


def _redact(text: Any, secrets: list[str]) -> str | None:
    if text is None:
        return None
    result = str(text)
    for secret in secrets:
        result = result.replace(secret, "[redacted]")
    return _EMAIL.sub("[redacted]", result)


def _wall(stamp: Any) -> float | None:
    wall = stamp.get("wall") if isinstance(stamp, Mapping) else None
    return float(wall) if isinstance(wall, int | float) else None


def _item(doc: Mapping[str, Any]) -> OutboxItem:
    return OutboxItem(id=doc["id"], seq=int(doc["seq"]), kind=doc["kind"], payload=doc["payload"],
                      created_wall=float(doc["created_wall"]), attempts=int(doc["attempts"]))
