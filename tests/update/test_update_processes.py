"""Releases switched, proved and rolled back with real processes: the simulator, real releases (venvs built by
the real installer from real wheels, tests/update/support.py), the daemon started the way the unit starts it
(tests/update/supervisor.py: the committed release's preflight, then `current/bin/appliance run`, the unit's
own restart rules), a release installed while the daemon runs and switched to by the daemon at the safe moment
(on the ground, no passenger stream).

Bad releases, each after the last: one that exits at start, one that never sends READY, one whose health fails
during its trial, one that cannot read the state. Each must be rolled back and refused, the old release serving
passengers again; the time from the bad release's start to the old one serving is printed. Then a good release
is taken through a SIGKILL storm during its install and during its trial, and committed.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.hil_harness import Aircraft, SimProcess
from tests.ops_support import http
from tests.update.supervisor import Unit
from tests.update.support import probe_release, release_env

# reads only format 2 (the state is in 1), writes 1 as well: it may go on trial, and its preflight refuses it
BAD_STATE = {name: {"reads": [2], "writes": [1, 2]} for name in ("journal", "snapshot", "state_files")}


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("releases")
    wanted: dict[str, tuple[str, dict[str, Any] | None]] = {
        "1.0.0": ("good", None), "1.1.0": ("exit", None), "1.2.0": ("noready", None),
        "1.3.0": ("healthfail", None), "1.4.0": ("good", BAD_STATE), "2.0.0": ("good", None),
    }
    with ThreadPoolExecutor(3) as pool:  # each build is a pip process of its own
        futures = {v: pool.submit(probe_release, work / v, v, b, state_formats=f) for v, (b, f) in wanted.items()}
        return {version: future.result() for version, future in futures.items()}


class Plane:
    def __init__(self, tmp: Path, sim: SimProcess, **update: Any) -> None:
        self.root = tmp / "opt"
        section = {"root": str(self.root), "python": sys.executable, "trial_seconds": 3.0, "max_starts": 2,
                   "quiet_seconds": 0.5, "check_seconds": 0.2, **update}
        self.aircraft = Aircraft(tmp, sim, update=section)
        self.env = release_env()
        self.unit = Unit(self.root, self.aircraft.config_path, self.env, tmp / "daemon.log", start_timeout=12.0)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "appliance", "release", *args, "--config",
                               str(self.aircraft.config_path)], capture_output=True, text=True, env=self.env,
                              timeout=300, check=False)

    def status(self) -> dict[str, Any]:
        done = self.cli("status", "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)  # type: ignore[no-any-return]

    def serving(self, version: str) -> bool:
        """The release `version` runs and answers passengers (and reports itself in /api/v1/status)."""
        try:
            status, _, _ = http("GET", f"http://127.0.0.1:{self.aircraft.portal_port}/api/v1/flight", timeout=2)
            code, body = self.aircraft.get("/api/v1/status")
        except OSError:
            return False
        return status == 200 and code == 200 and body.get("release", {}).get("running") == version

    def wait_serving(self, version: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.serving(version):
                return time.monotonic()
            assert not self.unit.ended, self.unit.ended
            time.sleep(0.1)
        raise AssertionError(f"{version} not serving after {timeout} s; starts {self.unit.starts}; preflights "
                             f"{self.unit.preflights[-4:]}; log:\n{self.aircraft.log.read_text()[-3000:]}")

    def install(self, release: Path) -> None:
        done = self.cli("install", str(release))
        assert done.returncode == 0, done.stderr


@pytest.fixture
def sim() -> Any:
    process = SimProcess("gate", 1.0)
    yield process
    process.stop()


@pytest.mark.slow
def test_bad_releases_are_rolled_back_and_refused(tmp_path: Path, sim: SimProcess, releases: dict[str, Path],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    plane = Plane(tmp_path, sim)
    plane.install(releases["1.0.0"])
    plane.unit.start()
    try:
        plane.wait_serving("1.0.0", 90)
        figures: dict[str, float] = {}
        reasons = {"1.1.0": "crash loop", "1.2.0": "crash loop", "1.3.0": "health fail during the trial",
                   "1.4.0": "cannot read the state"}
        for version, reason in reasons.items():
            starts = len(plane.unit.starts)
            plane.install(releases[version])
            deadline = time.monotonic() + 60
            while not plane.status()["refused"].get(version):
                assert time.monotonic() < deadline, f"{version} not refused: {plane.status()}"
                time.sleep(0.2)
            bad = [s for s in plane.unit.starts[starts:] if s.version == version]
            # the bad release's first start; one that cannot read the state never starts: from the switch
            switched = plane.unit.starts[starts - 1].ended_at
            assert switched is not None
            began = bad[0].at if bad else switched
            served = plane.wait_serving("1.0.0", 60)
            figures[version] = served - began
            status = plane.status()
            assert reason in status["refused"][version], status
            assert status["current"] == status["committed"] == "1.0.0" and status["trial"] is None, status
            if version == "1.4.0":
                assert not bad, "a release that cannot read the state was started"
            else:
                assert bad, f"{version} never started"
        _, body = plane.aircraft.get("/api/v1/status")
        assert body["release"]["state"] == "rolled_back" and body["release"]["refused"].keys() >= reasons.keys()
        _, metrics = plane.aircraft.get("/metrics")
        assert "appliance_update_state 4.0" in metrics
        with capsys.disabled():
            print("\nbad release start -> old release serving again (s): "
                  + ", ".join(f"{v} ({reasons[v]}) {t:.1f}" for v, t in figures.items()))
    finally:
        plane.unit.stop()


@pytest.mark.slow
def test_a_good_release_survives_kills_during_install_and_trial_and_commits(
        tmp_path: Path, sim: SimProcess, releases: dict[str, Path]) -> None:
    plane = Plane(tmp_path, sim, max_starts=4, trial_seconds=4.0)
    plane.install(releases["1.0.0"])
    plane.unit.start()
    try:
        plane.wait_serving("1.0.0", 90)
        rng = random.Random(3)
        for _ in range(3):  # SIGKILL storm during the install: never a half release, never a switch to it
            process = subprocess.Popen([sys.executable, "-m", "appliance", "release", "install", str(releases["2.0.0"]),
                                        "--config", str(plane.aircraft.config_path)], env=plane.env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.3, 3.0))
            process.kill()
            if process.wait() == 0:  # installed whole before the kill (a quiet machine): it may go on trial now
                break
            status = plane.status()
            assert status["current"] == status["committed"] == "1.0.0", status
            if "2.0.0" in status["installed"]:  # only ever listed once whole
                assert (plane.root / "releases" / "2.0.0" / "bin" / "appliance").is_file()
        plane.install(releases["2.0.0"])
        deadline = time.monotonic() + 60
        kills = 0
        while kills < 2:  # SIGKILL storm during the trial: each counted as a start, none a commit
            assert time.monotonic() < deadline, plane.status()
            last = plane.unit.starts[-1]
            if last.version == "2.0.0" and last.ready_at is not None and last.returncode is None:
                time.sleep(rng.uniform(0.2, 2.0))
                plane.unit.kill()
                kills += 1
                while plane.unit.starts[-1] is last:
                    time.sleep(0.05)
            time.sleep(0.05)
        plane.wait_serving("2.0.0", 60)
        deadline = time.monotonic() + 60
        while plane.status()["committed"] != "2.0.0":
            assert time.monotonic() < deadline, plane.status()
            time.sleep(0.2)
        status = plane.status()
        assert status["current"] == "2.0.0" and status["previous"] == "1.0.0" and status["refused"] == {}, status
        assert [s.version for s in plane.unit.starts].count("2.0.0") == 3
        # and the engineer's rollback goes back to 1.0.0 (the next start runs it)
        done = plane.cli("rollback")
        assert done.returncode == 0, done.stderr
        status = plane.status()
        assert status["current"] == status["committed"] == "1.0.0" and "2.0.0" in status["refused"]
        assert plane.cli("rollback").returncode == 1  # nothing to roll back to
    finally:
        plane.unit.stop()
