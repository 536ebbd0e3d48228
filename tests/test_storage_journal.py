"""The journal's framing and recovery: torn tails are truncated quietly, corruption is reported, never skipped
silently, and what is valid after it is kept."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

from appliance.alarms import Alarms
from appliance.component import Status
from appliance.metrics import Metrics
from appliance.storage.component import StorageComponent
from appliance.storage.config import StorageConfig
from appliance.storage.framing import HEADER_SIZE, SEGMENT_HEADER_SIZE, encode_record, scan_segment
from appliance.storage.journal import Journal
from appliance.storage.store import Store
from appliance.timebase import ManualClock


def test_records_are_8_byte_aligned_and_round_trip() -> None:
    for size in range(0, 40):
        frame = encode_record(7, 1, b"p" * size)
        assert len(frame) % 8 == 0 and len(frame) >= HEADER_SIZE + size
    data = b"\0" * SEGMENT_HEADER_SIZE + encode_record(1, 1, b"a") + encode_record(2, 1, b"bb", 1)
    scan = scan_segment(data, 0, last_segment=True)
    assert [(r.seq, r.payload, r.batch_end) for r in scan.records] == [(1, b"a", False), (2, b"bb", True)]
    assert not scan.damage and scan.good_end == len(data)


def _journal_with_batches(path: Path, batches: int, per_batch: int) -> list[int]:
    journal, _ = Journal.open(path)

    async def fill() -> list[int]:
        seqs: list[int] = []
        for b in range(batches):
            seqs += await asyncio.gather(*(journal.append(1, f"b{b}r{r}".encode() * 20) for r in range(per_batch)))
        return seqs

    seqs = asyncio.run(fill())
    journal.close()
    return seqs


def _segment(path: Path) -> Path:
    return next(p for p in sorted(path.glob("seg-*.log")) if p.stat().st_size > SEGMENT_HEADER_SIZE)


def _records_end(segment: Path) -> int:
    """Where the records end: the zeros after them are the journal's space written ahead."""
    return len(segment.read_bytes().rstrip(b"\0"))


@pytest.mark.parametrize("tear", ["file ends mid-record", "rest of the record zeros"])
def test_torn_tail_is_truncated_and_not_reported_as_corruption(tmp_path: Path, tear: str) -> None:
    seqs = _journal_with_batches(tmp_path, 5, 4)
    segment = _segment(tmp_path)
    end = _records_end(segment)
    assert segment.stat().st_size > end  # zeros ahead of the records
    with segment.open("r+b") as f:  # tear the last record in half
        if tear == "file ends mid-record":
            f.truncate(end - 40)
        else:
            f.seek(end - 40)
            f.write(bytes(40))
    journal, recovery = Journal.open(tmp_path)
    assert [r.seq for r in recovery.records] == seqs[:-1]
    assert recovery.problems and all(p.torn for p in recovery.problems)
    assert not recovery.corruption
    journal.close()
    assert segment.stat().st_size < end - 40  # the torn record is gone from the file


def test_the_zeros_ahead_of_the_records_are_not_damage(tmp_path: Path) -> None:
    """A journal closed cleanly (or cut after a whole batch) reopens with nothing to report: the zeros after
    the last batch are space written ahead, in the last segment and in sealed ones."""
    seqs = _journal_with_batches(tmp_path, 3, 4)
    journal, recovery = Journal.open(tmp_path)
    journal.close()
    assert [r.seq for r in recovery.records] == seqs
    assert recovery.problems == []
    again, recovery = Journal.open(tmp_path)  # the first one's last segment is sealed now, zeros and all
    again.close()
    assert [r.seq for r in recovery.records] == seqs and recovery.problems == []


def test_corruption_before_the_tail_is_reported_and_later_records_kept(tmp_path: Path) -> None:
    seqs = _journal_with_batches(tmp_path, 6, 3)
    segment = _segment(tmp_path)
    data = bytearray(segment.read_bytes())
    flip = SEGMENT_HEADER_SIZE + (_records_end(segment) - SEGMENT_HEADER_SIZE) // 3  # an early, fsynced batch
    data[flip] ^= 0x40
    segment.write_bytes(bytes(data))
    journal, recovery = Journal.open(tmp_path)
    journal.close()
    assert len(recovery.corruption) == 1
    problem = recovery.corruption[0]
    assert problem.file == segment.name and "corrupt" in problem.reason and "sequence" in problem.reason
    recovered = [r.seq for r in recovery.records]
    assert recovered[-1] == seqs[-1]  # what follows the damage is still recovered
    assert 0 < len(seqs) - len(recovered) <= 3
    assert segment.stat().st_size == len(data)  # the file is kept as it is, not truncated


def test_corrupt_sealed_segment_and_snapshot_make_health_fail(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "journal", segment_bytes=1024)
    for i in range(40):
        store.commit_sync([["put", "t", str(i), {"pad": "w" * 100}]])
    store.close()
    sealed = sorted((tmp_path / "journal").glob("seg-*.log"))[0]
    data = bytearray(sealed.read_bytes())
    data[-20] ^= 0xFF  # the tail of a sealed segment cannot be torn: it was fsynced before the next began
    sealed.write_bytes(bytes(data))

    clock = ManualClock()
    alarms = Alarms(clock, Metrics())
    storage = StorageComponent(StorageConfig(dir=str(tmp_path)), clock, alarms=alarms)

    async def run() -> None:
        await storage.start()
        check = storage.health()
        assert check.status == Status.FAIL and "corruption" in check.reason and sealed.name in check.reason
        assert alarms.is_active("storage_corruption")
        await storage.stop()  # checkpoints: the damaged segment is no longer needed, but it is kept

    asyncio.run(run())
    assert not sealed.exists()
    assert [p.name.split(".log")[0] for p in (tmp_path / "journal" / "corrupt").iterdir()] == [sealed.stem]
    alarms.ack("storage_corruption")
    assert not alarms.is_active("storage_corruption")
    again = StorageComponent(StorageConfig(dir=str(tmp_path)), clock)
    asyncio.run(again.start())
    assert again.health().status == Status.PASS  # reported once, kept aside, not reported forever
    asyncio.run(again.stop())


def test_corrupt_snapshot_is_quarantined_and_reported(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.commit_sync([["put", "t", "a", {"v": 1}]])
    store.checkpoint().result()
    store.commit_sync([["put", "t", "b", {"v": 2}]])
    store.close()
    snapshot = tmp_path / "snapshot"
    data = bytearray(snapshot.read_bytes())
    data[-3] ^= 1
    snapshot.write_bytes(bytes(data))
    again = Store.open(tmp_path)
    assert [p.file for p in again.recovery.corruption] == ["snapshot"]
    assert again.tables["t"] == {"b": {"v": 2}}  # what the journal still holds
    assert list((tmp_path / "corrupt").iterdir())  # kept for inspection
    again.close()


def test_checkpoint_bounds_the_journal(tmp_path: Path) -> None:
    store = Store.open(tmp_path, segment_bytes=2048, checkpoint_bytes=8 * 1024)
    for i in range(200):
        store.commit_sync([["put", "t", str(i % 50), {"i": i, "pad": "c" * 100}]])
    store.close()
    assert len(list(tmp_path.glob("seg-*.log"))) <= 8
    again = Store.open(tmp_path)
    assert len(again.recovery.records) < 100 and again.recovery.snapshot_seq > 0
    assert again.tables["t"]["49"]["i"] == 199
    again.close()


def test_read_only_check_for_fsck(tmp_path: Path) -> None:
    from appliance.storage.check import check_state_dir

    assert check_state_dir(tmp_path)["errors"] == []
    _journal_with_batches(tmp_path / "journal", 4, 3)
    segment = _segment(tmp_path / "journal")
    data = bytearray(segment.read_bytes())
    data[SEGMENT_HEADER_SIZE + 10] ^= 1
    segment.write_bytes(bytes(data))
    before = sorted((p.name, p.stat().st_size) for p in (tmp_path / "journal").iterdir())
    report = check_state_dir(tmp_path)
    assert len(report["errors"]) == 1 and "CORRUPT" in report["errors"][0]
    assert sorted((p.name, p.stat().st_size) for p in (tmp_path / "journal").iterdir()) == before  # untouched


def test_lost_tail_of_a_sealed_segment_is_reported(tmp_path: Path) -> None:
    store = Store.open(tmp_path, segment_bytes=1024)
    for i in range(30):
        store.commit_sync([["put", "t", str(i), {"pad": "v" * 100}]])
    store.close()
    sealed = sorted(tmp_path.glob("seg-*.log"))[1]
    data = sealed.read_bytes()
    sealed.write_bytes(data[:-200] + b"\0" * 200)  # the disk lost the last fsynced write: zeros
    again = Store.open(tmp_path)
    assert any("missing before this segment" in str(p) for p in again.recovery.corruption)
    again.close()


def test_unusable_records_are_reported_not_fatal(tmp_path: Path) -> None:
    journal, _ = Journal.open(tmp_path)
    journal.append_sync(1, b'[["put","t","a",{"v":1}]]')
    journal.append_sync(1, b'{"not": "a list of operations"}')
    journal.append_sync(9, b"a record type nobody knows")
    journal.append_sync(1, b"not json at all")
    journal.append_sync(1, b'[["put","t","b",{"v":2}]]')
    journal.close()
    store = Store.open(tmp_path)
    assert store.tables["t"] == {"a": {"v": 1}, "b": {"v": 2}}
    assert len(store.recovery.corruption) == 3
    assert all("unusable" in p.reason for p in store.recovery.corruption)
    store.close()


def test_replay_rebuilds_every_kind_of_transaction(tmp_path: Path) -> None:
    """Recovery's inline path (a lone put into a known table) and the general one give the state memory held."""
    store = Store.open(tmp_path, checkpoint_bytes=1 << 40)
    store.commit_sync([["put", "t", "a", {"v": 1}]])  # a lone put creating its table
    store.commit_sync([["put", "t", "b", {"v": 2}]])  # a lone put into a known table (the inline path)
    store.commit_sync([["put", "t", "a", {"v": 3}]])  # overwrite
    store.commit_sync([["put", "u", "x", [1, 2]], ["put", "t", "c", None], ["del", "t", "b"]])
    store.commit_sync([["put", "v", "gone", {}]])
    store.commit_sync([["clear", "v"]])
    store.commit_sync([["del", "t", "never there"]])
    store.commit_sync([["put", "u", "y", "s"]])
    before = {name: dict(docs) for name, docs in store.tables.items()}
    store.journal.close()  # a crash: no checkpoint
    journal, _ = Journal.open(tmp_path)
    journal.append_sync(1, b'[["put","t","n",NaN]]')  # orjson refuses NaN, the standard parser takes it
    journal.append_sync(1, b'[["put","t",["unhashable"],{}]]')
    journal.append_sync(1, b'[["put","t"]]')
    journal.close()
    again = Store.open(tmp_path)
    assert math.isnan(again.tables["t"].pop("n"))
    assert again.tables == before == {"t": {"a": {"v": 3}, "c": None}, "u": {"x": [1, 2], "y": "s"}}
    assert [p.reason.split(":")[0] for p in again.recovery.corruption] == [
        f"record {journal.durable_seq - 1} unusable", f"record {journal.durable_seq} unusable"]
    again.close()
