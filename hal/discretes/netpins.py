"""`sim`: a gpiozero pin factory whose pins live in the simulator's pin server, reached over TCP.

Modelled on gpiozero's MockFactory/MockPin, but the level of every line is the server's: the simulator
emulates each discrete at the pin level (wiring, loopbacks, faults) and the daemon's gpiozero devices read and
drive it exactly as they would real lines.

Line protocol (ASCII, one command per line, requests answered in order on the same connection):

    client: FUNC <line> input|output [0|1]     server: = <line> <level>
    client: SET <line> 0|1                     server: = <line> <level>
    client: GET <line>                         server: = <line> <level>
    server (pushed, any time): E <line> <level> <monotonic_ns>

Reading a pin never waits on the network: the client caches each line's level from the pushed edges, which the
server sends before any later answer, so after `SET` of a looped-back output its input already reads back.
    server (error answer):     ! <reason>

Edges are pushed for every level change of every line; a pin reports them to gpiozero (when_changed) only
while edge detection is enabled and the edge matches `edges`. `bounce` suppresses further edges within that
many seconds of the last reported one (RPi.GPIO's semantics). `<monotonic_ns>` is the server's
CLOCK_MONOTONIC time of the change (the same clock on one host), passed to gpiozero as the edge's ticks.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import threading
import time
from typing import Any

from gpiozero.exc import (
    BadPinFactory,
    PinError,
    PinInvalidBounce,
    PinInvalidEdges,
    PinInvalidFunction,
    PinInvalidPull,
    PinPWMUnsupported,
    PinSetInput,
)
from gpiozero.pins.pi import PiFactory, PiPin

log = logging.getLogger("hal.discretes.netpins")

DEFAULT_REVISION = "a020a0"  # Compute Module 3: GPIO0..45
REQUEST_TIMEOUT = 2.0


def parse_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {address!r}")
    return host or "127.0.0.1", int(port)


class NetPin(PiPin):  # type: ignore[misc]
    def __init__(self, factory: NetPinFactory, info: Any) -> None:
        super().__init__(factory, info)
        self._line = int(info.name[4:])
        self._function = "input"
        self._pull = "floating"
        self._bounce: float | None = None
        self._edges = "both"
        self._detect = False
        self._last_reported: float | None = None
        self._state = factory.request(f"GET {self._line}")

    @property
    def line(self) -> int:
        return self._line

    def close(self) -> None:
        self.when_changed = None
        if self._function == "output":
            self._function = "input"
            with contextlib.suppress(PinError):  # the server is gone: nothing left to release
                self._factory.request(f"FUNC {self._line} input")

    def _get_function(self) -> str:
        return self._function

    def _set_function(self, value: str) -> None:
        if value not in ("input", "output"):
            raise PinInvalidFunction("function must be input or output")
        self._state = self._factory.request(f"FUNC {self._line} {value}")
        self._function = value

    def output_with_state(self, state: bool) -> None:
        self._state = self._factory.request(f"FUNC {self._line} output {int(bool(state))}")
        self._function = "output"

    def _get_state(self) -> bool:
        # The server pushes every change, in order, before any later answer: the cached level is the line's level
        # (as of the last message), and reading it never blocks the caller on the network.
        return self._state

    def _set_state(self, value: float) -> None:
        if self._function == "input":
            raise PinSetInput(f"cannot set state of pin {self!r}")
        self._state = self._factory.request(f"SET {self._line} {int(bool(value))}")

    def _get_frequency(self) -> None:
        return None

    def _set_frequency(self, value: float | None) -> None:
        if value is not None:
            raise PinPWMUnsupported()

    def _get_pull(self) -> str:
        return self._pull

    def _set_pull(self, value: str) -> None:
        if value not in ("floating", "up", "down"):
            raise PinInvalidPull("pull must be floating, up, or down")
        self._pull = value  # the simulator drives every input line; the pull only matters on real hardware

    def _get_bounce(self) -> float | None:
        return self._bounce

    def _set_bounce(self, value: float | None) -> None:
        if value is not None:
            try:
                value = float(value)
            except ValueError:
                raise PinInvalidBounce("bounce must be None or a float") from None
            if value < 0:
                raise PinInvalidBounce("bounce must be 0 or greater")
        self._bounce = value

    def _get_edges(self) -> str:
        return self._edges

    def _set_edges(self, value: str) -> None:
        if value not in ("none", "falling", "rising", "both"):
            raise PinInvalidEdges("edges must be none, falling, rising, or both")
        self._edges = value

    def _enable_event_detect(self) -> None:
        self._detect = True

    def _disable_event_detect(self) -> None:
        self._detect = False

    def level_changed(self, level: bool) -> bool:
        """On the socket thread, in protocol order: the cached level is current before any later answer."""
        changed = level != self._state
        self._state = level
        return changed

    def report(self, level: bool, ticks: float) -> None:
        """On the factory's edge thread: tell gpiozero, if it listens for this edge."""
        if not self._detect or self._edges == "none":
            return
        if (self._edges == "rising" and not level) or (self._edges == "falling" and level):
            return
        if self._bounce and self._last_reported is not None and ticks - self._last_reported < self._bounce:
            return
        self._last_reported = ticks
        self._call_when_changed(ticks, level)


class NetPinFactory(PiFactory):  # type: ignore[misc]
    """Pins in the simulator's pin server at `address` (HOST:PORT; default $GPIOZERO_SIM_ADDRESS).

    Connecting is part of construction: a server that cannot be reached is a BadPinFactory, never a fallback.
    """

    def __init__(self, address: str | None = None, revision: str = DEFAULT_REVISION) -> None:
        super().__init__()
        address = address or os.environ.get("GPIOZERO_SIM_ADDRESS", "")
        try:
            host, port = parse_address(address)
        except ValueError as error:
            raise BadPinFactory(f"sim pin factory: {error}") from None
        self.address = f"{host}:{port}"
        self._revision = int(revision, 16)
        self.pin_class = NetPin
        try:
            self._sock = socket.create_connection((host, port), timeout=REQUEST_TIMEOUT)
        except OSError as error:
            raise BadPinFactory(f"sim pin factory: cannot reach the pin server at {self.address}: {error}") from None
        self._sock.settimeout(None)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._file = self._sock.makefile("rb")
        self._lock = threading.Lock()
        self._answers: queue.Queue[str] = queue.Queue()
        self._closed = False
        self.connected = True  # False once the server's connection is lost (the pins keep their last levels)
        self._by_line: dict[int, NetPin] = {}
        # Edges are delivered on their own thread, so a when_changed callback may itself use a pin (a request
        # answered through the reader thread) without deadlocking it.
        self._edges: queue.Queue[tuple[NetPin, bool, float] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read_loop, name=f"netpins-{self.address}", daemon=True)
        self._dispatcher = threading.Thread(target=self._edge_loop, name=f"netpins-edges-{self.address}", daemon=True)
        self._reader.start()
        self._dispatcher.start()

    def _get_revision(self) -> int:
        return self._revision

    def pin(self, name: Any) -> NetPin:
        pin: NetPin = super().pin(name)
        self._by_line[pin.line] = pin
        return pin

    @staticmethod
    def ticks() -> float:
        return time.monotonic()

    @staticmethod
    def ticks_diff(later: float, earlier: float) -> float:
        return later - earlier

    def request(self, command: str) -> bool:
        """Send one command and return the line level the server answers with."""
        with self._lock:
            if self._closed:
                raise PinError(f"sim pin factory: connection to {self.address} is closed")
            try:
                self._sock.sendall(command.encode("ascii") + b"\n")
                answer = self._answers.get(timeout=REQUEST_TIMEOUT)
            except (OSError, queue.Empty) as error:
                raise PinError(f"sim pin factory: {command!r}: no answer from {self.address}: {error!r}") from None
        if answer.startswith("="):
            return answer.split()[2] == "1"
        raise PinError(f"sim pin factory: {command!r}: {answer[1:].strip() or 'connection lost'}")

    def _read_loop(self) -> None:
        try:
            for raw in self._file:
                line = raw.decode("ascii", "replace").strip()
                if line.startswith("E "):
                    self._on_edge(line)
                elif line:
                    self._answers.put(line)
        except (OSError, ValueError):
            pass
        finally:
            self.connected = False
            if not self._closed:
                log.error("sim pin factory: connection to %s lost", self.address)
            self._answers.put("! connection lost")
            self._edges.put(None)

    def _edge_loop(self) -> None:
        while (item := self._edges.get()) is not None:
            pin, level, ticks = item
            try:
                pin.report(level, ticks)
            except Exception:
                log.exception("sim pin factory: edge callback failed for %r", pin)

    def _on_edge(self, line: str) -> None:
        try:
            _, number, level, stamp = line.split()
            pin = self._by_line.get(int(number))
            ticks = int(stamp) / 1e9
        except ValueError:
            log.warning("sim pin factory: malformed edge %r", line)
            return
        if pin is not None and pin.level_changed(level == "1"):
            self._edges.put((pin, level == "1", ticks))

    def close(self) -> None:
        super().close()
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
