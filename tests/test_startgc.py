"""No cyclic collection while the daemon starts; the start's objects frozen and collection back on at READY."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance import startgc
from tests.conftest import free_port, subprocess_env
from tests.ops_support import base_config, toml_dump, write_token


@pytest.fixture
def collector() -> Iterator[None]:
    """Whatever a test does to this process's collector is undone after it."""
    was = gc.isenabled()
    yield
    startgc._paused = False
    gc.unfreeze()
    if was:
        gc.enable()


@pytest.mark.usefixtures("collector")
def test_a_pause_is_resumed_with_the_objects_frozen() -> None:
    startgc.pause()
    assert not gc.isenabled() and startgc.paused()
    kept = [[n] for n in range(1000)]  # what a start allocates and keeps
    frozen = gc.get_freeze_count()
    startgc.resume()
    assert gc.isenabled() and not startgc.paused()
    assert gc.get_freeze_count() >= frozen + len(kept)
    startgc.resume()  # a second resume (the daemon's failed-start path) changes nothing
    assert gc.isenabled()


@pytest.mark.usefixtures("collector")
def test_a_collector_it_did_not_pause_is_left_alone() -> None:
    gc.disable()  # someone else's choice (a program that runs the daemon inside it)
    startgc.pause()
    startgc.resume()
    assert not gc.isenabled() and gc.get_freeze_count() == 0


# Run as `appliance run` is: cli.main, the real daemon; at READY=1 it reports the collector and stops itself.
_PROBE = """
import gc, json, sys
from appliance import cli, daemon
seen = {}
announce = daemon.Daemon._announce_ready
def probe(self):
    announce(self)
    seen.update(enabled=gc.isenabled(), frozen=gc.get_freeze_count())
    self.request_stop("probe")
daemon.Daemon._announce_ready = probe
status = cli.main(["run", "--config", sys.argv[1]])
print(json.dumps({"status": status, **seen}))
"""


def test_the_daemon_collects_again_from_ready_on(tmp_path: Path) -> None:
    write_token(tmp_path / "maintenance.token")
    config = tmp_path / "appliance.toml"
    config.write_text(toml_dump(base_config(tmp_path, free_port(), portal={"listen": f"127.0.0.1:{free_port()}"})))
    out = subprocess.run([sys.executable, "-c", _PROBE, str(config)], env=subprocess_env(), capture_output=True,
                         text=True, timeout=60, check=True).stdout
    seen = json.loads(out.splitlines()[-1])
    assert seen["status"] == 0
    assert seen["enabled"] is True
    assert seen["frozen"] > 10_000  # 0 unless frozen: the start's objects (imports, components: ~90k here)
