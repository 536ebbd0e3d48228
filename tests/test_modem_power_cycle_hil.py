"""Hardware in the loop: a hung modem is recovered by the last rung of the ladder, a power cycle through the
real discrete (GSM_POWER_STATUS on the simulator's pin server), with the simulator as its own process."""

from __future__ import annotations

import asyncio
import json
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.appconfig import load_config
from appliance.discretes import COMPONENT as DISCRETES
from appliance.modem import COMPONENT as MODEM
from appliance.simlaunch import sim_defaults
from tests.component_rig import Rig
from tests.conftest import python_module, subprocess_env

FAST_MODEM = {
    "poll_interval": 0.2,
    "command_timeout": 0.3,
    "timeouts_before_recovery": 2,
    "reset_wait": 0.2,
    "power_off_seconds": 0.1,
    "failed_retry_interval": 0.5,
}


@pytest.fixture
def simulator() -> Iterator[dict[str, Any]]:
    process = subprocess.Popen(
        python_module("firmware_sim", "--control", "127.0.0.1:0", "--scenario", "gate"),
        stdout=subprocess.PIPE,
        env=subprocess_env(),
    )
    assert process.stdout is not None
    endpoints: dict[str, Any] = json.loads(process.stdout.readline())
    yield endpoints
    process.terminate()
    process.wait(timeout=10)


def control(endpoints: dict[str, Any], method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://{endpoints['control']}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


async def until(condition: Callable[[], bool], within: float) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_hung_modem_is_power_cycled_through_the_discrete(simulator: dict[str, Any], tmp_path: Path) -> None:
    defaults = sim_defaults(simulator, tmp_path)
    defaults.setdefault("groundlink", {"url": "http://127.0.0.1:9"})
    defaults.setdefault("avionics", {"port": "/dev/null"})
    defaults["modem"] = defaults.get("modem", {}) | FAST_MODEM
    ctx = Rig(load_config(None, defaults))
    discretes = ctx.build(DISCRETES)
    modem = ctx.build(MODEM)
    await discretes.start()
    await modem.start()
    try:
        await until(lambda: modem.registered, within=10)
        control(simulator, "PUT", "/modem", {"hang": True})
        await until(lambda: modem.recoveries["power-cycle"] >= 1, within=15)
        await until(lambda: modem.registered, within=10)
        state = control(simulator, "GET", "/state")
        assert state["modem"]["power_cycles"] == 1 and not state["modem"]["hang"]
        assert modem.recoveries["reopen"] >= 1 and modem.recoveries["reset"] >= 1
        audit = (tmp_path / ctx.config.discretes.audit_file).read_text()
        assert "GSM_POWER_STATUS" in audit
    finally:
        await modem.stop()
        await discretes.stop()
