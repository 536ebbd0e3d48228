from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MaintenanceConfig:
    """[maintenance]: the engineers' listener (health, metrics, admin), bearer token on all but /livez."""

    listen: str = "127.0.0.1:9180"  # the box itself; the image names its address and the maintenance network
    token_file: str = "/etc/appliance/maintenance.token"
    # Networks (CIDR) allowed to reach the listener at all, /livez included: on the aircraft, the maintenance
    # network and the VPN, so that the cabin Wi-Fi cannot even try tokens. Empty: any address (token still needed)
    allow_from: list[str] = field(default_factory=list)
    # A listener on a non-loopback address with an empty allow_from refuses to start unless this says so
    allow_any: bool = False
    max_connections: int = 64  # the listener's own cap, kept in the descriptor budget apart from the portal's
    max_connections_per_address: int = 16
    # failed authentications per client address: `auth_failures_burst` at once, then this many a minute (429)
    auth_failures_per_minute: int = 10
    auth_failures_burst: int = 5
    # POST /api/v1/debug/block-loop (token required): an engineer's watchdog test. Off on the aircraft; on in
    # simulated runs (`appliance run --sim`), where the hardware-in-the-loop tests use it
    debug_hooks: bool = False

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(cidr, strict=False) for cidr in self.allow_from]

    def validate(self) -> None:
        for cidr in self.allow_from:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError("allow_from", f"expected networks like \"10.20.0.0/16\", got {cidr!r}") from None
        host, sep, port = self.listen.rpartition(":")
        if not sep or not port.isdigit() or int(port) > 65535:
            raise ValueError("listen", f"expected HOST:PORT, got {self.listen!r}")
        if not self.allow_from and not self.allow_any and not is_loopback_host(host.strip("[]")):
            raise ValueError("allow_from", f"is empty while listen = {self.listen!r} is reachable from other "
                             "networks: name the maintenance networks (CIDR), or set maintenance.allow_any = true")
        for key in ("max_connections", "max_connections_per_address", "auth_failures_per_minute",
                    "auth_failures_burst"):
            if getattr(self, key) < 1:
                raise ValueError(key, "must be at least 1")


def is_loopback_host(host: str) -> bool:
    """Whether a listen host (or a bound address) reaches only this machine ("" and 0.0.0.0 reach all)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", maxsplit=1)[0]).is_loopback
    except ValueError:
        return False
