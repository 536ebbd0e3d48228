"""`make image-test`, part 1: boot the image under qemu (software emulation, TCG) and wait for appliance.service
to be active (Type=notify: active means READY=1 was sent), for the maintenance listener to answer through a
forwarded port, for the cabin network (dnsmasq, nftables) to run with the config rendered from this boot's
`[network]` section, and for sshd on its port.

`--mode absent` (default) runs the aircraft's own config with no devices attached: ready, but degraded.
`--mode sim` runs `appliance run --sim` through a unit drop-in, so every device is the simulator's, inside the
image. Part 2 (issue 14's release scenario) is image/update_test.py.

The guest is the aircraft with qemu's user-mode network as its maintenance network: the host's forwarded ports
arrive from 10.0.2.2 on eth0, so this boot's config names 10.0.2.0/24 in `maintenance.allow_from` and
`network.maintenance_networks` (the image's own config names the aircraft's 10.20.0.0/16, and its nftables
fence drops everything else before the daemon sees it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import socket
import sys
import time
from pathlib import Path

from image.build import OUT, ensure_tools, log, make_disk
from image.vm import GuestFailed, Http, Vm, until

QEMU_NETWORK = "10.0.2.0/24"  # qemu's user-mode network: the host is 10.0.2.2, the guest 10.0.2.15

REPORT_MARK = "BOOT-REPORT"

# The daemon's own log on the console too (the test's only window into the guest besides the listener)
CONSOLE_DROP_IN = """\
[Service]
StandardOutput=journal+console
StandardError=journal+console
"""

SIM_DROP_IN = """\
[Service]
ExecStart=
ExecStart=/opt/appliance/current/bin/appliance run --sim --config /etc/appliance/boot-test.toml \\
  --state-dir /var/lib/appliance/sim
WorkingDirectory=/var/lib/appliance
"""

SIM_CONFIG = f"""\
[maintenance]
listen = "0.0.0.0:9180"
token_file = "/etc/appliance/maintenance.token"
# QEMU's user-mode network: the host's forwarded port arrives from 10.0.2.2
allow_from = ["{QEMU_NETWORK}"]
"""

# After appliance.service is active (or 900 s): its state, the cabin network's units, the tables nftables holds,
# the rendered files, whether the live engineers' chain names this boot's maintenance network (the ruleset was
# rendered from this config, not a stale one), dnsmasq's command line, option 114 in the file it reads, and the
# units systemd lists as failed.
REPORT_UNIT = f"""\
[Unit]
Description=Boot test: report appliance.service's state on the console
After=appliance.service appliance-dnsmasq.service

[Service]
Type=oneshot
StandardOutput=journal+console
ExecStart=/bin/sh -c 'for i in $(seq 900); do systemctl is-active -q appliance.service && break; \
  [ $((i %% 30)) = 0 ] && echo "BOOT-PROGRESS $(systemctl show -p ActiveState -p SubState -p NRestarts \
  appliance.service | tr "\\n" " ")"; sleep 1; done; \
  echo "{REPORT_MARK} $(systemctl show -p ActiveState -p SubState -p NRestarts -p StatusText appliance.service \
  | tr "\\n" " ") NETWORK=$(systemctl is-active appliance-nftables.service appliance-dnsmasq.service | tr "\\n" ,) \
  TABLES=$(nft list tables | tr " \\n" _,) RENDERED=$(ls /run/appliance-network | tr "\\n" ,) \
  ENGINEERS=$(nft list chain inet appliance engineers | grep -c "ip saddr {QEMU_NETWORK}") \
  DNSMASQ=$(pgrep -a dnsmasq | grep -c -- "-C /run/appliance-network/dnsmasq.conf") \
  OPTION114=$(grep -c "^dhcp-option=114,.https://portal.cabin.invalid/captive-portal/api.$" \
  /run/appliance-network/dnsmasq.conf) \
  FAILED=$(systemctl list-units --failed --plain --no-legend | cut -d " " -f 1 | tr "\\n" ,)"; \
  journalctl -b -u appliance.service -n 40 --no-pager -o cat'

[Install]
WantedBy=multi-user.target
"""


def cabin_network_up(report: str) -> bool:
    """The boot report says appliance-nftables and appliance-dnsmasq are active, nftables holds the rendered
    tables with this boot's maintenance network in the engineers' chain, the rendered files are in
    /run/appliance-network (units/appliance-network.service), and dnsmasq runs on the rendered file, which
    advertises the portal's RFC 8908 API in option 114."""
    fields = dict(re.findall(r"\b([A-Z0-9]+)=(\S*)", report))
    return (fields.get("NETWORK") == "active,active," and "table_inet_appliance" in fields.get("TABLES", "")
            and "table_bridge_appliance_cabin" in fields.get("TABLES", "")
            and {"dnsmasq.conf", "appliance.nft"} <= set(fields.get("RENDERED", "").split(","))
            and fields.get("ENGINEERS") == "1" and fields.get("DNSMASQ") == "1" and fields.get("OPTION114") == "1")


def failed_units(report: str) -> list[str]:
    """The units systemd lists as failed in the boot report."""
    match = re.search(r"\bFAILED=(\S*)", report)
    return [unit for unit in (match.group(1) if match else "").split(",") if unit]


def ids(root: Path, name: str) -> tuple[int, int]:
    for line in (root / "etc" / "passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2]), int(fields[3])
    raise SystemExit(f"image-test: no user {name!r} in the image (did systemd-sysusers run?)")


def qemu_maintenance_network(config: str) -> str:
    """The aircraft's config with qemu's user network as its maintenance network (allow_from and the fence)."""
    aircraft = '["10.20.0.0/16"]'
    for key in ("allow_from", "maintenance_networks"):
        line = f"{key} = {aircraft}"
        if config.count(line) != 1:
            raise SystemExit(f"image-test: the image's config has no single {line!r} to point at qemu's network")
        config = config.replace(line, f'{key} = ["{QEMU_NETWORK}"]')
    return config


def write_owned(root: Path, path: Path, text: str, mode: int, user: str = "appliance") -> None:
    """A file of the guest's, owned by `user` and the group `appliance` (the daemon's user reads it)."""
    uid = ids(root, user)[0]
    gid = ids(root, "appliance")[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chown(path, uid, gid)
    path.chmod(mode)


def customize(root: Path, token: str, mode: str) -> None:
    """The boot test's additions: a token (each aircraft makes its own; the test needs to know it), qemu's
    network as the maintenance network, the drop-in for --sim, the daemon's log on the console, and a unit that
    prints appliance.service's state on the console."""
    etc = root / "etc"
    write_owned(root, etc / "appliance" / "maintenance.token", token + "\n", 0o600)
    config = etc / "appliance" / "appliance.toml"
    config.write_text(qemu_maintenance_network(config.read_text()))
    system = etc / "systemd" / "system"
    drop_in = system / "appliance.service.d"
    drop_in.mkdir(parents=True, exist_ok=True)
    (drop_in / "boot-test-console.conf").write_text(CONSOLE_DROP_IN)
    fsck_drop_in = system / "appliance-fsck.service.d"
    fsck_drop_in.mkdir(parents=True, exist_ok=True)
    (fsck_drop_in / "boot-test-console.conf").write_text(CONSOLE_DROP_IN)
    if mode == "sim":
        write_owned(root, etc / "appliance" / "boot-test.toml", SIM_CONFIG, 0o640, "root")
        (drop_in / "boot-test.conf").write_text(SIM_DROP_IN)
    (system / "appliance-boot-report.service").write_text(REPORT_UNIT)
    wants = system / "multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    (wants / "appliance-boot-report.service").symlink_to("../appliance-boot-report.service")


def ssh_banner(port: int) -> str:
    """The first line a server sends on `port` ("SSH-2.0-OpenSSH_..."), "" when nothing answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            return sock.recv(256).decode(errors="replace").strip()
    except OSError:
        return ""


def maintenance_connections(metrics: str) -> dict[str, float]:
    """The maintenance listener's own view of its connections (httpserve.ConnectionGuard): open now, and refused
    by reason, from /metrics."""
    found: dict[str, float] = {}
    for line in metrics.splitlines():
        match = re.match(r'appliance_http_connections(_refused_total)?\{(.*)\} (\S+)$', line)
        if match and 'listener="maintenance"' in match.group(2):
            reason = re.search(r'reason="([^"]+)"', match.group(2))
            found[f"refused_{reason.group(1)}" if reason else "open"] = float(match.group(3))
    return found


def wait_ready(vm: Vm, http: Http, timeout: float, start: int = 0) -> tuple[str, float]:
    """The console's boot report (appliance.service active: READY=1 was sent), then /livez and /readyz over
    the forwarded port. Returns the report and the seconds since qemu started."""
    report = vm.wait_console(REPORT_MARK, timeout, start)
    if "ActiveState=active" not in report:
        raise GuestFailed(f"appliance.service did not become active: {report}")
    until("/livez and /readyz", lambda: http.request("GET", "/livez")[0] == 200
          and http.request("GET", "/readyz")[0] == 200, 120, vm)
    return report, time.monotonic() - vm.started


def boot(out: Path, mode: str, timeout: float) -> int:
    tarball = out / "rootfs.tar"
    if not tarball.exists():
        from image import build

        build.main(["--out", str(out)])
    token = secrets.token_urlsafe(24)
    disk = out / f"boot-test-{mode}.img"
    kernel, initrd = make_disk(tarball, disk, customize=lambda root: customize(root, token, mode))
    console_log = out / f"boot-test-{mode}-console.log"
    console_log.unlink(missing_ok=True)
    vm = Vm(disk, kernel, initrd, console_log, [9180, 2222, 22])
    http = Http(vm.ports[9180], token)
    result: dict[str, object] = {"mode": mode}
    try:
        report, elapsed = wait_ready(vm, http, timeout)
        log(f"READY after {elapsed:.0f} s under TCG: {report}")
        if not cabin_network_up(report):
            raise GuestFailed(f"the cabin network is not up with the rendered config: {report}")
        failed = failed_units(report)
        if failed:
            raise GuestFailed(f"failed units after the boot: {failed}")
        status, body = http.request("GET", "/health")
        health = json.loads(body)
        log(f"/livez 200, /readyz 200, /health {status} {health['status']}: {health.get('output', '')}")
        connections = maintenance_connections(http.request("GET", "/metrics")[1].decode())
        log(f"maintenance listener: {connections}; the test opened {http.connections} connection(s)")
        if any(key.startswith("refused_") and value for key, value in connections.items()):
            raise GuestFailed(f"the maintenance listener refused the test's probes: {connections}")
        result |= {"seconds_to_ready": round(elapsed, 1), "report": report, "health": health["status"],
                   "maintenance_connections": connections}
        banner = until("sshd on 2222", lambda: (b := ssh_banner(vm.ports[2222])).startswith("SSH-2.0-") and b,
                       240, vm, every=5)  # host keys are made on the first boot: slow under TCG
        default = ssh_banner(vm.ports[22])
        log(f"sshd on 2222: {banner!r}; on 22: {default!r}")
        result |= {"ssh_2222": banner, "ssh_22": default}
        if default:
            raise GuestFailed("sshd answers on port 22 too")
        (out / f"boot-test-{mode}.json").write_text(json.dumps(result, indent=2))
        return 0
    except GuestFailed as failure:
        log(f"FAILED: {failure}; last console lines ({console_log}):\n{vm.console.tail()}")
        return 1
    finally:
        http.close()
        vm.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m image.boot_test", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--mode", choices=("sim", "absent"), default="absent")
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("make image-test: needs root (file ownership in the disk image)")
    ensure_tools()  # qemu-system-x86, mmdebstrap, e2fsprogs
    args.out.mkdir(parents=True, exist_ok=True)
    return boot(args.out, args.mode, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
