"""`appliance network render`: the image's own config renders (exit 0) into what dnsmasq and nft accept; a bad
[network] key is exit 78 with one line naming the file and the key."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from image.overlay import DEFAULT_CONFIG
from tests.conftest import REPO, subprocess_env


def render(config: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "appliance", "network", "render", "--config", str(config),
                           "--out", str(out)], capture_output=True, text=True, env=subprocess_env(), cwd=REPO)


def test_the_image_config_renders_dnsmasq_and_nftables(tmp_path: Path) -> None:
    config = tmp_path / "appliance.toml"
    config.write_text(DEFAULT_CONFIG)
    result = render(config, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    dnsmasq = (tmp_path / "out" / "dnsmasq.conf").read_text()
    assert 'dhcp-option=114,"https://portal.cabin.invalid/captive-portal/api"' in dnsmasq
    assert "address=/#/10.77.0.1" in dnsmasq and "dhcp-range=10.77.0.20,10.77.3.250,255.255.252.0,900s" in dnsmasq
    assert "interface=br-cabin" in dnsmasq
    nft = (tmp_path / "out" / "appliance.nft").read_text()
    assert 'iifname "eth0" ip saddr { 10.20.0.0/16 } tcp dport { 2222, 9180 } accept' in nft
    assert "tcp dport { 80, 443 } accept" in nft and 'iifname "wlan*" counter drop' in nft
    if shutil.which("dnsmasq"):
        check = subprocess.run(["dnsmasq", "--test", "-C", str(tmp_path / "out" / "dnsmasq.conf")],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stderr


@pytest.mark.parametrize(("line", "key"), [('cabin_address = "10.77.0.1"', "network.cabin_address"),
                                           ('dhcp_start = "10.99.0.5"', "network.dhcp_start"),
                                           ('cabin_ports = ["wlan 0"]', "network.cabin_ports"),
                                           ('maintenance_networks = ["10.77.1.0/24"]',
                                            "network.maintenance_networks"),
                                           ("lease_seconds = 30", "network.lease_seconds")])
def test_a_bad_network_key_is_exit_78_naming_it(tmp_path: Path, line: str, key: str) -> None:
    config = tmp_path / "appliance.toml"
    text = DEFAULT_CONFIG
    name = line.split(" = ", maxsplit=1)[0]
    network = text.index("[network]")
    text = text[:network] + "\n".join(x for x in text[network:].splitlines() if not x.startswith(name + " "))
    config.write_text(text.replace("[network]\n", f"[network]\n{line}\n"))
    result = render(config, tmp_path / "out")
    assert result.returncode == 78 and key in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert not (tmp_path / "out").exists()
