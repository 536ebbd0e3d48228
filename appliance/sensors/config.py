"""The sensors component."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SensorsConfig:
    """[sensors]: I2C sensors through smbus2."""

    bus: str = "1"  # an I2C bus number (/dev/i2c-N), or tcp://HOST:PORT for the simulator's bus
    poll_interval: float = 1.0
    lm75_address: int = 0x48
    ina219_address: int = 0x40
    shunt_ohms: float = 0.1
    limit: float = 85.0  # board temperature (degC) that raises the over_temperature alarm
    hysteresis: float = 5.0  # the condition clears below limit - hysteresis (also the LM75's THYST)
    temperature_range: list[float] | None = None  # plausible readings [min, max]; default [-55, 125]
    bus_voltage_range: list[float] | None = None  # default [0, 26]
    current_range: list[float] | None = None  # default [-3.2, 3.2]
    backoff_initial: float = 0.5  # seconds before the first retry of a failed sensor, doubling
    backoff_max: float = 30.0

    def validate(self) -> None:
        if self.poll_interval <= 0:
            raise ValueError("poll_interval", "must be positive")
        if not (self.bus.isdigit() or self.bus.startswith("tcp://")):
            raise ValueError("bus", f"expected an I2C bus number or tcp://HOST:PORT, got {self.bus!r}")
        if self.hysteresis < 0:
            raise ValueError("hysteresis", "must not be negative")
        for key in ("temperature_range", "bus_voltage_range", "current_range"):
            value = getattr(self, key)
            if value is not None and (len(value) != 2 or value[0] >= value[1]):
                raise ValueError(key, "expected [min, max] with min < max")
        if self.backoff_initial <= 0 or self.backoff_max < self.backoff_initial:
            raise ValueError("backoff_initial", "expected 0 < backoff_initial <= backoff_max")
