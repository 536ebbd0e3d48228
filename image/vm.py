"""One qemu guest for the image tests: the disk booted with the rootfs's own kernel under TCG, the serial console
kept in a log file, guest ports forwarded to free host ports on loopback, and an orderly power-down through the
qemu monitor (ACPI power button: systemd shuts down as on the aircraft).

Probing the guest's listeners: with qemu's user-mode network, the host side of a forwarded port always accepts
(qemu accepts, then connects to the guest), so a probe that times out before the guest answers leaves a
connection behind inside qemu, which qemu keeps trying to hand to the guest and delivers later, all at once.
`Http` therefore keeps one keep-alive connection per guest port and waits for each answer as long as it takes
rather than retrying on a short timeout; the tests probe only once the console says the service is active.
"""

from __future__ import annotations

import http.client
import json
import shlex
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from image.build import log

# -cpu max: a cabin server's CPU, not qemu64's (the numpy the avionics decoder uses needs x86-64-v2).
# net.ifnames=0: the NIC is eth0, the maintenance interface the aircraft's [network] section names.
KERNEL_ARGS = "root=/dev/vda rw console=ttyS0 systemd.show_status=1 net.ifnames=0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Console:
    """qemu's serial console (stdout), kept in a log file (appended across boots) and searched by the test."""

    def __init__(self, process: subprocess.Popen[bytes], path: Path) -> None:
        self.lines: list[str] = []
        self._path = path
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        with self._path.open("a") as log_file:
            for raw in process.stdout:
                line = raw.decode(errors="replace").rstrip("\r\n")
                self.lines.append(line)
                log_file.write(line + "\n")
                log_file.flush()

    def find(self, mark: str, start: int = 0) -> str | None:
        return next((line for line in self.lines[start:] if mark in line), None)

    def tail(self, count: int = 40) -> str:
        return "\n".join(self.lines[-count:])


class Http:
    """HTTP/1.1 to one forwarded guest port over one keep-alive connection (see the module's note)."""

    def __init__(self, port: int, token: str | None, timeout: float = 120.0) -> None:
        self.port, self.token, self.timeout = port, token, timeout
        self._conn: http.client.HTTPConnection | None = None
        self.connections = 0  # connections opened so far (each one a slot of the listener's per-address cap)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                self.connections += 1
            try:
                self._conn.request(method, path, body=data, headers=headers)
                response = self._conn.getresponse()
                payload = response.read()
                if response.will_close:
                    self.close()
                return response.status, payload
            except (OSError, http.client.HTTPException):
                self.close()  # the guest restarted the daemon (or closed an idle connection): once more
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def json(self, path: str) -> Any:
        status, payload = self.request("GET", path)
        if status != 200:
            raise OSError(f"GET {path}: HTTP {status}: {payload[:200]!r}")
        return json.loads(payload)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Vm:
    """`qemu-system-x86_64` on `disk`, with `forwards` (guest TCP ports) on free host ports."""

    def __init__(self, disk: Path, kernel: Path, initrd: Path, console_log: Path, forwards: list[int]) -> None:
        self.ports = {guest: free_port() for guest in forwards}
        self.monitor = console_log.with_suffix(".monitor")
        self.monitor.unlink(missing_ok=True)
        fwd = "".join(f",hostfwd=tcp:127.0.0.1:{host}-:{guest}" for guest, host in self.ports.items())
        self.argv = [
            "qemu-system-x86_64", "-m", "1536", "-smp", "2", "-cpu", "max", "-nographic", "-no-reboot",
            "-accel", "tcg", "-kernel", str(kernel), "-initrd", str(initrd),
            "-drive", f"file={disk},format=raw,if=virtio", "-append", KERNEL_ARGS,
            "-nic", f"user,model=virtio-net-pci{fwd}",
            "-monitor", f"unix:{self.monitor},server,nowait",
        ]  # fmt: skip
        log("$ " + " ".join(shlex.quote(a) for a in self.argv))
        self.started = time.monotonic()
        self.process = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)  # fmt: skip
        self.console = Console(self.process, console_log)

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_console(self, mark: str, timeout: float, start: int = 0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.console.find(mark, start)
            if line is not None:
                return line
            if not self.alive():
                raise GuestFailed(f"qemu exited ({self.process.returncode}) before the console said {mark!r}")
            time.sleep(1)
        raise GuestFailed(f"the console did not say {mark!r} within {timeout:.0f} s")

    def power_down(self, timeout: float = 180.0) -> float:
        """The ACPI power button (systemd shuts down in order); the seconds until qemu exited."""
        started = time.monotonic()
        with socket.socket(socket.AF_UNIX) as monitor:
            monitor.connect(str(self.monitor))
            monitor.sendall(b"system_powerdown\n")
            time.sleep(1)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise GuestFailed(f"the guest did not power down within {timeout:.0f} s") from None
        return time.monotonic() - started

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()


class GuestFailed(Exception):
    """The guest did not do what the test waited for (the console log says more)."""


def until(what: str, check: Callable[[], Any], timeout: float, vm: Vm, every: float = 2.0) -> Any:
    """Call `check` until it returns something truthy; GuestFailed after `timeout` or when qemu exits."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        if not vm.alive():
            raise GuestFailed(f"qemu exited while waiting for {what}")
        try:
            last = check()
        except OSError as error:
            last = error
        else:
            if last:
                return last
        time.sleep(every)
    raise GuestFailed(f"timed out after {timeout:.0f} s waiting for {what} (last: {str(last)[:300]})")
