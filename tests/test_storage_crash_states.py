"""Every crash state: record a workload's file operations, rebuild every state a power cut could leave, recover
each one and check it (see tests/storage_crashfs.py for the file-system model)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from appliance.fs.atomic import atomic_write_bytes
from appliance.storage.store import Store
from tests.storage_crashfs import CrashState, MemOps, RecordingOps, crash_states, marks_of

MIN_STATES = 10_000


async def _workload(root: Path, ops: RecordingOps, rounds: int, seed: int) -> dict[str, dict[str, Any]]:
    """Group-committed appends from many writers, segment rotation, checkpoints, atomic replaces."""
    rng = random.Random(seed)
    store = Store.open(root / "journal", ops, segment_bytes=6 * 1024, checkpoint_bytes=1 << 40)
    submitted: dict[str, dict[str, Any]] = {}
    floor = 0

    async def writer(key: str) -> None:
        await store.commit_async([["put", "log", key, submitted[key]]])
        ops.mark("ack", key)

    for r in range(rounds):
        keys = [f"r{r}w{w}" for w in range(rng.choice([1, 1, 2, 5, 17, 40]))]
        for key in keys:
            size = rng.randrange(300, 1200) if rng.random() < 0.2 else rng.randrange(5, 80)
            submitted[key] = {"k": key, "pad": "x" * size}
        await asyncio.gather(*(writer(k) for k in keys))
        if r % 4 == 3:
            await asyncio.wrap_future(store.checkpoint())
        if r % 5 == 1:
            floor += 1
            data = json.dumps({"floor": floor, "pad": "y" * rng.randrange(0, 900)}).encode()
            await asyncio.to_thread(atomic_write_bytes, root / "time-floor.json", data, ops=ops)
            ops.mark("floor", floor)
    store.close()
    return submitted


class _Acks:
    """What the workload had acknowledged after its first n marks (states come in increasing n)."""

    def __init__(self, marks: list[tuple[Any, ...]]) -> None:
        self.marks = marks
        self.seen = 0
        self.records: set[str] = set()
        self.floor = 0

    def upto(self, n: int) -> tuple[set[str], int]:
        if n < self.seen:
            self.seen, self.records, self.floor = 0, set(), 0
        for kind, value in self.marks[self.seen : n]:
            if kind == "ack":
                self.records.add(value)
            else:
                self.floor = max(self.floor, value)
        self.seen = n
        return self.records, self.floor


def _check(state: CrashState, root: Path, submitted: dict[str, dict[str, Any]], acks: _Acks) -> None:
    acked, floor_acked = acks.upto(state.marks)
    ops = MemOps(root, state.files, state.dirs)
    store = Store.open(root / "journal", ops, segment_bytes=6 * 1024, checkpoint_bytes=1 << 40)
    try:
        where = f"crash after op {state.point} ({state.variant})"
        assert not store.recovery.corruption, f"{where}: a crash reported as corruption: {store.recovery.problems}"
        snapshot_keys: set[str] = set()
        if store.recovery.snapshot is not None:
            snapshot_keys = set(json.loads(store.recovery.snapshot)["tables"].get("log", {}))
        replayed = [op[2] for r in store.recovery.records for op in json.loads(r.payload)]
        assert len(replayed) == len(set(replayed)), f"{where}: a record replayed twice"
        assert not snapshot_keys & set(replayed), f"{where}: a record both in the snapshot and replayed"
        docs = store.tables.get("log", {})
        missing = [key for key in acked if key not in docs]
        assert not missing, f"{where}: acknowledged records lost: {sorted(missing)[:5]}"
        for key, doc in docs.items():
            assert submitted.get(key) == doc, f"{where}: record {key} not whole or never written"
    finally:
        store.close()
    floor_file = state.files.get("time-floor.json")
    if floor_acked:
        assert floor_file is not None, f"{where}: acknowledged time floor lost"
    if floor_file is not None:
        assert json.loads(floor_file)["floor"] >= floor_acked, f"{where}: time floor went back"


@dataclass
class Recorded:
    root: Path
    log: list[tuple[Any, ...]]
    submitted: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    root = tmp_path_factory.mktemp("recorded")
    ops = RecordingOps(root)
    submitted = asyncio.run(_workload(root, ops, rounds=110, seed=3))
    return Recorded(root, ops.log, submitted)


@pytest.mark.slow
def test_every_crash_state_recovers(recorded: Recorded, tmp_path: Path,
                                    record_property: Callable[[str, object], None],
                                    artifacts_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    real_checks = 0
    count = 0
    acks = _Acks(marks_of(recorded.log))
    for state in crash_states(recorded.log, seed=3):
        _check(state, recorded.root, recorded.submitted, acks)
        count += 1
        if state.variant == "all" and state.point // 300 >= real_checks:
            # Now and then the same state is written to a real directory and recovered from disk: same verdict.
            target = tmp_path / f"real-{real_checks}"
            MemOps(recorded.root, state.files, state.dirs).materialize(target)
            store = Store.open(target / "journal")
            assert not store.recovery.corruption
            store.close()
            real_checks += 1
    record_property("crash_states", count)
    (artifacts_dir / "storage-crash-states.txt").write_text(f"{count}\n")
    with capsys.disabled():
        print(f"\nstorage crash harness: {count} crash states checked ({real_checks} also on a real disk)")
    assert count >= MIN_STATES


def test_a_crash_during_recovery_recovers(recorded: Recorded, record_property: Callable[[str, object], None],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Recovery repairs (truncates torn tails, drops torn segments, starts a segment): crash it at every one of
    its own operations, in every way, and recover again."""
    acks = _Acks(marks_of(recorded.log))
    root = recorded.root
    sampled = nested = 0
    for state in crash_states(recorded.log, seed=5):
        if not (state.variant.startswith("last write") or state.variant == "durable only") or state.point % 9:
            continue
        inner = MemOps(root, state.files, state.dirs)
        rec = RecordingOps(root, inner=inner, existing=list(state.files))
        Store.open(root / "journal", rec, segment_bytes=6 * 1024, checkpoint_bytes=1 << 40).close()
        sampled += 1
        for again in crash_states(rec.log, seed=state.point, initial=state.files, initial_dirs=state.dirs):
            again.marks = state.marks
            again.point, again.variant = state.point, f"{state.variant}, then recovery cut at {again.variant}"
            _check(again, root, recorded.submitted, acks)
            nested += 1
    record_property("crash_states_during_recovery", nested)
    with capsys.disabled():
        print(f"\nstorage crash harness: {nested} crash states during the recovery of {sampled} crash states")
    assert sampled >= 50 and nested >= 1000
