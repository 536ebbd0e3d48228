"""Test support for the operations tests: a NOTIFY_SOCKET that records what the daemon tells systemd, configs
and tokens, and an HTTP helper for the maintenance listener."""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Message:
    at: float  # time.monotonic() when received
    fields: dict[str, str]

    def has(self, key: str, value: str | None = None) -> bool:
        return key in self.fields and (value is None or self.fields[key] == value)


class NotifyListener:
    """A unix datagram socket standing in for systemd's notify socket; records every message with its time.
    `abstract=True` binds an abstract socket and gives NOTIFY_SOCKET as "@name", as systemd may."""

    def __init__(self, abstract: bool = False) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"appliance-test-{os.getpid()}-{id(self)}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
            self._dir: str | None = None
        else:
            self._dir = tempfile.mkdtemp(prefix="ntf")
            self.address = os.path.join(self._dir, "notify")
            self.sock.bind(self.address)
        self.sock.settimeout(0.2)
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closed:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self._lock:
                self.messages.append(Message(time.monotonic(), fields))

    def snapshot(self) -> list[Message]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, key: str, value: str | None = None, timeout: float = 30.0, after: int = 0) -> Message:
        """The first message from index `after` on that carries key (=value)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.snapshot()[after:]:
                if message.has(key, value):
                    return message
            time.sleep(0.02)
        seen = [m.fields for m in self.snapshot()[after:]]
        raise AssertionError(f"no {key}={value} from the daemon within {timeout} s; got {seen[-10:]}")

    def index_of(self, message: Message) -> int:
        return self.snapshot().index(message)

    def times(self, key: str, start: float = 0.0) -> list[float]:
        return [m.at for m in self.snapshot() if m.has(key) and m.at >= start]

    def close(self) -> None:
        self._closed = True
        self.sock.close()
        self._thread.join(timeout=2)
        if self._dir is not None:
            try:
                os.unlink(self.address)
                os.rmdir(self._dir)
            except OSError:
                pass


def write_token(path: Path, token: str = "test-token-5Jq8Vx2LmN4pR7sT9wYb3Kd6") -> str:
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


def base_config(tmp: Path, maintenance_port: int, **sections: dict[str, Any]) -> dict[str, Any]:
    """A whole config document for a test daemon: devices nowhere (the builders present decide), state in tmp."""
    document: dict[str, Any] = {
        "avionics": {"port": "socket://127.0.0.1:9"},
        "modem": {"port": "socket://127.0.0.1:9"},
        "groundlink": {"url": "http://127.0.0.1:9"},
        "discretes": {"pin_factory": "mock"},  # gpiozero's MockFactory: pins that exist, nobody drives
        "storage": {"dir": str(tmp / "state")},
        "content": {"dir": str(tmp / "state" / "content")},
        "maintenance": {"listen": f"127.0.0.1:{maintenance_port}", "token_file": str(tmp / "maintenance.token")},
    }
    for name, table in sections.items():
        document[name] = {**document.get(name, {}), **table}
    return document


def toml_dump(document: dict[str, Any]) -> str:
    """Enough TOML for configs: tables of strings, numbers, booleans."""
    lines: list[str] = []
    for section, table in document.items():
        lines.append(f"[{section}]")
        for key, value in table.items():
            lines.append(f"{key} = {json.dumps(value)}")
        lines.append("")
    return "\n".join(lines)


def http(
    method: str, url: str, token: str | None = None, body: Any = None, timeout: float = 10.0
) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, _, _ = http("GET", url, timeout=2)
            if status < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s")
