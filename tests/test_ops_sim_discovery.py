"""`appliance status` and `appliance fsck` without flags on a developer's machine (no /etc/appliance): they find
a running `appliance run --sim` by its runtime record, and a stopped one by `./.sim-state`."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from appliance import simdiscovery
from appliance.appconfig import DEFAULT_PATH
from tests.conftest import free_port, python_module, subprocess_env

pytestmark = pytest.mark.skipif(DEFAULT_PATH.exists(), reason="this machine has /etc/appliance: it wins")


def _runtime(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir(mode=0o700)
    return path


def _cli(cwd: Path, runtime: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(python_module("appliance", *args), cwd=cwd, env=subprocess_env(XDG_RUNTIME_DIR=str(runtime)),
                          capture_output=True, text=True, timeout=60)


def _wait_for(lines: queue.Queue[str], text: str, within: float) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"the daemon did not log {text!r} within {within} s: {''.join(seen)[-2000:]}")


def test_status_and_fsck_find_a_running_then_a_stopped_sim(tmp_path: Path) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    runtime = _runtime(tmp_path, "runtime")
    maintenance = f"127.0.0.1:{free_port()}"
    config = project / "sim.toml"
    config.write_text(
        f'[sim]\ncontrol = "127.0.0.1:{free_port()}"\n'
        f'[portal]\nlisten = "127.0.0.1:{free_port()}"\n'
        f'[maintenance]\nlisten = "{maintenance}"\n'
    )
    daemon = subprocess.Popen(python_module("appliance", "run", "--sim", "--config", str(config)), cwd=project,
                              env=subprocess_env(XDG_RUNTIME_DIR=str(runtime)), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    assert daemon.stderr is not None
    stderr = daemon.stderr
    threading.Thread(target=lambda: [lines.put(line) for line in stderr], daemon=True).start()
    state = project / ".sim-state"
    try:
        banner = "".join(_wait_for(lines, "ready:", 40.0))
        # the banner prints the exact commands too
        assert f"appliance status --url http://{maintenance} --token-file {state / 'maintenance.token'}" in banner
        assert f"appliance fsck --content {state / 'content'} --state-dir {state}" in banner
        assert (runtime / "appliance" / f"sim-{daemon.pid}.json").is_file()

        status = _cli(elsewhere, runtime, "status")  # from another directory: the runtime record
        assert status.returncode in (0, 1), status.stderr
        assert "components:" in status.stdout and "storage" in status.stdout
        fsck = _cli(elsewhere, runtime, "fsck")
        assert fsck.returncode == 0, fsck.stdout + fsck.stderr
        assert f"{state}:" in fsck.stdout and f"{state / 'content'}:" in fsck.stdout
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    assert not (runtime / "appliance" / f"sim-{daemon.pid}.json").exists()  # withdrawn at the stop

    fresh = _runtime(tmp_path, "fresh")
    stopped = _cli(project, fresh, "fsck")  # no running daemon: ./.sim-state of the working directory
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert f"{state}:" in stopped.stdout
    unreachable = _cli(project, fresh, "status")  # its record names the listener it had
    assert unreachable.returncode == 2 and f"http://{maintenance}" in unreachable.stderr
    assert _cli(elsewhere, fresh, "fsck").returncode == 8  # nothing anywhere: nothing checked


def test_stale_records_are_ignored_and_several_live_ones_are_ambiguous(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(_runtime(tmp_path, "runtime")))
    monkeypatch.chdir(tmp_path)
    assert simdiscovery.find() is None

    def record(pid: int, state: str) -> simdiscovery.SimRun:
        run = simdiscovery.SimRun(pid, str(tmp_path / state), str(tmp_path / state / "content"), "127.0.0.1:1",
                                  str(tmp_path / state / "maintenance.token"))
        (tmp_path / state).mkdir()
        assert len(simdiscovery.announce(run)) == 2
        return run

    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = record(dead.pid, "stale")
    assert simdiscovery.running() == []
    assert not any((tmp_path / "runtime" / "appliance").iterdir())  # the stale record is removed
    mine = record(os.getpid(), "mine")
    assert simdiscovery.find() == mine
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        record(sleeper.pid, "other")
        with pytest.raises(simdiscovery.Ambiguous, match="several simulated daemons"):
            simdiscovery.find()
        (tmp_path / ".sim-state").symlink_to(tmp_path / "mine")
        assert simdiscovery.find() == mine  # several, but one is this directory's
    finally:
        sleeper.kill()
        sleeper.wait()
    assert stale.pid != mine.pid


def test_a_runtime_directory_others_can_write_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o777)
    loose.chmod(0o777)
    (loose / "appliance").mkdir()
    (loose / "appliance").chmod(0o777)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(loose))
    assert simdiscovery.runtime_dir() is None
