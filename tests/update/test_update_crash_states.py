"""Every crash state of installing, switching, committing and rolling back releases (ALICE-style, the
file-system model of tests/storage_crashfs.py).

The recorded workload, from an empty disk, every step the real code of appliance.update (install with a tree
written like pip writes it: plain writes, no fsync; then the install's own flush and `.complete`): release A
installed and made current; B installed, put on trial, its start counted by the preflight, committed; C
installed, put on trial, rolled back by its failed health; then an engineer's rollback from B to A. A journal
record (appliance.storage.store) is appended and acknowledged between the steps, through the same recording.

Each crash state is booted the way the unit boots (the committed release's `appliance release preflight`,
here `Layout.preflight` over the state in memory), then checked: `current` names a release whose every file is
whole and of one version (never a mix), that version is one the workload had made current or was making
current at the cut and not a refused one (and the first release is never refused by a cut), the journal holds
every acknowledged record, and a second preflight agrees with the first (the boot's own repair is stable).
"""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path
from typing import Any

import pytest

from appliance.fs import formats
from appliance.storage.store import Store
from appliance.update.install import install
from appliance.update.layout import Layout
from appliance.update.manifest import MANIFEST, Release, Wheel
from tests.storage_crashfs import CrashState, MemOps, RecordingOps, crash_states, marks_of

MIN_STATES = 800
VERSIONS = ("1.0", "2.0", "3.0")
FORMATS = formats.declared()


def tree(version: str) -> dict[str, bytes]:
    """The files of release `version` as its install leaves them (the test's own expectation)."""
    rng = random.Random(version)
    return {"bin/appliance": f"#!/release {version}\n".encode(), "lib/code.py": rng.randbytes(1500),
            "lib/big.so": rng.randbytes(2600)}


def source(work: Path, version: str) -> Path:
    src = work / f"src-{version}"
    (src / "wheels").mkdir(parents=True)
    wheel = src / "wheels" / f"probe-{version}-py3-none-any.whl"
    wheel.write_bytes(random.Random(version).randbytes(700))
    release = Release(version, "3.11", f"probe=={version}", FORMATS,
                      (Wheel(wheel.name, 700, hashlib.sha256(wheel.read_bytes()).hexdigest()),))
    (src / MANIFEST).write_bytes(release.to_json())
    return src


def writer(ops: RecordingOps) -> Any:
    def populate(dest: Path, src: Path, release: Release, python: str, timeout: float) -> None:
        files = {**tree(release.version), MANIFEST: (src / MANIFEST).read_bytes()}
        for rel, data in files.items():
            ops.mkdir((dest / rel).parent)
            fd = ops.open(dest / rel, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            try:
                for offset in range(0, len(data), 1024):
                    ops.pwrite(fd, data[offset : offset + 1024], offset)
            finally:
                ops.close(fd)

    return populate


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[Any, ...]]]:
    work = tmp_path_factory.mktemp("update-recorded")
    base = work / "disk"
    base.mkdir()
    ops = RecordingOps(base)
    journal = Store.open(base / "state" / "journal", ops)
    counter = iter(range(1000))

    def ack() -> None:
        key = f"k{next(counter)}"
        journal.commit_sync([["put", "log", key, {"k": key}]])
        ops.mark("ack", key)

    layout = Layout(base / "opt", base / "state", ops=ops, wall=lambda: 1.0e9)
    populate = writer(ops)
    a, b, c = VERSIONS

    def step(name: str, version: str, action: Any) -> None:
        ops.mark("begin", name, version)
        action()
        ops.mark("done", name, version)
        ack()

    step("install", a, lambda: install(layout, source(work, a), "python", ops=ops, populate=populate))
    step("current", a, layout.mark_installed)
    step("install", b, lambda: install(layout, source(work, b), "python", ops=ops, populate=populate))
    step("current", b, lambda: layout.activate(b))
    step("start", b, layout.preflight)
    step("commit", b, layout.commit)
    step("install", c, lambda: install(layout, source(work, c), "python", ops=ops, populate=populate))
    step("current", c, lambda: layout.activate(c))
    step("current", b, lambda: layout.rollback_trial("health fail during the trial"))
    step("current", a, layout.rollback)
    journal.close()
    assert layout.link("current") == a and layout.refused() == {c: "health fail during the trial",
                                                                 b: "rolled back by an engineer"}
    return base, ops.log


def boot(state: CrashState, base: Path) -> tuple[str | None, MemOps]:
    ops = MemOps(base, state.files, state.dirs, state.links)
    layout = Layout(base / "opt", base / "state", ops=ops, wall=lambda: 2.0e9)
    layout.preflight()
    current = layout.link("current")
    if current is None:
        assert not layout.installed() or layout.link("committed") is None, "a release installed, none current"
        return None, ops
    want = {**tree(current)}
    root = base / "opt" / "releases" / current
    for rel, data in want.items():
        assert ops.read_bytes(root / rel) == data, f"release {current}: {rel} is not whole"
    assert layout.link("committed") is not None
    assert current not in layout.refused(), f"{current} runs although it was refused"
    assert VERSIONS[0] not in layout.refused(), f"the crash refused {VERSIONS[0]}, which the workload never refuses"
    second = Layout(base / "opt", base / "state", ops=ops, wall=lambda: 2.0e9)
    second.preflight()
    assert second.link("current") in (current, layout.link("committed")), "the boot's repair is not stable"
    return current, ops


def allowed(marks: list[tuple[Any, ...]]) -> set[str | None]:
    """What may be current after a cut: the last version made current, or the one being made current."""
    done = [m[2] for m in marks if m[0] == "done" and m[1] == "current"]
    now: set[str | None] = {done[-1] if done else None}
    if marks and marks[-1][0] == "begin" and marks[-1][1] == "current":
        now.add(marks[-1][2])
    return now


def check_journal(ops: MemOps, base: Path, acked: set[str]) -> None:
    store = Store.open(base / "state" / "journal", ops)
    try:
        assert not store.recovery.corruption, store.recovery.problems
        docs = store.tables.get("log", {})
        assert acked <= set(docs), f"acknowledged records lost: {sorted(acked - set(docs))}"
    finally:
        store.close()


def test_every_crash_state_boots_a_whole_release(recorded: tuple[Path, list[tuple[Any, ...]]],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    base, log = recorded
    marks = marks_of(log)
    count, outcomes = 0, {}
    for state in crash_states(log, seed=5):
        seen = marks[: state.marks]
        where = f"crash after op {state.point} ({state.variant}; last mark {seen[-1] if seen else None})"
        try:
            current, _ = boot(state, base)
            check_journal(MemOps(base, state.files, state.dirs, state.links), base,
                          {m[1] for m in seen if m[0] == "ack"})
        except AssertionError as error:
            raise AssertionError(f"{where}: {error}") from None
        assert current in allowed(seen), f"{where}: {current} is current, expected one of {allowed(seen)}"
        outcomes[str(current)] = outcomes.get(str(current), 0) + 1
        count += 1
    with capsys.disabled():
        print(f"\nupdate crash harness: {count} crash states checked (current after boot: {outcomes})")
    assert count >= MIN_STATES
    assert set(outcomes) == {"None", *VERSIONS}, outcomes
