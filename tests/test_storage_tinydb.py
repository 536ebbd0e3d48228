"""TinyDB on the journal: the query layer stays TinyDB, every write is a journaled delta."""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

import pytest
from tinydb import Query, where
from tinydb.operations import increment

from appliance.ports import StorageRefused
from appliance.storage.store import Store
from appliance.storage.tinystore import JournaledDB
from tests.test_storage_io_errors import FaultyOps


def reopen(store: Store, path: Path) -> tuple[Store, JournaledDB]:
    store.close()
    again = Store.open(path)
    return again, JournaledDB(again)


def test_writes_survive_reopen_and_queries_work(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    db = JournaledDB(store)
    seats = db.table("seats")
    ids = seats.insert_multiple([{"seat": f"{row}A", "row": row, "paid": False} for row in range(1, 31)])
    assert ids == list(range(1, 31))
    seats.update({"paid": True}, where("row") < 4)
    seats.update(increment("row"), doc_ids=[30])
    seats.remove(where("row") == 10)
    seats.upsert({"seat": "99Z", "row": 99, "paid": True}, where("seat") == "99Z")
    db.table("scratch").insert({"x": 1})
    db.drop_table("scratch")

    store, db = reopen(store, tmp_path)
    seats = db.table("seats")
    assert len(seats) == 30
    assert seats.count(Query().paid == True) == 4  # noqa: E712 - a TinyDB query, not a comparison
    assert seats.get(doc_id=30)["row"] == 31
    assert seats.get(where("row") == 10) is None
    assert "scratch" not in db.tables()
    assert seats.insert({"seat": "new"}) == 32  # ids continue after a restart
    store.checkpoint().result()
    seats.truncate()
    store, db = reopen(store, tmp_path)
    assert len(db.table("seats")) == 0
    assert not store.recovery.problems
    store.close()
    assert not list(tmp_path.glob("*.json"))  # no JSON file written in place


def test_insert_cost_does_not_grow_with_the_table(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    table = JournaledDB(store).table("big")
    journaled = []
    for size in (100, 10_000):
        table.insert_multiple({"n": i, "pad": "x" * 50} for i in range(size - len(table)))
        before = store.journal.bytes_since_checkpoint
        table.insert({"n": -1, "pad": "x" * 50})
        journaled.append(store.journal.bytes_since_checkpoint - before)
    assert journaled[0] == journaled[1]  # one small record, whatever the table's size
    store.close()


async def test_async_writes_group_commit_and_read_your_writes(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    db = JournaledDB(store)
    table = db.table("orders")
    doc_ids = await asyncio.gather(*(db.write(lambda i=i: table.insert({"i": i})) for i in range(100)))
    assert sorted(doc_ids) == list(range(1, 101))
    assert store.journal.batches < 50
    n = await db.write(lambda: table.update({"done": True}, where("i") < 10))
    assert len(n) == 10 and table.count(where("done") == True) == 10  # noqa: E712
    store, db = reopen(store, tmp_path)
    assert db.table("orders").count(where("done") == True) == 10  # noqa: E712
    store.close()


async def test_refused_write_leaves_nothing_in_memory(tmp_path: Path) -> None:
    ops = FaultyOps("fsync", errno.EIO, 1, only="")
    store = Store.open(tmp_path, ops)
    db = JournaledDB(store)
    table = db.table("t")
    table.insert({"kept": 1})
    ops.arm()
    with pytest.raises(StorageRefused, match="EIO"):
        await db.write(lambda: table.insert({"lost": 1}))
    with pytest.raises(StorageRefused):
        table.update({"kept": 2}, doc_ids=[1])
    assert table.all() == [{"kept": 1}]
    store.close()
    again = Store.open(tmp_path)
    assert list(again.tables["t"].values()) == [{"kept": 1}]
    again.close()
