"""The cabin network for real, in network namespaces this test makes and removes (tests/network/netns.py): the
daemon (`appliance run --sim`), dnsmasq and nftables in the server's namespace with the configuration
`appliance network render` wrote; two passengers on the cabin bridge; an engineer on the maintenance network.

Skips (with the reason) where it cannot run: not root, no network namespaces, a tool missing (make debs)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from appliance.tlsca import LocalCA, spki_hash
from tests.conftest import REPO, subprocess_env
from tests.network.netns import Cabin, cabin, unavailable

pytestmark = [pytest.mark.netns, pytest.mark.xdist_group("netns")]
WHY = unavailable()
if WHY is not None:
    pytest.skip(WHY, allow_module_level=True)

HOST = "portal.cabin.test"
SERVER = "10.77.0.1"
APPLE = ("captive.apple.com", "/hotspot-detect.html")
SECTIONS = f"""
[portal]
listen = "0.0.0.0:80"
tls_listen = "0.0.0.0:443"
public_host = "{HOST}"
[maintenance]
listen = "0.0.0.0:9180"
allow_from = ["10.77.9.0/24"]
[network]
cabin_interface = "br0"
cabin_ports = ["cp*"]
cabin_address = "{SERVER}/24"
dhcp_start = "10.77.0.100"
dhcp_end = "10.77.0.150"
lease_seconds = 600
maintenance_interface = "vm0"
maintenance_networks = ["10.77.9.0/24"]
"""
DHCLIENT_CONF = """option captive-portal code 114 = text;
request subnet-mask, routers, domain-name-servers, captive-portal;
"""
DHCLIENT_SCRIPT = """#!/bin/sh
env > "$0.$reason.env"
case "$reason" in BOUND|RENEW|REBIND|REBOOT)
  ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface"
  ip route replace default via "$new_routers" dev "$interface";;
esac
"""


@dataclass
class Aircraft:
    cabin: Cabin
    work: Path
    ca: LocalCA
    leaf_spki: str
    leases: dict[str, dict[str, str]]  # passenger -> dhclient's environment at BOUND

    def curl(self, role: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.cabin.exec(role, "curl", "-s", "-m", "5", "--cacert", str(self.work / "ca.pem"), *args,
                               check=False)


def _dhcp(c: Cabin, work: Path, role: str) -> dict[str, str]:
    script = work / f"dhclient-{role}.sh"
    script.write_text(DHCLIENT_SCRIPT)
    script.chmod(0o755)
    (work / "dhclient.conf").write_text(DHCLIENT_CONF)
    c.exec(role, "dhclient", "-1", "-v", "-cf", str(work / "dhclient.conf"), "-lf", str(work / f"{role}.leases"),
           "-pf", str(work / f"{role}.pid"), "-sf", str(script), "eth0", timeout=60)
    bound = Path(f"{script}.BOUND.env")
    env = dict(line.split("=", 1) for line in bound.read_text().splitlines() if "=" in line)
    c.exec(role, "dhclient", "-x", "-pf", str(work / f"{role}.pid"), "-lf", str(work / f"{role}.leases"),
           "-sf", "/bin/true", check=False)  # stop the client; the address stays
    return env


@pytest.fixture(scope="module")
def aircraft(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Aircraft]:
    work = tmp_path_factory.mktemp("cabin")
    work.chmod(0o755)
    ca = LocalCA.create()
    (work / "ca.pem").write_bytes(ca.cert_pem)
    issued = ca.issue([HOST], days=60)
    (work / "cert.pem").write_bytes(issued.cert_pem)
    (work / "key.pem").write_bytes(issued.key_pem)
    leaf_spki = spki_hash(issued.cert_pem)  # Chromium matches the presented chain: the server sends the leaf
    tls = f'tls_cert = "{work / "cert.pem"}"\ntls_key = "{work / "key.pem"}"\n'
    sections = SECTIONS.replace("[maintenance]", tls + "[maintenance]")
    sections += f'lease_file = "{work / "dnsmasq.leases"}"\n'
    # the aircraft's whole config, for the renderer (its device keys are never opened by it)
    (work / "aircraft.toml").write_text(sections + '[avionics]\nport = "/dev/null"\n[modem]\nport = "/dev/null"\n'
                                        '[groundlink]\nurl = "http://10.77.9.2:9"\n')
    (work / "daemon.toml").write_text(sections + '[groundlink]\nurl = "http://10.77.9.2:9"\n')
    rendered = subprocess.run([sys.executable, "-m", "appliance", "network", "render", "--config",
                               str(work / "aircraft.toml"), "--out", str(work / "rendered")],
                              capture_output=True, text=True, env=subprocess_env(), cwd=REPO)
    assert rendered.returncode == 0, rendered.stderr
    with cabin() as c:
        c.exec("srv", "nft", "-f", str(work / "rendered" / "appliance.nft"))
        c.spawn("srv", "dnsmasq", "-k", "-u", "root", "-C", str(work / "rendered" / "dnsmasq.conf"),
                "--pid-file=" + str(work / "dnsmasq.pid"), log=work / "dnsmasq.log")
        c.spawn("srv", sys.executable, "-m", "appliance", "run", "--sim", "--config", str(work / "daemon.toml"),
                "--state-dir", str(work / "state"), log=work / "daemon.log", env=subprocess_env(), cwd=work)
        deadline = time.monotonic() + 60
        while c.connect("mnt", "10.77.9.1", 9180, 1.0) != "open" or c.connect("p1", SERVER, 443, 0.5) == "refused":
            assert time.monotonic() < deadline, (work / "daemon.log").read_text()[-3000:]
            time.sleep(0.5)
        leases = {role: _dhcp(c, work, role) for role in ("p1", "p2")}
        for role in ("p1", "p2"):
            c.resolv_conf(role, leases[role]["new_domain_name_servers"].split()[0])
        yield Aircraft(c, work, ca, leaf_spki, leases)


def test_a_real_dhcp_client_gets_a_lease_with_the_https_captive_api_in_option_114(aircraft: Aircraft) -> None:
    for role in ("p1", "p2"):
        lease = aircraft.leases[role]
        assert lease["new_ip_address"].startswith("10.77.0.1")
        assert lease["new_captive_portal"] == f"https://{HOST}/captive-portal/api"
        assert lease["new_domain_name_servers"] == SERVER and lease["new_dhcp_lease_time"] == "600"
    assert aircraft.leases["p1"]["new_ip_address"] != aircraft.leases["p2"]["new_ip_address"]


def test_every_name_resolves_to_the_portal(aircraft: Aircraft) -> None:
    for name in ("captive.apple.com", "connectivitycheck.gstatic.com", HOST, "example.org"):
        answer = aircraft.cabin.exec("p1", "dig", "+short", "+time=2", "+tries=1", name).stdout.split()
        assert answer == [SERVER], name


def test_the_probe_redirects_then_succeeds_after_accept_and_the_api_is_https(aircraft: Aircraft) -> None:
    host, path = APPLE
    probe = ["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", f"http://{host}{path}"]
    assert aircraft.curl("p1", *probe).stdout == f"302 https://{HOST}/welcome"
    api = json.loads(aircraft.curl("p1", f"https://{HOST}/captive-portal/api").stdout)
    assert api["captive"] is True and api["user-portal-url"] == f"https://{HOST}/welcome"
    accept = aircraft.curl("p1", "-o", "/dev/null", "-w", "%{http_code}", "-H", f"Origin: https://{HOST}",
                           "-d", "lang=en", f"https://{HOST}/captive-portal/accept")
    assert accept.stdout == "302"
    online = aircraft.curl("p1", "-w", " %{http_code}", f"http://{host}{path}").stdout
    assert online == "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML> 200"
    assert aircraft.curl("p2", *probe).stdout == f"302 https://{HOST}/welcome"  # the other one still captive


def test_passengers_reach_only_dhcp_dns_and_the_portal(aircraft: Aircraft) -> None:
    c = aircraft.cabin
    assert c.connect("p1", SERVER, 9180) == "timeout"  # the maintenance listener: dropped, not a 403
    assert c.connect("p1", SERVER, 22) == "timeout"  # ssh: dropped (nothing listens: from mnt it is refused)
    assert c.connect("p1", "10.77.9.1", 9180) == "timeout"  # nor through the maintenance side's address
    assert c.connect("p1", SERVER, 443) == "open" and c.connect("p1", SERVER, 80) == "open"
    other = aircraft.leases["p2"]["new_ip_address"]
    assert c.connect("p1", other, 7) == "timeout"  # p2 would answer RST (refused) if the frame reached it
    assert c.exec("p1", "ping", "-c", "1", "-W", "1", other, check=False).returncode != 0


def test_the_maintenance_network_reaches_health_and_ssh(aircraft: Aircraft) -> None:
    c = aircraft.cabin
    token = (aircraft.work / "state" / "maintenance.token").read_text().strip()
    health = c.exec("mnt", "curl", "-s", "-m", "5", "-H", f"Authorization: Bearer {token}",
                    "http://10.77.9.1:9180/health", check=False)
    assert json.loads(health.stdout)["status"] in ("pass", "warn")
    assert c.connect("mnt", "10.77.9.1", 22) == "refused"  # let through by nftables (no sshd in the test)


@pytest.mark.browser
def test_chromium_in_a_passenger_namespace_opens_the_portal_over_https(aircraft: Aircraft, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    dom = aircraft.cabin.exec(
        "p1", "/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        f"--user-data-dir={profile}", f"--ignore-certificate-errors-spki-list={aircraft.leaf_spki}",
        "--virtual-time-budget=5000", "--dump-dom", f"https://{HOST}/welcome", check=False, timeout=90)
    assert "captive-portal/accept" in dom.stdout, dom.stderr[-2000:]
