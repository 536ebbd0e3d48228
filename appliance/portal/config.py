from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class PortalConfig:
    """[portal]: the passenger listener.

    `schedule_*` are the fallback when the avionics flight information block is missing; `profile = "ground"`
    serves the app on the ground (no videos, destination offers first, online features).
    """

    listen: str = "0.0.0.0:80"
    profile: Literal["air", "ground"] = "air"
    captive_inactivity_seconds: float = 4 * 3600.0
    sse_interval_seconds: float = 1.0
    sse_max_behind_ticks: int = 10  # a client this many ticks behind is dropped
    sse_max_clients: int = 2000
    orders_per_minute: int = 6  # per client address
    orders_burst: int = 3
    max_body_bytes: int = 4096  # JSON bodies (orders, accept)
    schedule_flight_number: str = ""
    schedule_origin: str = ""  # ICAO
    schedule_destination: str = ""  # ICAO
    public_host: str = ""  # name the cabin DNS gives the portal (redirect target); empty: relative redirects
    # extra Origins accepted on POST besides the request's own host
    allowed_origins: list[str] = field(default_factory=list)
