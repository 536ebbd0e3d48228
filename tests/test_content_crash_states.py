"""Every crash state of a content install (ALICE-style, the file-system model of tests/storage_crashfs.py).

The recorded workload, from an empty disk: bundle A is staged (its files copied into staging/ block by block
without an fsync, as a plain copy would) and installed; then bundle B (files in nested subdirectories, one file
shared with A, a manifest) is staged and installed, which swaps `current` and removes A; then C replaces B the
same way. Between the content steps (after each staged file and each install) a record is appended to a
journal (appliance.storage.store) through the same recording, so its writes and fsyncs interleave with the
install's. Every crash state of that recording (every prefix of the operations x unsynced writes dropped x the
last unsynced write torn at a sector boundary, zeroed or filled with garbage: the generator of the journal
harness) is written to a real directory and booted the way the daemon boots the content store
(ContentComponent.start: recover, then the incremental check with repair, re-hashing what was being written
since the shutdown was not clean); the journal is recovered from the same state in memory.

Checked in every state, against the manifests and SHA-256 digests this test computed itself: the boot raises
nothing and reports no problem; `current` names exactly the bundle whose install returned last or the one
being installed after it (nothing or A before A's install returned), and that bundle is whole (its manifest
byte for byte, every listed file with the right size and SHA-256, nothing else); the store reports exactly that
bundle as active; the journal holds every record acknowledged before the cut, each whole.

Every state is checked (no sampling; the recording is deterministic, so is the count): the count is printed,
written to tests/artifacts/content-crash-states.txt and asserted above a floor. The journal harness
(tests/test_storage_crash_states.py) checks its own 10,000+ states in the same test command.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from appliance.content.component import ContentComponent
from appliance.content.config import ContentConfig
from appliance.content.manifest import MANIFEST_NAME, Manifest
from appliance.content.pack import pack
from appliance.content.store import ContentStore
from appliance.metrics import Metrics
from appliance.storage.store import Store
from tests.content_support import write_tree
from tests.storage_crashfs import CrashState, MemOps, RecordingOps, crash_states, marks_of

CHUNK = 4096
COPY_BLOCK = 2048  # the staging copy writes this much at a time (4 sectors: torn writes have room)
MIN_STATES = 1_300

VIDEO = random.Random(7).randbytes(2500)  # in both bundles
BUNDLES: dict[str, dict[str, int | bytes]] = {
    "A": {"catalog.json": b'{"v": "A"}', "news/a.txt": 3000, "video/b.bin": VIDEO},
    "B": {"catalog.json": b'{"v": "B"}', "news/c.txt": 4100, "games/puzzle/d.bin": 1500, "video/b.bin": VIDEO},
    "C": {"catalog.json": b'{"v": "C"}', "news/c.txt": 2100, "games/puzzle/d.bin": 1500},
}


@dataclass(frozen=True)
class Unclean:
    """The boot bookkeeping after a power cut."""

    boot_id: str = "crash"
    previous_shutdown_clean: bool = False
    unsafe_shutdowns: int = 1
    last_shutdown_reason: str = "power cut"


@dataclass
class Expected:
    manifest: bytes  # manifest.json exactly as install writes it
    digests: dict[str, str]  # path -> SHA-256 of the bytes this test wrote (not the code under test's)


@dataclass
class Recorded:
    root: Path  # the recorded content root (its log's paths are relative to its parent)
    log: list[tuple[Any, ...]]
    bundles: dict[str, Expected]


def _pack(work: Path, name: str) -> tuple[Manifest, Path, Expected]:
    src = work / f"src-{name}"
    write_tree(src, BUNDLES[name], seed=ord(name))
    manifest = pack(src, work / "ground" / name, bundle_id=name, chunk_size=CHUNK)
    files = [p for p in src.rglob("*") if p.is_file()]
    digests = {str(p.relative_to(src)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    assert set(digests) == set(BUNDLES[name])
    return manifest, work / "ground" / name, Expected(manifest.to_bytes(), digests)


def _stage(ops: RecordingOps, bundle: Path, manifest: Manifest, dest: Path, between: Callable[[], None]) -> None:
    """Copy the bundle's files into staging, block by block, without an fsync (install must sync them); call
    `between` after each file."""
    for entry in manifest.files:
        target = dest / entry.path
        ops.mkdir(target.parent)
        data = (bundle / entry.path).read_bytes()
        fd = ops.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            for offset in range(0, len(data), COPY_BLOCK):
                ops.pwrite(fd, data[offset : offset + COPY_BLOCK], offset)
        finally:
            ops.close(fd)
        between()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    work = tmp_path_factory.mktemp("content-recorded")
    base = work / "disk"
    base.mkdir()
    ops = RecordingOps(base)
    journal = Store.open(base / "journal", ops)
    appended = iter(range(1_000_000))

    def append() -> None:  # a journal record between two content steps, through the same recording
        key = f"k{next(appended)}"
        journal.commit_sync([["put", "log", key, {"k": key}]])
        ops.mark("ack", key)

    store = ContentStore(base / "content", ops)
    expected: dict[str, Expected] = {}
    for name in BUNDLES:
        manifest, bundle, expected[name] = _pack(work, name)
        store.ensure_layout()
        _stage(ops, bundle, manifest, store.staging / f"in-{name}", append)
        store.install(store.staging / f"in-{name}", manifest)
        ops.mark("installed", name)
        append()
    journal.close()
    assert store.installed() == [store.bundles / "C"]
    return Recorded(base / "content", ops.log, expected)


def _bundle_on_disk(root: Path, expected: dict[str, Expected]) -> str | None:
    """Which bundle `current` names, after checking it is whole; None when `current` is absent."""
    current = root / "current"
    if not os.path.lexists(current):
        return None
    directory = (root / os.readlink(current)).resolve()
    assert directory.parent == (root / "bundles").resolve(), f"current -> {os.readlink(current)}"
    assert directory.is_dir(), f"current -> {os.readlink(current)}, which is missing"
    manifest = (directory / MANIFEST_NAME).read_bytes()
    names = [name for name, want in expected.items() if want.manifest == manifest]
    assert len(names) == 1, f"the active manifest is neither A's nor B's: {manifest[:80]!r}"
    want = expected[names[0]]
    found = {str(p.relative_to(directory)) for p in directory.rglob("*") if not p.is_dir()}
    assert found == {*want.digests, MANIFEST_NAME}, f"bundle {names[0]}: files {sorted(found)}"
    listed = {f["path"]: f for f in json.loads(manifest)["files"]}
    for path, digest in want.digests.items():
        data = (directory / path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, f"bundle {names[0]}: {path} is not whole"
        assert listed[path]["sha256"] == digest and listed[path]["size"] == len(data)
    return names[0]


def _check_journal(state: CrashState, base: Path, acked: set[str]) -> None:
    """The journal records appended between the content steps: every acknowledged one there, each whole."""
    store = Store.open(base / "journal", MemOps(base, state.files, state.dirs, state.links))
    try:
        assert not store.recovery.corruption, f"journal: a crash reported as corruption: {store.recovery.problems}"
        docs = store.tables.get("log", {})
        assert acked <= set(docs), f"journal: acknowledged records lost: {sorted(acked - set(docs))}"
        assert all(doc == {"k": key} for key, doc in docs.items()), "journal: a record not whole"
    finally:
        store.close()


async def _boot_and_check(state: CrashState, target: Path, recorded: Recorded, metrics: Metrics) -> str | None:
    MemOps(recorded.root.parent, state.files, state.dirs, state.links).materialize(target)
    root = target / "content"
    config = ContentConfig(dir=str(root), rehash_mb_per_s=0, watch=False, scan_interval_s=3600)
    component = ContentComponent(config, metrics, Unclean())
    await component.start()
    try:
        assert not component.error, component.error
        report = component.boot_report
        assert report is not None
        assert not report.problems, [(p.kind, p.bundle, p.path) for p in report.problems]
        on_disk = _bundle_on_disk(root, recorded.bundles)
        assert component.store.active_id() == on_disk, f"the store reports {component.store.active_id()}"
        return on_disk
    finally:
        await component.stop()


async def _check_all(recorded: Recorded, tmp_path: Path) -> tuple[int, dict[str, int]]:
    marks = marks_of(recorded.log)
    metrics = Metrics(CollectorRegistry())
    outcomes: dict[str, int] = {}
    count = 0
    for state in crash_states(recorded.log, seed=11):
        installed = [value for kind, value in marks[: state.marks] if kind == "installed"]
        target = tmp_path / "state"
        where = f"crash after op {state.point} ({state.variant}; installed {installed})"
        try:
            _check_journal(state, recorded.root.parent, {v for kind, v in marks[: state.marks] if kind == "ack"})
            active = await _boot_and_check(state, target, recorded, metrics)
        except AssertionError as error:
            raise AssertionError(f"{where}: {error}") from None
        # the last install that returned, or the one after it (its install may have gone far enough)
        names = list(BUNDLES)
        allowed = names[len(installed) - 1 : len(installed) + 1] if installed else [None, names[0]]
        assert active in allowed, f"{where}: {active} active, expected one of {allowed}"
        outcomes[str(active)] = outcomes.get(str(active), 0) + 1
        count += 1
        shutil.rmtree(target)
    return count, outcomes


@pytest.mark.slow
def test_every_crash_state_of_a_content_install_boots_whole(
    recorded: Recorded, tmp_path: Path, record_property: Callable[[str, object], None], artifacts_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    count, outcomes = asyncio.run(_check_all(recorded, tmp_path))
    record_property("content_crash_states", count)
    (artifacts_dir / "content-crash-states.txt").write_text(f"{count}\n")
    with capsys.disabled():
        print(f"\ncontent crash harness: {count} crash states checked (active after boot: {outcomes})")
    assert count >= MIN_STATES
    assert all(outcomes.get(name, 0) for name in ["None", *BUNDLES]), outcomes
