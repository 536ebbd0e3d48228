"""Hardware-in-the-loop harness: the simulator and the daemon as their own processes, the daemon started the way
systemd starts it (NOTIFY_SOCKET the harness listens on, WATCHDOG_USEC set), every device over its real interface.
Used by the full-day HIL test and the operations benchmark."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from appliance.simlaunch import configure_passengers, sim_defaults
from tests.conftest import free_port, subprocess_env
from tests.ops_support import Message, NotifyListener, http, toml_dump, write_token


class SimProcess:
    """`python -m firmware_sim --control 127.0.0.1:0 --scenario NAME --speed N`."""

    def __init__(self, scenario: str = "day", speed: float = 1.0) -> None:
        argv = [sys.executable, "-m", "firmware_sim", "--control", "127.0.0.1:0", "--scenario", scenario,
                "--speed", str(speed)]  # fmt: skip
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=subprocess_env())
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the simulator exited ({self.process.wait()}) before printing its endpoints")
        self.endpoints: dict[str, Any] = json.loads(line)
        self.control = f"http://{self.endpoints['control']}"

    def get(self, path: str) -> tuple[int, Any]:
        status, _, body = http("GET", self.control + path)
        return status, json.loads(body) if body else None

    def post(self, path: str, body: Any, method: str = "POST") -> tuple[int, Any]:
        status, _, raw = http(method, self.control + path, body=body)
        return status, json.loads(raw) if raw else None

    def world(self) -> dict[str, Any] | None:
        status, state = self.get("/state")
        return state.get("world") if status == 200 and isinstance(state, dict) else None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


class Aircraft:
    """One daemon's state, config and token; the daemon can be started, cut and started again."""

    def __init__(self, tmp: Path, sim: SimProcess, watchdog_usec: int = 2_000_000, **overrides: Any) -> None:
        self.tmp = tmp
        self.sim = sim
        self.state = tmp / "state"
        self.state.mkdir(parents=True, exist_ok=True)
        self.maintenance_port, self.portal_port = free_port(), free_port()
        self.token = write_token(tmp / "maintenance.token")
        document = sim_defaults(sim.endpoints, self.state)
        document.setdefault("maintenance", {}).update(
            listen=f"127.0.0.1:{self.maintenance_port}", token_file=str(tmp / "maintenance.token")
        )
        document.setdefault("portal", {})["listen"] = f"127.0.0.1:{self.portal_port}"
        # a device the simulator does not provide is absent: its component must cope (ready, but degraded)
        document.setdefault("avionics", {}).setdefault("port", "socket://127.0.0.1:9")
        document.setdefault("modem", {}).setdefault("port", "socket://127.0.0.1:9")
        document.setdefault("groundlink", {}).setdefault("url", "http://127.0.0.1:9")
        for section, table in overrides.items():
            document.setdefault(section, {}).update(table)
        self.config_path = tmp / "appliance.toml"
        self.config_path.write_text(toml_dump(document))
        self.base = f"http://127.0.0.1:{self.maintenance_port}"
        self.watchdog_usec = watchdog_usec
        self.process: subprocess.Popen[bytes] | None = None
        self.notify: NotifyListener | None = None
        self.log = tmp / "daemon.log"
        self.started_at = 0.0

    def start(self) -> NotifyListener:
        """Start the daemon as systemd would; returns the notify listener of this run."""
        self.notify = NotifyListener()
        env = subprocess_env(NOTIFY_SOCKET=self.notify.address, WATCHDOG_USEC=str(self.watchdog_usec))
        with self.log.open("ab") as log:
            self.started_at = time.monotonic()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "appliance", "run", "--config", str(self.config_path)],
                env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        return self.notify

    def wait_notify(self, key: str, value: str | None, timeout: float, after: int = 0) -> Message:
        """Like NotifyListener.wait_for, but fails at once with the daemon's log when it exits."""
        assert self.notify is not None
        deadline = time.monotonic() + timeout
        while True:
            self.check_running()
            try:
                return self.notify.wait_for(key, value, min(1.0, max(0.05, deadline - time.monotonic())), after)
            except AssertionError:
                if time.monotonic() >= deadline:
                    raise

    def passengers(self, orders_per_minute: float) -> bool:
        """Point the simulated passengers at this daemon's portal (False when the simulator has none)."""
        try:
            configure_passengers(self.sim.endpoints["control"], f"127.0.0.1:{self.portal_port}", orders_per_minute)
        except OSError:
            return False
        return True

    def get(self, path: str) -> tuple[int, Any]:
        status, headers, body = http("GET", self.base + path, self.token)
        if headers.get("Content-Type", "").startswith(("application/json", "application/health+json")):
            return status, json.loads(body)
        return status, body.decode()

    def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        status, _, raw = http("POST", self.base + path, self.token, body=body, timeout=60)
        return status, json.loads(raw) if raw else None

    def wait_status(self, predicate: Any, timeout: float, what: str) -> dict[str, Any]:
        """Poll /api/v1/status until predicate(status) is true."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self.check_running()
            status, body = self.get("/api/v1/status")
            if status == 200:
                last = body
                if predicate(body):
                    return body  # type: ignore[no-any-return]
            time.sleep(0.25)
        raise AssertionError(f"timed out waiting for {what}; last status: {json.dumps(last)[:3000]}")

    def check_running(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"the daemon exited ({self.process.returncode}):\n{self.tail()}")

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""

    def cut(self) -> None:
        """Power cut: SIGKILL, nothing runs after."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self._close_notify()

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()

    def _close_notify(self) -> None:
        if self.notify is not None:
            self.notify.close()

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close_notify()


def component_names(status: dict[str, Any]) -> set[str]:
    return {c["name"] for c in status.get("components", [])}


def metric_value(text: str, name: str, labels: str = "") -> float | None:
    """The value of one sample in Prometheus text (`labels` like '{kind="booking"}'), or None."""
    prefix = name + labels + " "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    return None


def metric_sum(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.split()[-1])
    return total
