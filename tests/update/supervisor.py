"""systemd's part in a release switch, for the process tests: before each start the committed release's
`appliance release preflight` (ExecStartPre), then `current/bin/appliance run` (ExecStart) with a notify socket;
a start that sends no READY within `start_timeout` is killed (TimeoutStartSec); the restart decision is the
real unit's (tests/unit_supervisor.RestartPolicy reads units/appliance.service)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.ops_support import NotifyListener
from tests.unit_supervisor import RestartPolicy

UNIT = Path(__file__).resolve().parents[2] / "units" / "appliance.service"


@dataclass
class Start:
    version: str | None  # what `current` named when it was started
    at: float
    ready_at: float | None = None
    returncode: int | None = None
    ended_at: float | None = None
    timed_out: bool = False


class Unit:
    def __init__(self, root: Path, config: Path, env: dict[str, str], log: Path, *, start_timeout: float = 60.0,
                 restart_sec: float = 0.2) -> None:
        self.root = root
        self.config = config
        self.env = env
        self.log = log
        self.start_timeout = start_timeout
        self.restart_sec = restart_sec
        self.policy = RestartPolicy.from_unit(UNIT)
        self.starts: list[Start] = []
        self.preflights: list[str] = []
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.ended = ""  # why the loop ended (the unit stayed down)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            pre = subprocess.run([str(self.root / "committed" / "bin" / "appliance"), "release", "preflight",
                                  "--config", str(self.config)], env=self.env, capture_output=True, text=True,
                                 timeout=120, check=False)
            self.preflights.append((pre.stdout + pre.stderr).strip())
            version = Path(os.readlink(self.root / "current")).name
            notify = NotifyListener()
            start = Start(version, time.monotonic())
            self.starts.append(start)
            with self.log.open("ab") as log:
                self.process = subprocess.Popen(
                    [str(self.root / "current" / "bin" / "appliance"), "run", "--config", str(self.config)],
                    env={**self.env, "NOTIFY_SOCKET": notify.address}, stdout=log, stderr=log,
                    stdin=subprocess.DEVNULL)
            try:
                while self.process.poll() is None:
                    if start.ready_at is None:
                        if any(m.has("READY", "1") for m in notify.snapshot()):
                            start.ready_at = time.monotonic()
                        elif time.monotonic() - start.at > self.start_timeout:
                            start.timed_out = True
                            self.process.kill()
                    if self._stopping.is_set():
                        self.process.send_signal(signal.SIGTERM)
                        with contextlib.suppress(subprocess.TimeoutExpired):
                            self.process.wait(30)
                        if self.process.poll() is None:
                            self.process.kill()
                    time.sleep(0.05)
            finally:
                notify.close()
            start.returncode = self.process.returncode
            start.ended_at = time.monotonic()
            if self._stopping.is_set():
                return
            if not start.timed_out and not self.policy.shall_restart(start.returncode):
                self.ended = f"{version} exited {start.returncode}: not restarted"
                return
            time.sleep(self.restart_sec)

    def kill(self) -> None:
        """SIGKILL the running daemon (a crash; the unit restarts it)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(60)
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
