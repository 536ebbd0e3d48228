"""The I2C register server: an LM75 and an INA219 emulated at the register level, served to hal.sensors.netbus.

Registers hold big-endian 16-bit values (the LM75's configuration is one byte) and go out high byte first,
as the chips do; the client's SMBus word semantics (low byte first) make the driver swap, as on real hardware.
A device that stops answering NACKs every transfer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar

from firmware_sim.tcpserver import TcpServer


def _s16(value: float) -> int:
    return max(-0x8000, min(0x7FFF, round(value))) & 0xFFFF


class RegisterDevice:
    widths: ClassVar[dict[int, int]] = {}

    def __init__(self, address: int) -> None:
        self.address = address
        self.answering = True
        self.transfers = 0

    def read_register(self, register: int) -> int:
        raise NotImplementedError

    def write_register(self, register: int, value: int) -> None:
        raise NotImplementedError

    def read(self, register: int, length: int) -> bytes:
        width = self.widths.get(register)
        if width is None:
            raise KeyError(register)
        data = self.read_register(register).to_bytes(width, "big")
        return (data * length)[:length]

    def write(self, register: int, data: bytes) -> None:
        width = self.widths.get(register)
        if width is None or len(data) != width:
            raise KeyError(register)
        self.write_register(register, int.from_bytes(data, "big"))


class SimLM75(RegisterDevice):
    widths: ClassVar[dict[int, int]] = {0x00: 2, 0x01: 1, 0x02: 2, 0x03: 2}

    def __init__(self, address: int = 0x48, celsius: float = 45.0,
                 on_os: Callable[[bool], None] | None = None) -> None:
        super().__init__(address)
        self.celsius = celsius
        self.config = 0
        self.tos = 80.0  # power-on defaults of the chip
        self.thyst = 75.0
        self.os_active = False
        self._on_os = on_os
        self._comparator()

    @staticmethod
    def _encode(celsius: float) -> int:
        return (round(celsius * 2) & 0x1FF) << 7

    @staticmethod
    def _decode(raw: int) -> float:
        nine = (raw >> 7) & 0x1FF
        return (nine - 0x200 if nine & 0x100 else nine) * 0.5

    def set_temperature(self, celsius: float) -> None:
        self.celsius = max(-55.0, min(125.0, celsius))
        self._comparator()

    def _comparator(self) -> None:
        active = self.os_active
        if self.celsius >= self.tos:
            active = True
        elif self.celsius < self.thyst:
            active = False
        if active != self.os_active:
            self.os_active = active
            if self._on_os is not None:
                self._on_os(active)

    def read_register(self, register: int) -> int:
        return {0x00: self._encode(self.celsius), 0x01: self.config, 0x02: self._encode(self.thyst),
                0x03: self._encode(self.tos)}[register]

    def write_register(self, register: int, value: int) -> None:
        if register == 0x01:
            self.config = value
        elif register == 0x02:
            self.thyst = self._decode(value)
        elif register == 0x03:
            self.tos = self._decode(value)
        else:
            raise KeyError(register)
        self._comparator()


class SimINA219(RegisterDevice):
    widths: ClassVar[dict[int, int]] = dict.fromkeys(range(6), 2)
    POWER_ON_CONFIG = 0x399F

    def __init__(self, address: int = 0x40, bus_volts: float = 12.0, amperes: float = 1.5,
                 shunt_ohms: float = 0.1) -> None:
        super().__init__(address)
        self.bus_volts = bus_volts
        self.amperes = amperes
        self.shunt_ohms = shunt_ohms
        self.reset()

    def reset(self) -> None:
        """What a power glitch of the chip does: registers back to their power-on values."""
        self.config = self.POWER_ON_CONFIG
        self.calibration = 0

    def _current_lsb(self) -> float | None:
        return 0.04096 / (self.calibration * self.shunt_ohms) if self.calibration else None

    def read_register(self, register: int) -> int:
        lsb = self._current_lsb()
        shunt = self.amperes * self.shunt_ohms
        if register == 0x00:
            return self.config
        if register == 0x01:
            return _s16(shunt / 10e-6)
        if register == 0x02:
            overflow = lsb is not None and abs(self.amperes / lsb) > 0x7FFF
            return (min(round(self.bus_volts / 0.004), 0x1FFF) << 3) | 0x2 | int(overflow)
        if register == 0x03:
            return 0 if lsb is None else min(0xFFFF, round(abs(self.amperes) * self.bus_volts / (20 * lsb)))
        if register == 0x04:
            return 0 if lsb is None else _s16(self.amperes / lsb)
        return self.calibration

    def write_register(self, register: int, value: int) -> None:
        if register == 0x00:
            if value & 0x8000:
                self.reset()
            else:
                self.config = value
        elif register == 0x05:
            self.calibration = value & 0xFFFE
        else:
            raise KeyError(register)


class RegisterServer(TcpServer):
    """TCP server of the bus: `R addr reg n` / `W addr reg hex` (see hal.sensors.netbus)."""

    def __init__(self, devices: list[RegisterDevice], host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.devices = {d.address: d for d in devices}

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def command(self, text: str) -> str:
        parts = text.split()
        try:
            verb, address, register = parts[0], int(parts[1]), int(parts[2])
        except (IndexError, ValueError):
            return "! malformed"
        device = self.devices.get(address)
        if device is None or not device.answering:
            return "! nack"
        device.transfers += 1
        try:
            if verb == "R" and len(parts) == 4:
                return "= " + device.read(register, int(parts[3])).hex()
            if verb == "W" and len(parts) == 4:
                device.write(register, bytes.fromhex(parts[3]))
                return "="
        except (KeyError, ValueError):
            return "! nack"
        return "! malformed"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while raw := await reader.readline():
                writer.write(self.command(raw.decode("ascii", "replace").strip()).encode() + b"\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def state(self) -> dict[str, Any]:
        return {f"0x{a:02x}": {"answering": d.answering, "transfers": d.transfers} for a, d in self.devices.items()}
