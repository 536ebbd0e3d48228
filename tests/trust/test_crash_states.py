"""Every crash state of a whole series of TUF metadata refreshes (ALICE-style, the lost-write-cache model of
tests/storage_crashfs.py), python-tuf's own writes included.

The recorded workload, on a real directory through RecordingOps, against a real aiohttp server serving the
ground's repository: the first refresh from the pinned root; a publish (timestamp -> snapshot -> targets); a
root rotation; a second root rotation with a publish; a timestamp-key rotation (root, snapshot and timestamp
re-signed); a refresh with nothing new; a publish with no new target; a rollback attack (an old timestamp
served: refused); a tampered targets file (refused after the new timestamp and snapshot were already written
into the generation); then the same publish served honestly. Each refresh is marked before it starts and
when it returned; after each, the harness's model of the disk must be the real tree (no write went around
the FileOps).

Each crash state is booted the way the daemon boots (TrustedMetadata over the state in memory, reading through
MemOps) and checked: what it uses is byte for byte one complete set some refresh committed, the last
acknowledged one or the one in progress at the cut (never half-written, never a mix); it verifies offline from
the pinned root (appliance's loader) and python-tuf's own TrustedMetadataSet accepts it as a trusted chain.
Then every distinct state is written to a real directory and the daemon's next refresh runs on it against the
server: it succeeds, reaches the ground's newest metadata and leaves no leftovers.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from tuf.api.metadata import Root, Targets
from tuf.ngclient._internal.trusted_metadata_set import TrustedMetadataSet
from tuf.ngclient.config import EnvelopeType

from appliance.trust.client import TrustedMetadata, reference_datetime
from appliance.trust.fetcher import LoopFetcher
from appliance.trust.refusal import Refusal
from appliance.trust.store import COPIED, CURRENT, HISTORY, GenerationStore
from tests.storage_crashfs import CrashState, MemOps, RecordingOps, crash_states, marks_of
from tests.trust.support import T_NOW, Ground, RepoServer, bundle, serve

MIN_STATES = 2000
MetadataSet = dict[str, bytes]  # "timestamp.json", ..., "root_history/2.root.json" -> bytes


def metadata_set(store: GenerationStore, gen: Path) -> MetadataSet:
    names = [*COPIED, *(f"{HISTORY}/{name}" for name in store.history(gen))]
    return {name: data for name in names if (data := store.read(gen, name)) is not None}


def _static(data: bytes) -> Callable[[web.Request], Any]:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=data)
    return answer


def _tampered(data: bytes) -> bytes:
    """The same length, one hex digit of the signature changed."""
    at = data.index(b'"sig":"') + len(b'"sig":"')
    return data[:at] + (b"1" if data[at:at + 1] == b"0" else b"0") + data[at + 1:]


class Workload:
    """The refreshes, recorded; `sets[i]` is what refresh i committed (None: it was refused)."""

    def __init__(self, ground: Ground, server: RepoServer, trusted: TrustedMetadata, ops: RecordingOps) -> None:
        self.ground, self.server, self.trusted, self.ops = ground, server, trusted, ops
        self.sets: list[MetadataSet | None] = []
        self.replays: list[tuple[int, MetadataSet]] = []  # (log length after a refresh, the real tree's bytes)

    async def refresh(self, expect: Refusal | None = None) -> None:
        step = len(self.sets)
        self.ops.mark("begin", step)
        outcome = await asyncio.to_thread(self.trusted.refresh, T_NOW)
        assert outcome.refusal is expect and outcome.ok is (expect is None), outcome
        current = self.trusted.store.current()
        assert current is not None
        committed = metadata_set(self.trusted.store, current)
        self.sets.append(committed if outcome.ok else None)
        self.replays.append((len(self.ops.log), _tree(self.trusted.store.dir)))  # (no state at a mark's point)
        self.ops.mark("committed" if outcome.ok else "refused", step)


def _tree(directory: Path) -> dict[str, bytes]:
    """Every file (bytes) and symlink (b"-> target") under `directory`, as the disk holds it."""
    found: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(directory):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath, name)
            rel = str(path.relative_to(directory))
            if path.is_symlink():
                found[rel] = b"-> " + os.readlink(path).encode()
            elif path.is_file():
                found[rel] = path.read_bytes()
    return found


def _state_tree(state: CrashState) -> dict[str, bytes]:
    return {**state.files, **{rel: b"-> " + target.encode() for rel, target in state.links.items()}}


async def record(ground: Ground, server: RepoServer, metadata_dir: Path, session: aiohttp.ClientSession,
                 work: Path) -> tuple[Workload, RecordingOps]:
    ops = RecordingOps(metadata_dir)
    fetcher = LoopFetcher(session, asyncio.get_running_loop(), read_timeout=5.0, min_rate=0.0)
    trusted = TrustedMetadata.from_files(metadata_dir, ground.pinned_root(), server.url, fetcher, ops=ops)
    w = Workload(ground, server, trusted, ops)
    await w.refresh()  # 0: from the pinned root alone
    ground.publish(bundle(work / "day1", {"news.txt": b"day one", "film.bin": os.urandom(4000)}), prefix="c")
    await w.refresh()  # 1: timestamp -> snapshot -> targets
    ground.rotate("root")
    await w.refresh()  # 2: a root rotation
    ground.rotate("root")
    ground.publish(bundle(work / "day2", {"news.txt": b"day two"}), prefix="c")
    await w.refresh()  # 3: another rotation and a publish in one window
    ground.rotate("timestamp")
    await w.refresh()  # 4: root 4, snapshot and timestamp re-signed by the new timestamp key
    old_timestamp = ground.metadata("timestamp.json").read_bytes()
    await w.refresh()  # 5: nothing new: the same metadata in a new generation
    ground.publish()
    await w.refresh()  # 6: snapshot and timestamp re-signed
    server.overrides["metadata/timestamp.json"] = _static(old_timestamp)
    await w.refresh(Refusal.ROLLBACK)  # 7: refused; the generation it began is removed
    server.overrides.clear()
    ground.publish(bundle(work / "day3", {"news.txt": b"day three"}), prefix="c")
    newest = max((ground.repo / "metadata").glob("*.targets.json"), key=lambda p: int(p.name.split(".")[0]))
    server.overrides[f"metadata/{newest.name}"] = _static(_tampered(newest.read_bytes()))
    await w.refresh(Refusal.LENGTH_OR_HASH)  # 8: refused after timestamp and snapshot were written
    server.overrides.clear()
    await w.refresh()  # 9: the same publish, honest
    return w, ops


def python_tuf_accepts(metadata: MetadataSet, pinned: bytes) -> dict[str, int]:
    """python-tuf's own verdict on a loaded set: a trusted chain from the pinned root, each role signed, the
    versions linked timestamp -> snapshot -> targets, nothing expired at the trusted time."""
    trusted = TrustedMetadataSet(pinned, EnvelopeType.METADATA)
    trusted.reference_time = reference_datetime(T_NOW)
    version = 2
    while (data := metadata.get(f"{HISTORY}/{version}.root.json")) is not None:
        trusted.update_root(data)
        version += 1
    trusted.update_timestamp(metadata["timestamp.json"])
    trusted.update_snapshot(metadata["snapshot.json"], trusted=True)
    trusted.update_delegated_targets(metadata["targets.json"], Targets.type, Root.type)
    return {"root": trusted.root.version, "timestamp": trusted.timestamp.version,
            "snapshot": trusted.snapshot.version, "targets": trusted.targets.version}


def allowed(sets: list[MetadataSet | None], seen: list[tuple[Any, ...]]) -> list[MetadataSet | None]:
    """What may be in use after a cut: the set the last acknowledged refresh committed (None before the
    first), and the set of the refresh in progress at the cut, if that refresh went on to commit one."""
    done = [m[1] for m in seen if m[0] == "committed"]
    ok: list[MetadataSet | None] = [sets[done[-1]] if done else None]
    if seen and seen[-1][0] == "begin" and sets[seen[-1][1]] is not None:
        ok.append(sets[seen[-1][1]])
    return ok


def _digest(metadata: MetadataSet | None) -> str:
    digest = hashlib.sha256()
    for name, data in sorted((metadata or {}).items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


class Boot:
    """The daemon's start over a crash state, in memory (TrustedMetadata reading through MemOps).

    The verification of a set (the appliance's loader and python-tuf's) is a pure function of its bytes and
    the pinned root, so it runs once per distinct set in use; which generation is in use, and what it holds,
    is read from every state."""

    def __init__(self, metadata_dir: Path, pinned: bytes, trusted: TrustedMetadata) -> None:
        self.metadata_dir, self.pinned, self.trusted = metadata_dir, pinned, trusted
        self.verified: dict[str, dict[str, int]] = {}

    def __call__(self, state: CrashState) -> MetadataSet | None:
        """The metadata the daemon would use after this cut (None: none yet, it starts from the pinned root)."""
        ops = MemOps(self.metadata_dir, state.files, state.dirs, state.links)
        booted = TrustedMetadata(self.metadata_dir, self.pinned, self.trusted.metadata_url,
                                 self.trusted.targets_url, fetcher=self.trusted.fetcher.inner, ops=ops)
        current = booted.store.current()
        if current is None:
            assert booted.view() is None
            return None
        in_use = metadata_set(booted.store, current)
        key = _digest(in_use)
        if key not in self.verified:
            view = booted.view()
            assert view is not None, f"{current.name} does not verify: the next boot would start from the pinned root"
            assert python_tuf_accepts(in_use, self.pinned) == view.versions()
            self.verified[key] = view.versions()
        return in_use


def _shape(state: CrashState, in_use: MetadataSet | None) -> str:
    """What the next refresh can depend on: the bytes of the set in use, and the names and kinds (and link
    targets) of everything else on the disk. Nothing reads a file outside the set in use (a leftover
    generation or temp file is removed by name), so its bytes are not part of it."""
    digest = hashlib.sha256(_digest(in_use).encode())
    for rel in sorted(state.files):
        digest.update(b"file " + rel.encode() + b"\0")
    for rel, target in sorted(state.links.items()):
        digest.update(b"link " + rel.encode() + b"\0" + target.encode() + b"\0")
    for rel in sorted(state.dirs):
        digest.update(b"dir " + rel.encode() + b"\0")
    return digest.hexdigest()


async def next_refresh(state: CrashState, target: Path, pinned: Path, url: str, *, fetcher: LoopFetcher,
                       newest: MetadataSet) -> None:
    """The daemon's next ground window on the crash state, on a real directory: it succeeds, uses the
    ground's newest metadata and leaves only `current` and its generation behind."""
    MemOps(target, state.files, state.dirs, state.links).materialize(target)
    trusted = TrustedMetadata.from_files(target, pinned, url, fetcher)
    outcome = await asyncio.to_thread(trusted.refresh, T_NOW)
    assert outcome.ok, outcome
    current = trusted.store.current()
    assert current is not None and metadata_set(trusted.store, current) == newest
    assert sorted(os.listdir(target)) == sorted([CURRENT, current.name])
    shutil.rmtree(target)


@pytest.mark.slow
async def test_every_crash_state_of_a_refresh_uses_a_whole_trusted_set(
        ground: Ground, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    metadata_dir = tmp_path / "trust"
    metadata_dir.mkdir()
    pinned = ground.pinned_root().read_bytes()
    async with serve(ground.repo) as server, aiohttp.ClientSession() as session:
        w, ops = await record(ground, server, metadata_dir, session, tmp_path)
        log, marks = ops.log, marks_of(ops.log)
        newest = w.sets[-1]
        assert newest is not None
        replays = dict(w.replays)
        boot = Boot(metadata_dir, pinned, w.trusted)
        count, outcomes = 0, {"none": 0, "previous": 0, "new": 0}
        distinct: dict[str, tuple[CrashState, str]] = {}
        for state in crash_states(log, seed=13):
            seen = marks[: state.marks]
            last = seen[-1] if seen else None
            where = f"crash after op {state.point} of {len(log)} ({state.variant}; last mark {last})"
            if state.variant == "all" and state.point in replays:
                # the harness saw every write: its model of the disk is the real tree, python-tuf's files included
                assert _state_tree(state) == replays.pop(state.point), f"{where}: a write went around the FileOps"
            try:
                in_use = boot(state)
            except AssertionError as error:
                raise AssertionError(f"{where}: {error}") from None
            ok = allowed(w.sets, seen)
            assert in_use in ok, f"{where}: in use {sorted(in_use or {})} is none of the allowed sets"
            outcomes["none" if in_use is None else "previous" if in_use == ok[0] else "new"] += 1
            distinct.setdefault(_shape(state, in_use), (state, where))
            count += 1
        assert not replays, f"no crash state at the end of refreshes {sorted(replays)}"
        fetcher = LoopFetcher(session, asyncio.get_running_loop(), read_timeout=5.0, min_rate=0.0)
        for n, (state, where) in enumerate(distinct.values()):
            try:
                await next_refresh(state, tmp_path / "boot" / str(n), ground.pinned_root(), server.url,
                                   fetcher=fetcher, newest=newest)
            except AssertionError as error:
                raise AssertionError(f"{where}: next refresh: {error}") from None
    with capsys.disabled():
        print(f"\ntrust crash harness: {count} crash states of {len(w.sets)} refreshes ({len(log)} operations) "
              f"checked; in use after the cut: {outcomes}; {len(boot.verified)} distinct sets verified; "
              f"{len(distinct)} distinct states refreshed again")
    assert count >= MIN_STATES
    assert all(outcomes.values()), outcomes  # the cut landed before the first commit, and on both sides of one


@pytest.mark.parametrize("hook", ["_persist_file", "_persist_root", "_update_root_symlink",
                                  "_load_local_metadata"])
def test_an_updater_without_the_persistence_hooks_refuses_to_start(
        hook: str, ground: Ground, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A python-tuf release that renamed a hook would write around the FileOps: refused, never run."""
    from tuf.ngclient import Updater

    from appliance.trust.updater import GenerationUpdater

    store = GenerationStore(tmp_path / "trust")
    gen = store.begin()
    monkeypatch.delattr(Updater, hook)
    with pytest.raises(RuntimeError, match=hook):
        GenerationUpdater(store, gen, "http://127.0.0.1:9/tuf/metadata/", None, None, None, None,
                          bootstrap=ground.pinned_root().read_bytes(), reference_time=reference_datetime(T_NOW))
    assert not any(gen.iterdir())  # nothing written before the refusal
