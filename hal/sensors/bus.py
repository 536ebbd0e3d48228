"""The I2C bus the sensors use: smbus2's method names, whichever bus is behind them."""

from __future__ import annotations

from typing import Any, Protocol


class I2CBus(Protocol):
    def read_byte_data(self, i2c_addr: int, register: int) -> int: ...

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None: ...

    def read_word_data(self, i2c_addr: int, register: int) -> int: ...

    def write_word_data(self, i2c_addr: int, register: int, value: int) -> None: ...

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]: ...

    def close(self) -> None: ...


def swap16(value: int) -> int:
    """SMBus words are little-endian on the wire (low byte first); LM75 and INA219 send the high byte first."""
    return ((value & 0xFF) << 8) | ((value >> 8) & 0xFF)


def read_be16(bus: I2CBus, address: int, register: int) -> int:
    return swap16(bus.read_word_data(address, register))


def write_be16(bus: I2CBus, address: int, register: int, value: int) -> None:
    bus.write_word_data(address, register, swap16(value & 0xFFFF))


def signed16(value: int) -> int:
    return value - 0x10000 if value & 0x8000 else value


def open_bus(spec: str) -> Any:
    """"N" (/dev/i2c-N through smbus2) or "tcp://HOST:PORT" (the simulator's register server)."""
    if spec.startswith("tcp://"):
        from hal.sensors.netbus import NetBus

        return NetBus(spec)
    if spec.isdigit():
        from smbus2 import SMBus

        return SMBus(int(spec))
    raise ValueError(f"expected an I2C bus number or tcp://HOST:PORT, got {spec!r}")
