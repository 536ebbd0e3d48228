"""The whole daemon (`python -m appliance run --sim`) on the simulator: a 50 ms interrupt is ridden through, a
real cut ends in an orderly stop with exit status 75 (EX_POWER_FAIL)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from appliance.lifecycle import EX_POWER_FAIL
from tests.conftest import free_port, python_module, subprocess_env

pytestmark = pytest.mark.timeout(90)


def put(url: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT")
    with urllib.request.urlopen(request, timeout=5) as response:
        result: dict[str, object] = json.loads(response.read())
        return result


def test_the_daemon_rides_through_then_stops_on_a_real_cut(tmp_path: Path) -> None:
    control = f"127.0.0.1:{free_port()}"
    config = tmp_path / "appliance.toml"
    config.write_text(
        '[avionics]\nport = "/dev/null"\n'
        '[groundlink]\nurl = "http://127.0.0.1:9/"\n'
        f'[portal]\nlisten = "127.0.0.1:{free_port()}"\n'
        f'[maintenance]\nlisten = "127.0.0.1:{free_port()}"\n'
        f'[sim]\ncontrol = "{control}"\n'
    )
    process = subprocess.Popen(
        python_module("appliance", "-v", "run", "--sim", "--config", str(config), "--state-dir", str(tmp_path / "s")),
        env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    lines: list[str] = []
    running = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if "running:" in line:
                running.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert running.wait(60), "".join(lines[-30:])
        put(f"http://{control}/discretes/GPIO_ACFAILSIG", {"pulse_ms": 50})
        deadline = time.monotonic() + 10
        while not any("writes resumed" in line for line in lines):
            assert time.monotonic() < deadline, "".join(lines[-30:])
            time.sleep(0.05)
        assert process.poll() is None  # rode through: still running
        put(f"http://{control}/discretes/GPIO_ACFAILSIG", {"value": True})
        assert process.wait(30) == EX_POWER_FAIL  # a power-fail stop: systemd restarts it (units/appliance.service)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        reader.join(5)
    text = "".join(lines)
    assert "no power after 200 ms" in text and "stopping: power fail" in text
