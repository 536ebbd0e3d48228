"""systemd integration: sd_notify messages, the watchdog interval, and socket activation.

Everything here degrades to a no-op off systemd: no NOTIFY_SOCKET means nobody listens, no WATCHDOG_USEC means
no pings, no LISTEN_FDS means the listeners bind themselves.
"""

from __future__ import annotations

import logging
import os
import socket
import time

import sdnotify

log = logging.getLogger("appliance.systemd")

SD_LISTEN_FDS_START = 3


class Notifier:
    """sd_notify(3) through `sdnotify` (which honours NOTIFY_SOCKET, abstract '@' sockets included)."""

    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self._notifier = sdnotify.SystemdNotifier() if self.enabled else None
        self.sent: list[str] = []  # the last messages, for the maintenance listener and tests
        self._last_status = ""

    def notify(self, *fields: str) -> None:
        """Send one datagram of `KEY=VALUE` lines (e.g. "READY=1", "STATUS=...")."""
        message = "\n".join(fields)
        self.sent = [*self.sent[-31:], message]
        if self._notifier is not None:
            self._notifier.notify(message)

    def status(self, line: str) -> None:
        """STATUS= only when it changed (systemctl status shows the latest)."""
        if line != self._last_status:
            self._last_status = line
            self.notify(f"STATUS={line}")

    @property
    def last_status(self) -> str:
        return self._last_status

    def ready(self, status: str) -> None:
        self._last_status = status
        self.notify("READY=1", f"STATUS={status}")

    def reloading(self) -> None:
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}", "STATUS=reloading the config")

    def stopping(self) -> None:
        self._last_status = "stopping"
        self.notify("STOPPING=1", "STATUS=stopping")

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WATCHDOG_USEC), None when the watchdog is off or not ours."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec:
        return None
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    try:
        value = int(usec)
    except ValueError:
        log.warning("ignoring WATCHDOG_USEC=%r: not an integer", usec)
        return None
    return value / 2_000_000 if value > 0 else None


_inherited: dict[str, socket.socket] | None = None


def _take_inherited() -> dict[str, socket.socket]:
    """The listening sockets systemd passed (LISTEN_FDS), by FileDescriptorName. Read once, then unset."""
    global _inherited
    if _inherited is not None:
        return _inherited
    _inherited = {}
    pid, count = os.environ.get("LISTEN_PID", ""), os.environ.get("LISTEN_FDS", "")
    names = os.environ.get("LISTEN_FDNAMES", "")
    for key in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(key, None)
    if not (pid.isdigit() and count.isdigit()) or int(pid) != os.getpid():
        return _inherited
    name_list = names.split(":") if names else []
    for index in range(int(count)):
        fd = SD_LISTEN_FDS_START + index
        name = name_list[index] if index < len(name_list) else f"fd{fd}"
        os.set_inheritable(fd, False)
        sock = socket.socket(fileno=fd)
        sock.setblocking(False)
        _inherited[name] = sock
        log.info("socket activation: %s on fd %d (%s)", name, fd, sock.getsockname())
    return _inherited


def split_listen(listen: str) -> tuple[str, int]:
    """"HOST:PORT" (or "[v6]:PORT") -> (host, port). Raises ValueError on a malformed address."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected HOST:PORT, got {listen!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def listener_socket(name: str, listen: str) -> socket.socket:
    """The listening socket for `name` ("portal", "maintenance"): systemd's if it passed one with that
    FileDescriptorName, otherwise a new one bound to `listen` ("HOST:PORT"). Non-blocking, for aiohttp's SockSite."""
    inherited = _take_inherited().pop(name, None)
    if inherited is not None:
        return inherited
    host, port = split_listen(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)  # a cabin's worth of phones connecting at once
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
