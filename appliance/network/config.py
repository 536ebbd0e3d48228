"""[network]: the cabin network (passengers) and the maintenance network, for dnsmasq and nftables."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

IFNAME = re.compile(r"[A-Za-z0-9_.-]{1,15}")  # Linux IFNAMSIZ, and nothing nft or dnsmasq would read as syntax


@dataclass(frozen=True)
class NetworkConfig:
    """[network]. The portal's address on the cabin side is `cabin_address`; every name the passengers look up
    answers with it (no internet in the air). `cabin_interface` is the bridge the cabin's access points and
    Wi-Fi are ports of (`cabin_ports`): nftables' bridge table drops every frame between two of them (passengers never
    reach each other). The maintenance listener's port and ssh answer only from `maintenance_networks`."""

    cabin_interface: str = "br-cabin"
    # the cabin bridge's ports (access points' links, Wi-Fi): names or `prefix*`; frames between them are dropped
    cabin_ports: list[str] = field(default_factory=lambda: ["wlan*", "cabin*"])
    cabin_address: str = "10.77.0.1/22"  # the server's address and prefix on the cabin side
    dhcp_start: str = "10.77.0.20"
    dhcp_end: str = "10.77.3.250"
    lease_seconds: int = 900  # short: phones come and go at every flight
    maintenance_interface: str = "eth0"
    maintenance_networks: list[str] = field(default_factory=lambda: ["10.78.0.0/24"])
    ssh_port: int = 22
    lease_file: str = "/run/appliance-network/dnsmasq.leases"  # appliance-network.service makes the directory
    rendered_dir: str = ""  # where the image's units keep the rendered files (health compares them)

    @property
    def cabin(self) -> ipaddress.IPv4Interface:
        return ipaddress.IPv4Interface(self.cabin_address)

    def validate(self) -> None:
        """Raises ValueError(key, message) (the loader makes it a ConfigError naming the key)."""
        for key in ("cabin_interface", "maintenance_interface"):
            if not IFNAME.fullmatch(getattr(self, key)):
                raise ValueError(key, "expected an interface name (letters, digits, _ . -; at most 15)")
        for port in self.cabin_ports:
            if not IFNAME.fullmatch(port.removesuffix("*")):
                raise ValueError("cabin_ports", f"{port!r}: expected an interface name or a `prefix*`")
        if self.cabin_interface == self.maintenance_interface:
            raise ValueError("maintenance_interface", "must not be the cabin interface")
        try:
            cabin = ipaddress.IPv4Interface(self.cabin_address)
        except ValueError:
            raise ValueError("cabin_address", "expected an IPv4 address with its prefix, e.g. 10.77.0.1/22") from None
        if cabin.network.prefixlen > 30 or "/" not in self.cabin_address:
            raise ValueError("cabin_address", "expected an IPv4 address with a prefix of /30 or wider")
        for key in ("dhcp_start", "dhcp_end"):
            try:
                address = ipaddress.IPv4Address(getattr(self, key))
            except ValueError:
                raise ValueError(key, "expected an IPv4 address") from None
            if address not in cabin.network or address in (cabin.ip, cabin.network.network_address,
                                                           cabin.network.broadcast_address):
                raise ValueError(key, f"must be a host address of {cabin.network} other than the server's")
        start, end = ipaddress.IPv4Address(self.dhcp_start), ipaddress.IPv4Address(self.dhcp_end)
        if start > end:
            raise ValueError("dhcp_end", "must not come before dhcp_start")
        if cabin.ip >= start and cabin.ip <= end:
            raise ValueError("dhcp_start", f"the range must not contain the server's address {cabin.ip}")
        if not 120 <= self.lease_seconds <= 86400:
            raise ValueError("lease_seconds", "must be 120 (dnsmasq's minimum) to 86400")
        if not self.maintenance_networks:
            raise ValueError("maintenance_networks", "at least one network (else nobody could reach ssh)")
        for value in self.maintenance_networks:
            try:
                network = ipaddress.ip_network(value)
            except ValueError:
                raise ValueError("maintenance_networks", f"{value!r} is not a network (e.g. 10.78.0.0/24)") from None
            if network.version == 4 and network.overlaps(cabin.network):
                raise ValueError("maintenance_networks", f"{value} overlaps the cabin network {cabin.network}")
        if not 1 <= self.ssh_port <= 65535:
            raise ValueError("ssh_port", "must be 1..65535")
        if not self.lease_file.startswith("/") or any(c in self.lease_file for c in "\n\"'"):
            raise ValueError("lease_file", "expected an absolute path")
