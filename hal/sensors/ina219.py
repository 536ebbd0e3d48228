"""INA219 power monitor: config 0x00, shunt voltage 0x01, bus voltage 0x02, power 0x03, current 0x04,
calibration 0x05. Registers are 16-bit big-endian.

Bus voltage: bits 15..3 in 4 mV steps, bit 1 CNVR (conversion ready), bit 0 OVF (math overflow: the power and
current readings are not valid). Current and power depend on the calibration register, which a power glitch
of the device resets to 0: reading it back tells a reset device from a good one.
"""

from __future__ import annotations

from dataclasses import dataclass

from hal.sensors.bus import I2CBus, read_be16, signed16, write_be16

REG_CONFIG = 0x00
REG_SHUNT = 0x01
REG_BUS = 0x02
REG_POWER = 0x03
REG_CURRENT = 0x04
REG_CALIBRATION = 0x05
DEFAULT_ADDRESS = 0x40
RESET = 0x8000
# 32 V bus range, PGA /8 (320 mV), 12-bit bus and shunt ADC, shunt and bus continuous: the power-on default.
CONFIG_32V_320MV = 0x399F


class SensorFault(OSError):
    """The device answered but its reading is not usable (overflow, lost calibration)."""


@dataclass(frozen=True)
class PowerReading:
    bus_volts: float
    current_amperes: float
    power_watts: float
    shunt_volts: float


class INA219:
    def __init__(self, bus: I2CBus, address: int = DEFAULT_ADDRESS, shunt_ohms: float = 0.1,
                 current_lsb: float = 0.0001) -> None:
        self.bus = bus
        self.address = address
        self.shunt_ohms = shunt_ohms
        self.current_lsb = current_lsb
        self.calibration = int(0.04096 / (current_lsb * shunt_ohms))
        if not 0 < self.calibration <= 0xFFFE:
            raise ValueError("shunt_ohms and current_lsb give a calibration outside the register's range")

    def configure(self) -> None:
        write_be16(self.bus, self.address, REG_CONFIG, RESET)
        write_be16(self.bus, self.address, REG_CONFIG, CONFIG_32V_320MV)
        write_be16(self.bus, self.address, REG_CALIBRATION, self.calibration & 0xFFFE)
        if read_be16(self.bus, self.address, REG_CALIBRATION) != self.calibration & 0xFFFE:
            raise SensorFault("INA219: calibration did not read back")

    def read(self) -> PowerReading:
        if read_be16(self.bus, self.address, REG_CALIBRATION) != self.calibration & 0xFFFE:
            raise SensorFault("INA219: calibration lost (device reset)")
        raw_bus = read_be16(self.bus, self.address, REG_BUS)
        if raw_bus & 0x1:
            raise SensorFault("INA219: math overflow (OVF)")
        bus_volts = (raw_bus >> 3) * 0.004
        shunt_volts = signed16(read_be16(self.bus, self.address, REG_SHUNT)) * 10e-6
        current = signed16(read_be16(self.bus, self.address, REG_CURRENT)) * self.current_lsb
        power = read_be16(self.bus, self.address, REG_POWER) * 20 * self.current_lsb
        return PowerReading(bus_volts, current, power, shunt_volts)
