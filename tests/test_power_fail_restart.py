"""A power-fail stop under units/appliance.service: the daemon and the simulator as their own processes, the
daemon supervised as systemd would supervise it by that unit (tests/unit_supervisor.py reads its restart keys).

A long cut (GPIO_ACFAILSIG held) makes the daemon flush and stop in order with EX_POWER_FAIL (75), which the unit
restarts; the box survives, so the daemon is back, and its boot records the previous shutdown as a power fail.
An engineer's stop (SIGTERM) exits 0 and is not restarted."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from appliance.lifecycle import EX_POWER_FAIL
from tests.hil_harness import Aircraft, SimProcess
from tests.unit_supervisor import RestartPolicy

pytestmark = [pytest.mark.timeout(180), pytest.mark.xdist_group("power-fail-restart")]

UNIT = Path(__file__).resolve().parents[1] / "units" / "appliance.service"


def test_the_unit_restarts_a_power_fail_stop_and_only_that() -> None:
    policy = RestartPolicy.from_unit(UNIT)
    assert policy.shall_restart(EX_POWER_FAIL) and policy.result(EX_POWER_FAIL) == "success"
    assert not policy.shall_restart(0)  # a clean stop of its own
    assert not policy.shall_restart(78)  # a bad config: a restart would not fix it
    assert policy.shall_restart(1) and policy.shall_restart(-9)  # a crash, a kill
    assert not policy.shall_restart(EX_POWER_FAIL, explicit_stop=True)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_analyze_accepts_the_restart_keys(tmp_path: Path) -> None:
    shim = tmp_path / "appliance"
    shim.write_text("#!/bin/sh\nexit 0\n")
    shim.chmod(0o755)
    copy = tmp_path / UNIT.name
    binary = re.compile(r"/opt/appliance/(current|committed)/bin/appliance")
    copy.write_text(binary.sub(str(shim), UNIT.read_text()))
    for name in ("appliance-portal.socket", "appliance-maintenance.socket", "appliance-fsck.service"):
        (tmp_path / name).write_text(binary.sub(str(shim), (UNIT.parent / name).read_text()))
    result = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and "Restart" not in result.stderr, result.stderr


def test_a_power_fail_stop_is_restarted_and_recorded(tmp_path: Path) -> None:
    policy = RestartPolicy.from_unit(UNIT)
    sim = SimProcess("gate", 1.0)
    aircraft = Aircraft(tmp_path, sim)
    try:
        aircraft.start()
        aircraft.wait_notify("READY", "1", 60)
        assert sim.post("/discretes/GPIO_ACFAILSIG", {"value": True}, method="PUT")[0] == 200  # a long cut
        assert aircraft.process is not None
        returncode = aircraft.process.wait(30)
        log = aircraft.tail(200)
        assert returncode == EX_POWER_FAIL, log
        assert "no power after 200 ms" in log and "stopping: power fail" in log
        assert policy.shall_restart(returncode), "the unit would leave the daemon down for good"

        # the box survived the brown-out: power is back, systemd restarts the daemon after RestartSec
        assert sim.post("/discretes/GPIO_ACFAILSIG", {"value": False}, method="PUT")[0] == 200
        time.sleep(policy.restart_sec)
        aircraft.start()
        aircraft.wait_notify("READY", "1", 60)
        _, status = aircraft.get("/api/v1/status")
        boot = status["storage"]["boot"]
        assert boot["previous_shutdown_clean"] is True
        assert boot["last_shutdown_reason"].startswith("power fail on GPIO_ACFAILSIG"), boot

        returncode = aircraft.terminate()  # an engineer's stop: clean, and systemd leaves it stopped
        assert returncode == 0 and not policy.shall_restart(returncode, explicit_stop=True)
    finally:
        aircraft.close()
        sim.stop()
