"""The `[network]` section (with the portal's and the maintenance listener's keys) as dnsmasq's and nftables'
configuration: pure functions of the config, so `appliance network render` and the health check agree.

dnsmasq (cabin side only): DHCP for the range with short leases, the server as router and DNS, RFC 8910
option 114 = https://<portal.public_host>/captive-portal/api (RFC 8908's API, HTTPS only), and every name
answered with the server's cabin address (there is no internet in the air).

nftables (one `inet appliance` table and one `bridge appliance_cabin` table, replaced whole by `nft -f`):
from the cabin interface only DHCP, DNS and the portal's ports (80, 443) of the server, everything else
dropped (not refused: a passenger's scan sees nothing); nothing routed to or from the cabin; no frame from a
cabin bridge port (`network.cabin_ports`) bridged to another port (passenger to passenger); the maintenance
listener's port and ssh only from the maintenance networks on the maintenance interface.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from appliance.network.config import NetworkConfig

DNSMASQ = "dnsmasq.conf"
NFT = "appliance.nft"


@dataclass(frozen=True)
class Ports:
    """What the other sections say the server listens on."""

    http: int = 80
    https: int = 443
    maintenance: int = 9180
    public_host: str = ""


def captive_api_url(ports: Ports, config: NetworkConfig) -> str:
    host = ports.public_host or str(config.cabin.ip)
    port = "" if ports.https == 443 else f":{ports.https}"
    return f"https://{host}{port}/captive-portal/api"


def dnsmasq_conf(config: NetworkConfig, ports: Ports, source: str) -> str:
    cabin = config.cabin
    return f"""# Rendered by `appliance network render` from [network] of {source}: do not edit, render again.
# The cabin network: DHCP, DNS that answers every name with the portal, RFC 8910 option 114.
interface={config.cabin_interface}
bind-dynamic
except-interface=lo
no-resolv
no-hosts
no-poll
domain-needed
bogus-priv
cache-size=1000
# no internet in the air: every name is the portal (captive.apple.com, connectivitycheck.gstatic.com, ...)
address=/#/{cabin.ip}
dhcp-authoritative
dhcp-range={config.dhcp_start},{config.dhcp_end},{cabin.netmask},{config.lease_seconds}s
dhcp-option=option:router,{cabin.ip}
dhcp-option=option:dns-server,{cabin.ip}
dhcp-option=114,"{captive_api_url(ports, config)}"
dhcp-leasefile={config.lease_file}
dhcp-rapid-commit
"""


def nft_rules(config: NetworkConfig, ports: Ports, source: str) -> str:
    cabin, maint = config.cabin_interface, config.maintenance_interface
    v4 = [n for n in config.maintenance_networks if ipaddress.ip_network(n).version == 4]
    v6 = [n for n in config.maintenance_networks if ipaddress.ip_network(n).version == 6]
    portal = ", ".join(str(p) for p in sorted({ports.http, ports.https}))
    restricted = ", ".join(str(p) for p in sorted({ports.maintenance, config.ssh_port}))
    engineers = []
    if v4:
        engineers.append(f"    iifname \"{maint}\" ip saddr {{ {', '.join(v4)} }} tcp dport {{ {restricted} }} accept")
    if v6:
        engineers.append(f"    iifname \"{maint}\" ip6 saddr {{ {', '.join(v6)} }} tcp dport {{ {restricted} }} accept")
    engineer_rules = "\n".join(engineers)
    # by port name (nft's `meta ibrname` needs a kernel module many kernels lack); wildcards as `wlan*`
    port_rules = "\n".join(f'    iifname "{port}" counter drop' for port in config.cabin_ports)
    return f"""#!/usr/sbin/nft -f
# Rendered by `appliance network render` from [network] of {source}: do not edit, render again.
# Replaces only the appliance's own tables (loading it twice is the same as once).
table inet appliance
delete table inet appliance
table bridge appliance_cabin
delete table bridge appliance_cabin

table inet appliance {{
  chain input {{
    type filter hook input priority filter; policy accept;
    iif "lo" accept
    iifname "{cabin}" jump cabin
    # the maintenance listener and ssh: only the engineers' networks on their interface
    tcp dport {{ {restricted} }} jump engineers
  }}

  chain cabin {{
    # passengers: DHCP, DNS and the portal; nothing else of the server, not even a refusal
    ct state established,related accept
    ct state invalid drop
    udp dport 67 accept
    udp dport 53 accept
    tcp dport 53 accept
    tcp dport {{ {portal} }} accept
    icmp type {{ echo-request, destination-unreachable, time-exceeded }} limit rate 20/second accept
    counter drop
  }}

  chain engineers {{
{engineer_rules}
    counter drop
  }}

  chain forward {{
    type filter hook forward priority filter; policy accept;
    # no internet in the air and no way from the cabin into any other network (or back)
    iifname "{cabin}" counter drop
    oifname "{cabin}" counter drop
  }}
}}

table bridge appliance_cabin {{
  chain forward {{
    type filter hook forward priority filter; policy accept;
    # one passenger never reaches another: no frame from a cabin port bridged to another port
{port_rules}
  }}
}}
"""


def render(config: NetworkConfig, ports: Ports, source: str) -> dict[str, str]:
    """File name -> content."""
    return {DNSMASQ: dnsmasq_conf(config, ports, source), NFT: nft_rules(config, ports, source)}
