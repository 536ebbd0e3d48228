from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModemConfig:
    """[modem]: the 3G modem's AT port."""

    port: str
    baudrate: int = 115200
