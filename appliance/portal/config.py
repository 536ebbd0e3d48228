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
    sse_max_clients: int = 2000  # at most max_connections (each stream is a connection)
    sse_max_per_address: int = 4  # streams per client address (a phone needs one; a few tabs)
    sse_send_buffer_bytes: int = 16384  # SO_SNDBUF of a stream's socket: the kernel memory a slow reader can hold
    # connections: per client address and in total (the descriptor budget at start adds these up, see README)
    max_connections: int = 4096
    max_connections_per_address: int = 32
    header_timeout_seconds: float = 10.0  # a request's head must be complete this long after its first byte
    keepalive_timeout_seconds: float = 15.0  # an idle keep-alive connection is closed after this
    orders_per_minute: int = 6  # per client address
    orders_burst: int = 3
    orders_per_minute_total: int = 120  # all addresses together (many spoofed addresses cannot flood the outbox)
    orders_burst_total: int = 30
    max_body_bytes: int = 4096  # JSON bodies (orders, accept)
    schedule_flight_number: str = ""
    schedule_origin: str = ""  # ICAO
    schedule_destination: str = ""  # ICAO
    public_host: str = ""  # name the cabin DNS gives the portal (redirect target); empty: relative redirects
    # extra Origins accepted on POST besides the portal's own names (public_host, the address a client reached,
    # allowed_hosts, the captive probe hosts)
    allowed_origins: list[str] = field(default_factory=list)
    allowed_hosts: list[str] = field(default_factory=list)  # more names the cabin DNS gives the portal
    # HTTPS (docs/tls.md): the listener, and the pair served until the ground installs one (the installed pair,
    # <storage.dir>/tls/current, wins). No listen address, or no pair: HTTP only, and health warns.
    tls_listen: str = ""  # HOST:PORT, e.g. "0.0.0.0:443"
    tls_cert: str = ""  # PEM certificate (chain), e.g. /etc/appliance/tls/cert.pem
    tls_key: str = ""  # its PEM private key
    tls_renew_margin_days: int = 14  # a delivered certificate expiring sooner than this is refused

    def validate(self) -> None:
        """Raises ValueError(key, message) (the loader makes it a ConfigError naming the key)."""
        for key in ("max_connections", "max_connections_per_address", "sse_max_per_address",
                    "sse_send_buffer_bytes", "orders_per_minute_total", "orders_burst_total"):
            if getattr(self, key) < 1:
                raise ValueError(key, "must be at least 1")
        if self.sse_max_clients > self.max_connections:
            raise ValueError("sse_max_clients", f"must not exceed max_connections ({self.max_connections}): "
                             "each stream is a connection")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_key" if self.tls_cert else "tls_cert", "tls_cert and tls_key go together")
        if self.tls_listen and not self.public_host:
            raise ValueError("public_host", "HTTPS (tls_listen) needs the name its certificate is for")
        if self.tls_renew_margin_days < 0:
            raise ValueError("tls_renew_margin_days", "must not be negative")
        for key in ("header_timeout_seconds", "keepalive_timeout_seconds"):
            if getattr(self, key) <= 0:
                raise ValueError(key, "must be positive")
