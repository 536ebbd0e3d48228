"""Real kills: a writer process SIGKILLed at random moments; every append it acknowledged survives recovery."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from appliance.storage.store import Store
from tests.conftest import python_module, subprocess_env

KILLS = 200


def _recovered_ids(directory: Path) -> tuple[set[str], list[str]]:
    store = Store.open(directory)
    try:
        docs = list(store.tables.get("outbox", {}).values())
        ids = {doc["id"] for doc in docs}
        assert len(ids) == len(docs), "an outbox id was used twice"
        return ids, [str(p) for p in store.recovery.corruption]
    finally:
        store.close()


@pytest.mark.slow
def test_sigkill_never_loses_an_acknowledged_append(tmp_path: Path, record_property: Callable[[str, object], None],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "journal"
    rng = random.Random(7)
    parent = subprocess.Popen(python_module("tests.storage_killwriter", str(directory)), env=subprocess_env(),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    assert parent.stdin is not None and parent.stdout is not None
    acked: set[str] = set()
    killed_during_recovery = 0
    killed_while_writing = 0
    started = time.monotonic()
    try:
        for life in range(KILLS):
            parent.stdin.write(f"life {life}\n")
            parent.stdin.flush()
            kind, pid = parent.stdout.readline().split()
            assert kind == "pid"
            ready = False
            acked_before = len(acked)
            if life % 2:  # half the kills land while it writes, half anywhere (often during recovery)
                ready = parent.stdout.readline().strip() == "ready"
                assert ready
                time.sleep(rng.uniform(0.0, 0.05))
            else:
                time.sleep(rng.uniform(0.0, 0.06))
            os.kill(int(pid), signal.SIGKILL)
            while (line := parent.stdout.readline().strip()) != "reaped":
                assert line, "the writer's parent died"
                if line == "ready":
                    ready = True
                elif line.startswith("ack "):
                    acked.add(line[4:])
            killed_during_recovery += not ready
            killed_while_writing += len(acked) > acked_before
            found, corruption = _recovered_ids(directory)
            assert not corruption, f"life {life}: a kill reported as corruption: {corruption}"
            lost = acked - found
            assert not lost, f"life {life}: {len(lost)} acknowledged append(s) lost, e.g. {sorted(lost)[:3]}"
    finally:
        parent.stdin.close()
        parent.wait(timeout=10)
    elapsed = time.monotonic() - started
    record_property("sigkills", KILLS)
    with capsys.disabled():
        print(f"\nstorage kills: {KILLS} SIGKILLs ({killed_during_recovery} during recovery, {killed_while_writing} "
              f"while writing), {len(acked)} "
              f"acknowledged appends all recovered, {elapsed:.1f} s")
    assert killed_while_writing >= KILLS // 4  # the kills did land among acknowledged writes
