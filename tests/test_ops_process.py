"""The daemon as its own process, started as systemd starts it: listening sockets passed in (LISTEN_FDS, by
systemd's own `systemd-socket-activate`), NOTIFY_SOCKET and WATCHDOG_USEC set; stopped with SIGTERM."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port, subprocess_env
from tests.ops_support import NotifyListener, base_config, http, toml_dump, write_token

pytestmark = pytest.mark.skipif(shutil.which("systemd-socket-activate") is None, reason="needs systemd")


def wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_socket_activation_notify_and_sigterm(tmp_path: Path) -> None:
    token = write_token(tmp_path / "maintenance.token")
    own_port, passed_port, portal_port = free_port(), free_port(), free_port()
    config = tmp_path / "appliance.toml"
    config.write_text(toml_dump(base_config(tmp_path, own_port)))
    notify = NotifyListener()
    argv = [
        "systemd-socket-activate",
        f"--listen=127.0.0.1:{portal_port}",
        f"--listen=127.0.0.1:{passed_port}",
        "--fdname=portal:maintenance",
        "-E", "NOTIFY_SOCKET", "-E", "WATCHDOG_USEC", "-E", "PYTHONPATH",
        sys.executable, "-m", "appliance", "run", "--config", str(config),
    ]  # fmt: skip
    env = subprocess_env(NOTIFY_SOCKET=notify.address, WATCHDOG_USEC="1000000")
    process = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    try:
        # systemd-socket-activate execs the daemon on the first connection, as a socket unit would start it
        wait_listening(passed_port)
        status, _, body = http("GET", f"http://127.0.0.1:{passed_port}/livez", timeout=30)
        assert status == 200 and json.loads(body) == {"status": "alive"}
        ready = notify.wait_for("READY", "1", 30)
        assert notify.snapshot()[0].fields.get("STATUS", "").startswith("starting")
        status, headers, body = http("GET", f"http://127.0.0.1:{passed_port}/health", token)
        # 503 when a critical device is absent (here: no avionics adapter); the document is there either way
        assert status in (200, 503) and headers["Content-Type"].startswith("application/health+json")
        assert json.loads(body)["checks"]["maintenance:health"][0]["output"] == f"listening on 127.0.0.1:{passed_port}"
        with pytest.raises(OSError):  # the configured address was not bound: systemd's socket was used instead
            http("GET", f"http://127.0.0.1:{own_port}/livez", timeout=2)
        time.sleep(1.2)
        _, _, body = http("GET", f"http://127.0.0.1:{passed_port}/api/v1/status", token)
        daemon = json.loads(body)["daemon"]
        assert daemon["watchdog_interval_seconds"] == 0.5
        # fed, or withheld for a reason (here a critical device is absent unless its component says it is alive)
        assert notify.times("WATCHDOG") or daemon["watchdog_withheld"], daemon
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        stopping = notify.wait_for("STOPPING", "1", 5)
        assert stopping.at > ready.at
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        notify.close()
        assert process.stderr is not None
        process.stderr.close()


def test_a_bad_config_exits_78_with_one_line(tmp_path: Path) -> None:
    document = base_config(tmp_path, free_port())
    document["maintenance"]["watchdog_max_lag"] = -1
    config = tmp_path / "appliance.toml"
    config.write_text(toml_dump(document))
    result = subprocess.run(
        [sys.executable, "-m", "appliance", "run", "--config", str(config)],
        env=subprocess_env(), capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 78
    assert result.stderr.strip().splitlines()[-1] == (
        f"appliance: config error: {config}: maintenance.watchdog_max_lag: must be positive"
    )
