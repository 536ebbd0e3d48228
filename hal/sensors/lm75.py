"""LM75 board temperature sensor: temperature 0x00, configuration 0x01, THYST 0x02, TOS 0x03.

Temperature registers are 16-bit big-endian, the top 9 bits a two's complement value in 0.5 degC steps. The OS
output (comparator mode) goes active above TOS and releases below THYST: on this board it drives OVERTEMPSIG.
"""

from __future__ import annotations

from hal.sensors.bus import I2CBus, read_be16, write_be16

REG_TEMP = 0x00
REG_CONFIG = 0x01
REG_THYST = 0x02
REG_TOS = 0x03
DEFAULT_ADDRESS = 0x48
CONFIG_NORMAL = 0x00  # comparator mode, OS active low, fault queue 1, not shut down


def decode_temperature(raw: int) -> float:
    nine = (raw >> 7) & 0x1FF
    if nine & 0x100:
        nine -= 0x200
    return nine * 0.5


def encode_temperature(celsius: float) -> int:
    half_steps = round(celsius * 2)
    if not -256 <= half_steps <= 255:
        raise ValueError(f"{celsius} degC is outside the LM75's range")
    return (half_steps & 0x1FF) << 7


class LM75:
    def __init__(self, bus: I2CBus, address: int = DEFAULT_ADDRESS) -> None:
        self.bus = bus
        self.address = address

    def configure(self, limit: float, hysteresis: float) -> None:
        """Normal operation, and the OS comparator's limits. Read back: a device that ignores writes fails."""
        self.bus.write_byte_data(self.address, REG_CONFIG, CONFIG_NORMAL)
        write_be16(self.bus, self.address, REG_TOS, encode_temperature(limit))
        write_be16(self.bus, self.address, REG_THYST, encode_temperature(limit - hysteresis))
        if read_be16(self.bus, self.address, REG_TOS) != encode_temperature(limit):
            raise OSError("LM75: TOS did not read back")

    def limits(self) -> tuple[float, float]:
        """(TOS, THYST) as the device holds them."""
        return (
            decode_temperature(read_be16(self.bus, self.address, REG_TOS)),
            decode_temperature(read_be16(self.bus, self.address, REG_THYST)),
        )

    def temperature(self) -> float:
        return decode_temperature(read_be16(self.bus, self.address, REG_TEMP))
