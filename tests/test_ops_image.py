"""The image recipe's generated files, checked statically (the real build and boot are `make image` and
`make image-test`): udev names and ModemManager kept off, sshd keys-only on another port, the config-pull
timer, the default config valid, the units the recipe enables present."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.appconfig import parse_config
from appliance.config import read_toml
from image.boot_test import customize
from image.build import customize_hooks
from image.overlay import SERVICES_TO_ENABLE, ImageOptions, write_overlay


@pytest.fixture
def overlay(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    write_overlay(root, ImageOptions(ssh_port=2299))
    return root


def test_udev_rules_name_the_devices_and_keep_modemmanager_off(overlay: Path) -> None:
    rules = (overlay / "etc/udev/rules.d/70-appliance.rules").read_text().replace("\\\n", " ")
    lines = [line for line in rules.splitlines() if line.strip() and not line.startswith("#")]
    by_name = {m.group(1): line for line in lines if (m := re.search(r'SYMLINK\+="([^"]+)"', line))}
    assert set(by_name) == {"avionics", "modem-at"}
    for line in by_name.values():
        assert 'ENV{ID_MM_DEVICE_IGNORE}="1"' in line and 'GROUP="dialout"' in line and 'SUBSYSTEM=="tty"' in line
    assert 'ATTRS{idVendor}=="0403"' in by_name["avionics"]
    assert 'ENV{ID_USB_INTERFACE_NUM}=="02"' in by_name["modem-at"]
    assert any('GROUP="gpio"' in line and "gpiochip" in line for line in lines)
    assert any('GROUP="i2c"' in line for line in lines)
    for line in lines:  # every key is one of udev's, with a comparison or an assignment
        for key in re.findall(r'(\w+(?:\{[^}]+\})?)\s*(?:==|\+=|=)\s*"', line):
            assert key.split("{")[0] in {"SUBSYSTEM", "KERNEL", "ATTRS", "ENV", "SYMLINK", "GROUP", "MODE"}, key


def test_sshd_accepts_keys_only_on_a_non_default_port(overlay: Path) -> None:
    text = (overlay / "etc/ssh/sshd_config.d/appliance.conf").read_text()
    options = dict(line.split(None, 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert options["Port"] == "2299"
    assert options["PasswordAuthentication"] == "no" and options["KbdInteractiveAuthentication"] == "no"
    assert options["AuthenticationMethods"] == "publickey" and options["PubkeyAuthentication"] == "yes"
    assert options["PermitRootLogin"] == "prohibit-password"
    sshd = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
    if sshd is not None:
        key = overlay / "hostkey"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        check = subprocess.run(
            [sshd, "-t", "-f", str(overlay / "etc/ssh/sshd_config.d/appliance.conf"), "-h", str(key)],
            capture_output=True, text=True,
        )  # fmt: skip
        assert check.returncode == 0, check.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_the_config_pull_timer_and_every_unit_verify(overlay: Path, tmp_path: Path) -> None:
    system = overlay / "etc/systemd/system"
    shim = tmp_path / "bin"
    shim.mkdir()
    for name in ("appliance", "ansible-pull"):
        (shim / name).write_text(f"#!/bin/sh\nexec {sys.executable} -c pass\n")
        (shim / name).chmod(0o755)
    copies = []
    for unit in [*system.glob("*.service"), *system.glob("*.socket"), *system.glob("*.timer")]:
        text = re.sub(r"/opt/appliance/(current|committed)/bin/appliance", str(shim / "appliance"), unit.read_text())
        copy = tmp_path / unit.name
        copy.write_text(text.replace("/usr/bin/ansible-pull", str(shim / "ansible-pull")))
        copies.append(str(copy))
    result = subprocess.run(["systemd-analyze", "verify", *copies], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    timer = (system / "appliance-config-pull.timer").read_text()
    assert "OnUnitActiveSec=" in timer and "WantedBy=timers.target" in timer
    assert "ansible-pull --url" in (system / "appliance-config-pull.service").read_text()


def test_the_default_config_is_valid_and_names_the_udev_devices(overlay: Path) -> None:
    path = overlay / "etc/appliance/appliance.toml"
    config = parse_config(read_toml(path), str(path))
    assert config.avionics.port == "/dev/avionics" and config.modem.port == "/dev/modem-at"
    assert config.maintenance.token_file == "/etc/appliance/maintenance.token"
    assert config.storage.dir == "/var/lib/appliance"
    # the maintenance listener listens on every address: only the maintenance network may reach it
    assert config.maintenance.allow_from and not config.maintenance.allow_any


def test_the_recipe_enables_units_that_exist(overlay: Path, tmp_path: Path) -> None:
    hooks = customize_hooks(overlay, tmp_path)
    enable = next(h for h in hooks if "systemctl enable" in h)
    ours = {p.name for p in (overlay / "etc/systemd/system").iterdir() if p.is_file()}
    debian = {"systemd-networkd.service", "ssh.service"}  # from the Debian packages the recipe includes
    for unit in SERVICES_TO_ENABLE:
        assert unit in enable and (unit in ours or unit in debian), unit
    assert any("pip install" in h and "--no-index" in h for h in hooks)
    assert any("ssh_host_" in h for h in hooks)  # no host keys shared through the image


def test_the_boot_test_customization(overlay: Path) -> None:
    passwd = f"root:x:0:0::/root:/bin/sh\nappliance:x:{os.getuid()}:{os.getgid()}::/:/bin/false\n"
    (overlay / "etc/passwd").write_text(passwd)
    customize(overlay, "tok", "sim")
    token = overlay / "etc/appliance/maintenance.token"
    assert token.read_text() == "tok\n" and token.stat().st_mode & 0o777 == 0o600
    drop_in = (overlay / "etc/systemd/system/appliance.service.d/boot-test.conf").read_text()
    assert "ExecStart=\n" in drop_in and "run --sim" in drop_in
    wants = overlay / "etc/systemd/system/multi-user.target.wants/appliance-boot-report.service"
    assert wants.is_symlink() and wants.resolve().exists()



def test_the_boot_test_makes_qemus_network_the_maintenance_network(overlay: Path, tmp_path: Path) -> None:
    """The boot test's aircraft config lets the forwarded ports in (from qemu's 10.0.2.2 on eth0) through both
    fences, renders, and is what the boot report's live-ruleset check looks for."""
    passwd = f"root:x:0:0::/root:/bin/sh\nappliance:x:{os.getuid()}:{os.getgid()}::/:/bin/false\n"
    (overlay / "etc/passwd").write_text(passwd)
    customize(overlay, "tok", "absent")
    config = overlay / "etc/appliance/appliance.toml"
    raw = read_toml(config)
    assert raw["maintenance"]["allow_from"] == raw["network"]["maintenance_networks"] == ["10.0.2.0/24"]
    assert raw["network"]["maintenance_interface"] == "eth0"  # net.ifnames=0 on the guest's kernel line
    parse_config(raw, str(config))
    out = tmp_path / "rendered"
    subprocess.run([sys.executable, "-m", "appliance", "network", "render", "--config", str(config), "--out",
                    str(out)], check=True, capture_output=True)
    assert re.search(r'iifname "eth0" ip saddr \{ 10\.0\.2\.0/24 \} tcp dport \{ 2299, 9180 \} accept',
                     (out / "appliance.nft").read_text())
    assert 'dhcp-option=114,"https://portal.cabin.invalid/captive-portal/api"' in (out / "dnsmasq.conf").read_text()


def test_the_boot_report_is_read_field_by_field() -> None:
    from image.boot_test import cabin_network_up, failed_units, maintenance_connections

    good = ("BOOT-REPORT StatusText=ok NRestarts=0 ActiveState=active NETWORK=active,active, "
            "TABLES=table_inet_appliance,table_bridge_appliance_cabin, RENDERED=appliance.nft,dnsmasq.conf, "
            "ENGINEERS=1 DNSMASQ=1 OPTION114=1 FAILED=")
    assert cabin_network_up(good) and failed_units(good) == []
    assert not cabin_network_up(good.replace("ENGINEERS=1", "ENGINEERS=0"))  # a stale ruleset
    assert not cabin_network_up(good.replace("NETWORK=active,active,", "NETWORK=active,failed,"))
    assert not cabin_network_up(good.replace("OPTION114=1", "OPTION114=0"))
    assert failed_units(good + "appliance-fsck.service,") == ["appliance-fsck.service"]
    metrics = ('appliance_http_connections{listener="maintenance"} 1.0\n'
               'appliance_http_connections{listener="portal"} 7.0\n'
               'appliance_http_connections_refused_total{listener="maintenance",reason="per_address"} 4.0\n')
    assert maintenance_connections(metrics) == {"open": 1.0, "refused_per_address": 4.0}
