"""`make image-test`: boot the image under qemu (software emulation, TCG) and wait for appliance.service to be
active (Type=notify: active means READY=1 was sent) and for /livez to answer through a forwarded port.

`--mode absent` (default) runs the aircraft's own config with no devices attached: ready, but degraded.
`--mode sim` runs `appliance run --sim` through a unit drop-in, so every device is the simulator's, inside the
image (this needs a simulator that provides every required device: avionics.port, modem.port, groundlink.url).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from image.build import OUT, log, make_disk

REPORT_MARK = "BOOT-REPORT"

SIM_DROP_IN = """\
[Service]
ExecStart=
ExecStart=/opt/appliance/current/bin/appliance run --sim --config /etc/appliance/boot-test.toml \\
  --state-dir /var/lib/appliance/sim
WorkingDirectory=/var/lib/appliance
"""

SIM_CONFIG = """\
[maintenance]
listen = "0.0.0.0:9180"
token_file = "/etc/appliance/maintenance.token"
# QEMU's user-mode network: the host's forwarded port arrives from 10.0.2.2
allow_from = ["10.0.2.0/24"]
"""

REPORT_UNIT = f"""\
[Unit]
Description=Boot test: report appliance.service's state on the console
After=appliance.service

[Service]
Type=oneshot
StandardOutput=journal+console
ExecStart=/bin/sh -c 'for i in $(seq 900); do systemctl is-active -q appliance.service && break; \
  [ $((i %% 30)) = 0 ] && echo "BOOT-PROGRESS $(systemctl show -p ActiveState -p SubState -p NRestarts \
  appliance.service | tr "\\n" " ")"; sleep 1; done; \
  echo "{REPORT_MARK} $(systemctl show -p ActiveState -p SubState -p NRestarts -p StatusText appliance.service \
  | tr "\\n" " ") NETWORK=$(systemctl is-active appliance-nftables.service appliance-dnsmasq.service | tr "\\n" ,) \
  TABLES=$(nft list tables | tr " \\n" _,) RENDERED=$(ls /run/appliance-network | tr "\\n" ,)"; \
  journalctl -b -u appliance.service -n 40 --no-pager -o cat'

[Install]
WantedBy=multi-user.target
"""


def cabin_network_up(report: str) -> bool:
    """The boot report says appliance-nftables and appliance-dnsmasq are active, nftables holds the rendered
    tables and the rendered files are in /run/appliance-network (units/appliance-network.service)."""
    return ("NETWORK=active,active," in report and "inet_appliance" in report and "bridge_appliance_cabin" in report
            and "dnsmasq.conf" in report and "appliance.nft" in report)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _ids(root: Path, name: str) -> tuple[int, int]:
    for line in (root / "etc" / "passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2]), int(fields[3])
    raise SystemExit(f"image-test: no user {name!r} in the image (did systemd-sysusers run?)")


def customize(root: Path, token: str, mode: str) -> None:
    """The boot test's additions: a token (each aircraft makes its own; the test needs to know it), the
    drop-in for --sim, and a unit that prints appliance.service's state on the console."""
    uid, gid = _ids(root, "appliance")
    etc = root / "etc"
    token_file = etc / "appliance" / "maintenance.token"
    token_file.write_text(token + "\n")
    os.chown(token_file, uid, gid)
    token_file.chmod(0o600)
    system = etc / "systemd" / "system"
    if mode == "sim":
        (etc / "appliance" / "boot-test.toml").write_text(SIM_CONFIG)
        drop_in = system / "appliance.service.d"
        drop_in.mkdir(parents=True, exist_ok=True)
        (drop_in / "boot-test.conf").write_text(SIM_DROP_IN)
    (system / "appliance-boot-report.service").write_text(REPORT_UNIT)
    wants = system / "multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    (wants / "appliance-boot-report.service").symlink_to("../appliance-boot-report.service")


def _ssh_banner(port: int) -> str:
    """The first line a server sends on `port` ("SSH-2.0-OpenSSH_..."), "" when nothing answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            return sock.recv(256).decode(errors="replace").strip()
    except OSError:
        return ""


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class Console:
    """qemu's serial console (stdout), kept in a log file and searched by the test."""

    def __init__(self, process: subprocess.Popen[bytes], path: Path) -> None:
        self.lines: list[str] = []
        self._path = path
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        with self._path.open("w") as log_file:
            for raw in process.stdout:
                line = raw.decode(errors="replace").rstrip("\r\n")
                self.lines.append(line)
                log_file.write(line + "\n")
                log_file.flush()

    def find(self, mark: str) -> str | None:
        return next((line for line in self.lines if mark in line), None)


def boot(out: Path, mode: str, timeout: float) -> int:
    tarball = out / "rootfs.tar"
    if not tarball.exists():
        from image import build

        build.main(["--out", str(out)])
    token = secrets.token_urlsafe(24)
    disk = out / f"boot-test-{mode}.img"
    kernel, initrd = make_disk(tarball, disk, customize=lambda root: customize(root, token, mode))
    port, ssh_port, ssh_default = _free_port(), _free_port(), _free_port()
    argv = [
        # -cpu max: a cabin server's CPU, not qemu64's (the numpy the avionics decoder uses needs x86-64-v2)
        "qemu-system-x86_64", "-m", "1536", "-smp", "2", "-cpu", "max", "-nographic", "-no-reboot", "-accel", "tcg",
        "-kernel", str(kernel), "-initrd", str(initrd),
        "-drive", f"file={disk},format=raw,if=virtio",
        "-append", "root=/dev/vda rw console=ttyS0 systemd.show_status=1",
        "-nic", f"user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{port}-:9180"
                f",hostfwd=tcp:127.0.0.1:{ssh_port}-:2222,hostfwd=tcp:127.0.0.1:{ssh_default}-:22",
    ]  # fmt: skip
    log("$ " + " ".join(argv))
    started = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    console = Console(process, out / f"boot-test-{mode}-console.log")
    base = f"http://127.0.0.1:{port}"
    result: dict[str, object] = {"mode": mode}
    try:
        while time.monotonic() - started < timeout:
            if process.poll() is not None:
                log(f"qemu exited ({process.returncode}); console in {out}/boot-test-{mode}-console.log")
                return 1
            report = console.find(REPORT_MARK)
            if report is not None and "ActiveState=active" not in report:
                log(f"appliance.service did not become active: {report}")
                log("\n".join(console.lines[-45:]))
                return 1
            try:
                live, _ = _get(f"{base}/livez")
                ready, _ = _get(f"{base}/readyz", token)
            except OSError:
                live = ready = 0
            if report is not None and not cabin_network_up(report):
                log(f"the cabin network is not up with the rendered config: {report}")
                log("\n".join(console.lines[-45:]))
                return 1
            if report is not None and live == 200 and ready == 200:
                elapsed = time.monotonic() - started
                status, body = _get(f"{base}/health", token)
                health = json.loads(body)
                result |= {"seconds_to_ready": round(elapsed, 1), "report": report, "health": health["status"]}
                log(f"READY after {elapsed:.0f} s under TCG: {report}")
                log(f"/livez 200, /readyz 200, /health {status} {health['status']}: {health.get('output', '')}")
                banner = ""
                ssh_deadline = time.monotonic() + 240  # host keys are made on the first boot: slow under TCG
                while not banner.startswith("SSH-2.0-") and time.monotonic() < ssh_deadline:
                    banner = _ssh_banner(ssh_port)
                    time.sleep(0 if banner else 5)
                default = _ssh_banner(ssh_default)
                log(f"sshd on 2222: {banner!r}; on 22: {default!r}")
                result |= {"ssh_2222": banner, "ssh_22": default}
                if not banner.startswith("SSH-2.0-") or default:
                    log("sshd is not (only) on port 2222")
                    return 1
                (out / f"boot-test-{mode}.json").write_text(json.dumps(result, indent=2))
                return 0
            time.sleep(2)
        log(f"timed out after {timeout:.0f} s; last console lines:")
        log("\n".join(console.lines[-30:]))
        return 1
    finally:
        process.kill()
        process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m image.boot_test", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--mode", choices=("sim", "absent"), default="absent")
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("make image-test: needs root (file ownership in the disk image)")
    args.out.mkdir(parents=True, exist_ok=True)
    return boot(args.out, args.mode, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
