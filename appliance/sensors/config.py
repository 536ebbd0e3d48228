from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SensorsConfig:
    """[sensors]: I2C sensors through smbus2."""

    bus: str = "1"  # an I2C bus number (/dev/i2c-N), or tcp://HOST:PORT for the simulator's bus
    poll_interval: float = 1.0
