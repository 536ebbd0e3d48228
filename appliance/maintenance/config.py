from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MaintenanceConfig:
    """[maintenance]: the engineers' listener (health, metrics, admin), bearer token on all but /livez."""

    listen: str = "0.0.0.0:9180"
    token_file: str = "/etc/appliance/maintenance.token"
    # Networks (CIDR) allowed to reach the listener at all, /livez included: on the aircraft, the maintenance
    # network and the VPN, so that the cabin Wi-Fi cannot even try tokens. Empty: any address (token still needed)
    allow_from: list[str] = field(default_factory=list)
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
        _host, sep, port = self.listen.rpartition(":")
        if not sep or not port.isdigit() or int(port) > 65535:
            raise ValueError("listen", f"expected HOST:PORT, got {self.listen!r}")
