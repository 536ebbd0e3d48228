"""The systemd units: `systemd-analyze verify` passes on all of them and the daemon's exposure is 2.5 or lower."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[1] / "units"
INSTALLED_BINARY = re.compile(r"/opt/appliance/(current|committed)/bin/appliance")

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")


def unit_files() -> list[Path]:
    return sorted([*UNITS.glob("*.service"), *UNITS.glob("*.socket")])


def read_unit(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


def test_systemd_analyze_verify_passes_on_every_unit(tmp_path: Path) -> None:
    # verify checks that ExecStart's binary exists: point it at a real `appliance` for this checkout
    shim = tmp_path / "bin" / "appliance"
    shim.parent.mkdir()
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m appliance \"$@\"\n")
    shim.chmod(0o755)
    copies = []
    for unit in unit_files():
        copy = tmp_path / unit.name
        copy.write_text(INSTALLED_BINARY.sub(str(shim), unit.read_text()))
        copies.append(str(copy))
    assert {Path(c).name for c in copies} >= {
        "appliance.service", "appliance-fsck.service", "appliance-portal.socket", "appliance-maintenance.socket"
    }  # fmt: skip
    result = subprocess.run(["systemd-analyze", "verify", *copies], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    # and the unchanged units fail only for the binary that exists once installed
    result = subprocess.run(
        ["systemd-analyze", "verify", *map(str, unit_files())], capture_output=True, text=True, cwd=tmp_path
    )
    problems = [line for line in result.stderr.splitlines() if not INSTALLED_BINARY.search(line)]
    assert problems == []


@pytest.mark.parametrize(("unit", "limit"), [("appliance.service", 2.5), ("appliance-fsck.service", 1.0)])
def test_security_exposure(unit: str, limit: float) -> None:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(UNITS / unit)], capture_output=True, text=True
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout[-2000:] + result.stderr
    assert float(match.group(1)) <= limit


def test_the_daemon_unit_is_notify_watchdog_and_socket_activated() -> None:
    service = read_unit(UNITS / "appliance.service")["Service"]
    assert service["Type"] == "notify" and service["NotifyAccess"] == "main"
    assert int(service["WatchdogSec"]) > 0 and service["Restart"] == "on-failure"
    assert service["RestartPreventExitStatus"] == "78"
    # a power-fail stop (75) and a switch of release (76) are restarted and not failures
    assert service["SuccessExitStatus"] == service["RestartForceExitStatus"] == "75 76"
    assert service["ExecStart"].startswith("/opt/appliance/current/bin/appliance run")
    assert service["ExecStartPre"].startswith("/opt/appliance/committed/bin/appliance release preflight")
    assert service["User"] == "appliance" and set(service["SupplementaryGroups"].split()) == {"dialout", "gpio", "i2c"}
    assert service["StateDirectory"] == service["ConfigurationDirectory"] == service["RuntimeDirectory"] == "appliance"
    assert int(service["TimeoutStopSec"]) > 20  # above maintenance.stop_timeout's default
    assert "PrivateDevices" not in service  # the real devices must stay visible; DeviceAllow narrows them
    assert set(service["Sockets"].split()) == {"appliance-portal.socket", "appliance-maintenance.socket",
                                               "appliance-portal-tls.socket"}
    for name in ("portal", "maintenance", "portal-tls"):
        socket_unit = read_unit(UNITS / f"appliance-{name}.socket")["Socket"]
        assert socket_unit["FileDescriptorName"] == name and socket_unit["Service"] == "appliance.service"
    fsck = read_unit(UNITS / "appliance-fsck.service")
    assert fsck["Service"]["Type"] == "oneshot" and "fsck --repair" in fsck["Service"]["ExecStart"]
    assert fsck["Unit"]["Before"] == "appliance.service"
    # a first boot (no journal, no content store) skips the check instead of failing the unit (fsck exits 8)
    conditions = [line for line in (UNITS / "appliance-fsck.service").read_text().splitlines()
                  if line.startswith("Condition")]
    assert conditions == ["ConditionPathIsDirectory=|/var/lib/appliance/journal",
                          "ConditionPathIsDirectory=|/var/lib/appliance/content/bundles",
                          "ConditionPathExists=|/var/lib/appliance/content/current"]


def test_sysusers_and_tmpfiles_apply_to_a_root(tmp_path: Path) -> None:
    """systemd-sysusers makes the user and groups, then systemd-tmpfiles the state dirs and the token's mode."""
    if shutil.which("systemd-sysusers") is None or shutil.which("systemd-tmpfiles") is None or os.geteuid() != 0:
        pytest.skip("needs systemd-sysusers and systemd-tmpfiles, as root (file ownership)")
    (tmp_path / "etc" / "sysusers.d").mkdir(parents=True)
    (tmp_path / "etc" / "tmpfiles.d").mkdir()
    (tmp_path / "etc" / "group").write_text("root:x:0:\ndialout:x:20:\n")
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    shutil.copy(UNITS / "sysusers.d" / "appliance.conf", tmp_path / "etc" / "sysusers.d")
    shutil.copy(UNITS / "tmpfiles.d" / "appliance.conf", tmp_path / "etc" / "tmpfiles.d")
    token = tmp_path / "etc" / "appliance" / "maintenance.token"
    token.parent.mkdir()
    token.write_text("t\n")
    token.chmod(0o644)
    subprocess.run(["systemd-sysusers", f"--root={tmp_path}", "appliance.conf"], check=True, capture_output=True)
    passwd = {line.split(":")[0]: line.split(":") for line in (tmp_path / "etc" / "passwd").read_text().splitlines()}
    groups = {line.split(":")[0]: line.split(":") for line in (tmp_path / "etc" / "group").read_text().splitlines()}
    uid = int(passwd["appliance"][2])
    for group in ("dialout", "gpio", "i2c"):
        assert "appliance" in groups[group][3].split(","), group
    subprocess.run(["systemd-tmpfiles", f"--root={tmp_path}", "--create", "appliance.conf"], check=True)
    for path in (tmp_path / "var" / "lib" / "appliance", tmp_path / "var" / "lib" / "appliance" / "content"):
        assert path.stat().st_uid == uid and path.stat().st_mode & 0o777 == 0o750
    assert token.stat().st_mode & 0o777 == 0o600 and token.stat().st_uid == uid


def test_the_cabin_network_units_render_then_fence_then_serve_in_order() -> None:
    """appliance-network renders [network]; nftables loads the fence before any socket or interface; dnsmasq
    and the daemon come after it, all from /run/appliance-network."""
    render = read_unit(UNITS / "appliance-network.service")
    assert "appliance network render --config /etc/appliance/appliance.toml --out /run/appliance-network" in \
        render["Service"]["ExecStart"]
    nft = read_unit(UNITS / "appliance-nftables.service")
    assert nft["Unit"]["Requires"] == "appliance-network.service"
    assert "appliance-network.service" in nft["Unit"]["After"]
    assert {"sockets.target", "network-pre.target", "appliance-dnsmasq.service", "appliance.service"} <= \
        set(nft["Unit"]["Before"].split())
    assert nft["Service"]["ExecStart"] == "/usr/sbin/nft -f /run/appliance-network/appliance.nft"
    dnsmasq = read_unit(UNITS / "appliance-dnsmasq.service")
    assert {"appliance-network.service", "appliance-nftables.service"} <= set(dnsmasq["Unit"]["After"].split())
    assert "-C /run/appliance-network/dnsmasq.conf" in dnsmasq["Service"]["ExecStart"]
    daemon = read_unit(UNITS / "appliance.service")["Unit"]
    assert "appliance-nftables.service" in daemon["After"]
