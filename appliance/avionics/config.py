from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AvionicsConfig:
    """[avionics]: the ARINC 429 adapter, read-only."""

    port: str  # pyserial URL: /dev/..., a pty path, socket://host:port
    baudrate: int = 921600
    silence_timeout: float = 2.0  # seconds without any frame (not even a heartbeat) before the bus is silent
    reopen_backoff: float = 0.25  # first retry delay after a lost device; doubles up to reopen_backoff_max
    reopen_backoff_max: float = 1.0  # so a replugged adapter is back within about a second
    socket: str = ""  # the simulator's socket:// URL of the same adapter (informational; the reader reads `port`)
