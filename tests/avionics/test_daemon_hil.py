"""The whole daemon (`python -m appliance run --sim`) reading the built-in simulator's adapter: it opens the
port, loses it when the simulator unplugs the adapter, and is reading again within 2 s of the replug."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port, python_module, subprocess_env

pytestmark = pytest.mark.xdist_group("avionics-hil")


def _wait_for(lines: queue.Queue[str], text: str, within: float) -> float:
    started = time.monotonic()
    while True:
        left = within - (time.monotonic() - started)
        if left <= 0:
            raise AssertionError(f"the daemon did not log {text!r} within {within} s")
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            continue
        if text in line:
            return time.monotonic() - started


def test_daemon_reads_and_recovers_from_unplug(tmp_path: Path) -> None:
    control = f"127.0.0.1:{free_port()}"
    config = tmp_path / "appliance.toml"
    config.write_text(
        f'[sim]\ncontrol = "{control}"\nscenario = "flight"\n'
        f'[groundlink]\nurl = "http://127.0.0.1:{free_port()}"\n'
        f'[portal]\nlisten = "127.0.0.1:{free_port()}"\n'
        f'[maintenance]\nlisten = "127.0.0.1:{free_port()}"\n'
    )
    argv = python_module("appliance", "run", "--sim", "--config", str(config), "--state-dir", str(tmp_path / "state"))
    daemon = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                              env=subprocess_env(), cwd=tmp_path)
    lines: queue.Queue[str] = queue.Queue()
    assert daemon.stderr is not None
    stderr = daemon.stderr
    threading.Thread(target=lambda: [lines.put(line) for line in stderr], daemon=True).start()
    try:
        _wait_for(lines, "arinc429 open", 20.0)
        request = urllib.request.Request(f"http://{control}/avionics/faults", json.dumps(
            {"kind": "unplug", "seconds": 1}).encode(), method="POST", headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=5).read()
        _wait_for(lines, "device lost", 2.0)
        assert _wait_for(lines, "arinc429 open", 3.5) < 3.0  # 1 s unplugged + under 2 s to recover
    finally:
        daemon.send_signal(signal.SIGTERM)
        status = daemon.wait(timeout=20)
    assert status == 0
