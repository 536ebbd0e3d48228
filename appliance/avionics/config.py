from __future__ import annotations

from dataclasses import dataclass, field

REQUIRED = ("altitude", "ground_speed", "latitude", "longitude", "heading", "flight_information")


@dataclass(frozen=True)
class AvionicsConfig:
    """[avionics]: the ARINC 429 adapter, read-only."""

    port: str  # pyserial URL: /dev/..., a pty path, socket://host:port
    baudrate: int = 921600
    silence_timeout: float = 2.0  # seconds without any frame (not even a heartbeat) before the bus is silent
    reopen_backoff: float = 0.25  # first retry delay after a lost device; doubles up to reopen_backoff_max
    reopen_backoff_max: float = 1.0  # so a replugged adapter is back within about a second
    # after a read, let bytes gather this long before the next one: one hand-over to the event loop per batch
    # instead of one per frame (at the adapter's full 78 kB/s, 10 ms is 780 bytes of the tty's 4 KB buffer)
    read_batch_seconds: float = 0.01
    socket: str = ""  # the simulator's socket:// URL of the same adapter (informational; the reader reads `port`)
    # parameters the portal and the ground link need: failed, in test, stale or missing ones warn in health
    required: list[str] = field(default_factory=lambda: list(REQUIRED))
    error_rate_limit: float = 10.0  # parity + CRC + line errors per second on a channel that start an episode
    error_window: float = 5.0  # seconds the error rate is measured over (an episode ends once it is below)

    def validate(self) -> None:
        from appliance.avionics.state import PARAMETER_NAMES

        unknown = [name for name in self.required if name not in PARAMETER_NAMES]
        if unknown:
            known = ", ".join(PARAMETER_NAMES)
            raise ValueError("required", f"unknown parameter(s) {', '.join(unknown)} (known: {known})")
        if self.error_rate_limit <= 0 or self.error_window <= 0:
            raise ValueError("error_rate_limit", "error_rate_limit and error_window must be positive")
        if not 0 <= self.read_batch_seconds <= 0.04:
            raise ValueError("read_batch_seconds", "must be 0 to 0.04 (the tty buffer holds ~50 ms at full rate)")
