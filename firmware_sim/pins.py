"""The pin server: every discrete of the board emulated at the pin level, served to hal.discretes.netpins.

The board model holds one level per GPIO line and the board's wiring: INTTEST_OUT is looped back to INTTEST_IN,
GSM_POWER_STATUS powers the modem whose status line GSMSIG_STATUS follows after its boot time, CPLD_REV0..1 and
CONFIGSIG0..2 are strapped, and the CPLD latches the power-fail and over-temperature levels beside their
interrupt lines. Tests script it by signal name and logical value (active or not), like the control routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from firmware_sim.tcpserver import TcpServer
from hal.discretes.signals import DEFAULT_SIGNALS, Signal

log = logging.getLogger("firmware_sim.pins")

EdgeListener = Callable[[int, bool, int], None]  # line, level, monotonic_ns


class PinBoard:
    def __init__(self, signals: tuple[Signal, ...] = DEFAULT_SIGNALS, cpld_revision: int = 2, strapping: int = 5,
                 modem_boot_s: float = 0.3) -> None:
        self.signals = {s.name: s for s in signals}
        self.by_line = {s.line: s for s in signals}
        self.levels: dict[int, bool] = {}
        self.client_outputs: set[int] = set()
        self.stuck: dict[str, bool] = {}  # input signal -> stuck logical level (a fault)
        self.modem_boot_s = modem_boot_s
        self._listeners: list[EdgeListener] = []
        self._modem_timer: asyncio.TimerHandle | None = None
        self.modem_supplies: list[Callable[[bool], None]] = []  # the modem's power input (SimModem.set_power)
        for signal in signals:
            self.levels[signal.line] = self._level(signal, False)
        self.set_signal("SYSENSIG", True)
        self.set_signal("GPIO_SYSENSIG", True)
        self.set_revision(cpld_revision)
        self.set_strapping(strapping)

    # --- levels ---------------------------------------------------------------------------------------------

    @staticmethod
    def _level(signal: Signal, active: bool) -> bool:
        return active if signal.active_high else not active

    def add_listener(self, listener: EdgeListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: EdgeListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def set_level(self, line: int, level: bool) -> None:
        if self.levels.get(line) == level:
            return
        self.levels[line] = level
        stamp = time.monotonic_ns()
        for listener in list(self._listeners):
            listener(line, level, stamp)
        self._wiring(line)

    def level(self, line: int) -> bool:
        return self.levels.get(line, False)

    def set_signal(self, name: str, active: bool) -> None:
        signal = self.signals[name]
        if name in self.stuck:
            active = self.stuck[name]
        self.set_level(signal.line, self._level(signal, active))

    def active(self, name: str) -> bool:
        signal = self.signals[name]
        return self.level(signal.line) == self._level(signal, True)

    def set_revision(self, revision: int) -> None:
        self.set_signal("CPLD_REV0", bool(revision & 1))
        self.set_signal("CPLD_REV1", bool(revision & 2))

    def set_strapping(self, strapping: int) -> None:
        for bit in range(3):
            self.set_signal(f"CONFIGSIG{bit}", bool(strapping >> bit & 1))

    def stick(self, name: str, active: bool | None) -> None:
        """Hold an input at a logical level whatever drives it (None releases it to its wiring)."""
        if active is None:
            self.stuck.pop(name, None)
            if name == "INTTEST_IN":
                self._wiring(self.signals["INTTEST_OUT"].line)
        else:
            self.stuck[name] = active
            self.set_level(self.signals[name].line, self._level(self.signals[name], active))

    # --- wiring ---------------------------------------------------------------------------------------------

    def _wiring(self, line: int) -> None:
        signal = self.by_line.get(line)
        if signal is None:
            return
        if signal.name == "INTTEST_OUT":
            self.set_signal("INTTEST_IN", self.active("INTTEST_OUT"))
        elif signal.name == "GSM_POWER_STATUS":
            self._modem_power(self.active("GSM_POWER_STATUS"))

    def _modem_power(self, on: bool) -> None:
        for supply in self.modem_supplies:
            supply(on)
        if self._modem_timer is not None:
            self._modem_timer.cancel()
            self._modem_timer = None
        if not on:
            self.set_signal("GSMSIG_STATUS", False)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.set_signal("GSMSIG_STATUS", True)
            return
        self._modem_timer = loop.call_later(self.modem_boot_s, self.set_signal, "GSMSIG_STATUS", True)

    # --- the client's commands ------------------------------------------------------------------------------

    def command(self, text: str) -> str:
        """One protocol line from a client (see hal.discretes.netpins); the answer line."""
        parts = text.split()
        try:
            verb, line = parts[0], int(parts[1])
        except (IndexError, ValueError):
            return f"! malformed command {text[:60]!r}"
        if not 0 <= line <= 53:
            return f"! no GPIO line {line}"
        signal = self.by_line.get(line)
        if verb == "GET" and len(parts) == 2:
            return f"= {line} {int(self.level(line))}"
        if verb == "FUNC" and len(parts) in (3, 4) and parts[2] in ("input", "output"):
            if parts[2] == "input":
                self.client_outputs.discard(line)
                return f"= {line} {int(self.level(line))}"
            if signal is not None and signal.direction == "in":
                return f"! line {line} ({signal.name}) is driven by the board"
            self.client_outputs.add(line)
            if len(parts) == 4:
                self.set_level(line, parts[3] == "1")
            return f"= {line} {int(self.level(line))}"
        if verb == "SET" and len(parts) == 3 and parts[2] in ("0", "1"):
            if line not in self.client_outputs:
                return f"! line {line} is not an output"
            self.set_level(line, parts[2] == "1")
            return f"= {line} {int(self.level(line))}"
        return f"! malformed command {text[:60]!r}"

    def state(self) -> dict[str, Any]:
        return {
            name: {"line": s.line, "level": int(self.level(s.line)), "active": self.active(name)}
            for name, s in self.signals.items()
        } | {"stuck": dict(self.stuck)}


class PinServer(TcpServer):
    """TCP server of a PinBoard: answers commands, pushes every edge to every client."""

    def __init__(self, board: PinBoard, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.board = board

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def push(line: int, level: bool, stamp: int) -> None:
            if not writer.is_closing():
                writer.write(f"E {line} {int(level)} {stamp}\n".encode())

        self._writers.add(writer)
        self.board.add_listener(push)
        try:
            while raw := await reader.readline():
                answer = self.board.command(raw.decode("ascii", "replace").strip())
                writer.write(answer.encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.board.remove_listener(push)
            self._writers.discard(writer)
            for line in list(self.board.client_outputs):
                self.board.client_outputs.discard(line)
            writer.close()
