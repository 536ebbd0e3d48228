from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModemConfig:
    """[modem]: the 3G modem's AT port."""

    port: str
    baudrate: int = 115200
    poll_interval: float = 5.0  # seconds between status polls (URCs update registration in between)
    command_timeout: float = 2.0
    timeouts_before_recovery: int = 3  # consecutive command timeouts that start the next rung of the ladder
    reset_wait: float = 5.0  # after AT+CFUN=1,1 or a power cycle, before probing again
    power_off_seconds: float = 2.0
    failed_retry_interval: float = 60.0  # once FAILED, how often to start the ladder again

    def validate(self) -> None:
        for name in ("poll_interval", "command_timeout", "reset_wait", "power_off_seconds", "failed_retry_interval"):
            if getattr(self, name) <= 0:
                raise ValueError(name, "must be greater than 0")
        if self.timeouts_before_recovery < 1:
            raise ValueError("timeouts_before_recovery", "must be at least 1")
