"""The simulator as its own process (`python -m firmware_sim`): its JSON line, the control routes of the
contract (PUT /discretes/{NAME}, PUT /sensors/{name}) driving the real discretes component and sensor drivers."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from appliance.discretes import COMPONENT as DISCRETES
from hal.sensors.bus import open_bus
from hal.sensors.lm75 import LM75
from tests.conftest import python_module, subprocess_env
from tests.hardware.harness import FsyncJournal, StopRecorder, make_ctx, until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def simulator() -> Iterator[dict[str, Any]]:
    process = subprocess.Popen(python_module("firmware_sim", "--control", "127.0.0.1:0"),
                               env=subprocess_env(), stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert process.stdout is not None
    try:
        endpoints = json.loads(process.stdout.readline())
        yield endpoints
    finally:
        process.terminate()
        process.wait(10)


async def test_control_routes_drive_the_appliance(tmp_path: Path, simulator: dict[str, Any]) -> None:
    assert simulator["discretes.pin_factory"] == "sim"
    assert simulator["sensors.bus"].startswith("tcp://127.0.0.1:")
    base = f"http://{simulator['control']}"
    ctx = make_ctx(tmp_path, {"pin_factory": "sim", "pin_address": simulator["discretes.pin_address"]},
                   request_stop=StopRecorder())
    journal = FsyncJournal(tmp_path / "journal.jsonl")
    ctx.flushables.append(journal)
    component = ctx.build(DISCRETES)
    await component.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.put(f"{base}/discretes/GPIO_ACFAILSIG", json={"pulse_ms": 50}) as response:
                assert response.status == 200
            await until(lambda: journal.resumes >= 1)
            assert journal.flushes == journal.resumes == 1 and ctx.request_stop.reasons == []

            async with http.put(f"{base}/discretes/OVERTEMPSIG", json={"value": True}) as response:
                assert response.status == 200
                assert (await response.json())["OVERTEMPSIG"]["active"] is True
            await asyncio.sleep(0.1)
            assert ctx.alarms.is_active("over_temperature")

            component.set_output("ISO_OUT1", True, "test")
            async with http.get(f"{base}/state") as response:
                state = await response.json()
            assert state["hardware"]["discretes"]["ISO_OUT1"]["active"] is True
            assert state["hardware"]["discretes"]["OVERTEMPSIG"]["active"] is True

            async with http.put(f"{base}/sensors/board_temperature", json={"value": 71.5}) as response:
                assert response.status == 200
            bus = open_bus(simulator["sensors.bus"])
            assert await asyncio.to_thread(LM75(bus).temperature) == 71.5
            bus.close()

            for path, body, status in [
                ("/discretes/ENB0SIG", {"value": False}, 400),  # an output: the appliance drives it
                ("/discretes/NOPE", {"value": True}, 404),
                ("/discretes/ALERT", {"pulse_ms": -5}, 400),
                ("/discretes/ALERT", {"value": "yes"}, 400),
                ("/discretes/ALERT", [1], 400),
                ("/sensors/humidity", {"value": 3}, 404),
                ("/sensors/current", {"value": "lots"}, 400),
                ("/sensors/current", {}, 400),
            ]:
                async with http.put(f"{base}{path}", json=body) as response:
                    assert response.status == status, path
                    assert "error" in await response.json()
            async with http.put(f"{base}/discretes/ALERT", data=b"{not json") as response:
                assert response.status == 400
            async with http.post(f"{base}/hardware/scenario", json={"name": "nope"}) as response:
                assert response.status == 404
            async with http.post(f"{base}/hardware/scenario", json={"name": "overtemp", "bogus": 1}) as response:
                assert response.status == 400
    finally:
        await component.stop()
        journal.close()
