"""`make image-test`, part 2 (issue 14): the image takes its next release from the ground and rolls a broken one
back, under qemu (TCG), with the real units, the real preflight and the real daemon.

1. The ground (image/ground.py: nginx on the host, a TUF repository made by `appliance trust init`) publishes
   release N+1 (`appliance release build`, `appliance trust publish --prefix releases`).
2. The image boots release N with `appliance run --sim` at the gate (the simulator's `gate` scenario: on the
   ground, the modem registered, so the ground window opens by itself: the window "forced" by where the aircraft
   is) and `groundlink.url` the host's nginx, the fleet's root pinned in `/etc/appliance/trust/root.json`.
3. In the window the daemon fetches N+1, verified against the signed targets, installs it offline, and at the
   safe moment (on the ground, no passenger stream for `[update] quiet_seconds`) switches `current` to it and
   restarts; N+1 is on trial and is committed after `[update] trial_seconds` ready and healthy.
4. The guest is powered down in order (ACPI) and booted again: N+1 runs, committed.
5. The ground publishes N+2, which exits at start; "sync now" over the maintenance API; the daemon takes it,
   switches to it, and the committed release's preflight rolls it back after `[update] max_starts` starts. N+1
   serves passengers again and N+2 is refused.

The figures (seconds, on the host's clock; the guest's clock is the host's through the RTC) go to
build/image/update-test.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from image.boot_test import SIM_CONFIG, customize, ids, wait_ready, write_owned
from image.build import OUT, ensure_tools, log, make_disk
from image.ground import Ground, build_release, bump, nginx_ground
from image.vm import GuestFailed, Http, Vm, until

TRIAL_SECONDS = 30
MAX_STARTS = 2

# The preflight reads the same config as the daemon: the same [update] and the same state directory.
UPDATE_DROP_IN = """\
[Service]
ExecStartPre=
ExecStartPre=/opt/appliance/committed/bin/appliance release preflight --config /etc/appliance/boot-test.toml
ExecStart=
ExecStart=/opt/appliance/current/bin/appliance run --sim --config /etc/appliance/boot-test.toml \\
  --state-dir /var/lib/appliance/sim
WorkingDirectory=/var/lib/appliance
"""


def update_config(ground_port: int) -> str:
    return SIM_CONFIG + f"""
[storage]
dir = "/var/lib/appliance"

[content]
dir = "/var/lib/appliance/content"

[portal]
# the units' sockets (80, 443); the simulator's passengers order through port 80
listen = "0.0.0.0:80"
tls_listen = "0.0.0.0:443"
public_host = "portal.cabin.invalid"

[groundlink]
# the host's nginx, through qemu's user network
url = "http://10.0.2.2:{ground_port}"

[trust]
root = "/etc/appliance/trust/root.json"

[update]
trial_seconds = {TRIAL_SECONDS}
quiet_seconds = 5
max_starts = {MAX_STARTS}

[sim]
scenario = "gate"
"""


def customize_update(root: Path, token: str, ground: Ground) -> None:
    customize(root, token, "sim")
    etc = root / "etc"
    write_owned(root, etc / "appliance" / "boot-test.toml", update_config(ground.port), 0o640, "root")
    (etc / "systemd" / "system" / "appliance.service.d" / "boot-test.conf").write_text(UPDATE_DROP_IN)
    trust = etc / "appliance" / "trust"
    trust.mkdir(exist_ok=True)
    (trust / "root.json").write_bytes(ground.root_json())
    os.chown(trust, 0, ids(root, "appliance")[1])
    trust.chmod(0o750)
    (trust / "root.json").chmod(0o644)


class Guest:
    """The booted image as the test sees it: the maintenance API (token) and the passengers' portal."""

    def __init__(self, vm: Vm, token: str) -> None:
        self.vm = vm
        self.maintenance = Http(vm.ports[9180], token)
        self.portal = Http(vm.ports[80], None)

    def release(self) -> dict[str, Any]:
        section: dict[str, Any] = self.maintenance.json("/api/v1/status")["release"]
        return section

    def serving(self, version: str) -> bool:
        """Release `version` runs, is ready, and answers passengers."""
        if self.maintenance.request("GET", "/readyz")[0] != 200 or self.release().get("running") != version:
            return False
        return self.portal.request("GET", "/api/v1/flight")[0] == 200

    def close(self) -> None:
        self.maintenance.close()
        self.portal.close()
        self.vm.kill()


class Disk:
    """The test's disk (kept across boots: the releases installed, the links, the state) and its kernel."""

    def __init__(self, path: Path, kernel: Path, initrd: Path, *, console: Path, token: str, timeout: float) -> None:
        self.path, self.kernel, self.initrd, self.console = path, kernel, initrd, console
        self.token, self.timeout = token, timeout

    def boot(self) -> Guest:
        guest = Guest(Vm(self.path, self.kernel, self.initrd, self.console, [9180, 80]), self.token)
        report, elapsed = wait_ready(guest.vm, guest.maintenance, self.timeout)
        log(f"READY after {elapsed:.0f} s: {report[:300]}")
        return guest


def console_time(vm: Vm, pattern: str, after: float = 0.0) -> float:
    """The guest's uptime (the kernel's console timestamp) of the first daemon line matching `pattern` after
    uptime `after`: the daemon's log is on the console (boot_test.CONSOLE_DROP_IN)."""
    for line in vm.console.lines:
        match = re.match(r"\[\s*(\d+\.\d+)\] appliance\[\d+\]: (.*)", line)
        if match and float(match.group(1)) > after and re.search(pattern, match.group(2)):
            return float(match.group(1))
    raise GuestFailed(f"no console line matching {pattern!r} after {after:.1f} s of uptime")


def take_n1(guest: Guest, ground: Ground, *, n: str, n1: str, timeout: float, figures: dict[str, Any]) -> None:
    """Boot 1: N fetches N+1 in the window, installs it, switches to it at the safe moment; N+1 commits."""
    assert_release(guest.release(), running=n, committed=n)
    t0 = time.monotonic()
    until(f"{n1} downloaded and installed", lambda: n1 in guest.release()["installed"], timeout, guest.vm)
    figures["n1_fetch_install_seconds"] = round(time.monotonic() - t0, 1)
    figures["n1_bytes_from_ground"] = ground.sent(rf"^/tuf/targets/.*{n1}")
    log(f"{n1} installed {figures['n1_fetch_install_seconds']} s after READY "
        f"({figures['n1_bytes_from_ground']} bytes of it from nginx)")
    until(f"{n1} serving on trial", lambda: guest.serving(n1), timeout, guest.vm)
    until(f"{n1} committed", lambda: guest.release()["committed"] == n1, timeout, guest.vm)
    figures["n1_ready_to_commit_seconds"] = round(time.monotonic() - t0, 1)
    # the guest's own times, from its console (the host's polls wait while the daemon restarts)
    vm = guest.vm
    window = console_time(vm, r"appliance\.groundlink: ground window open")
    installed = console_time(vm, rf"release {re.escape(n1)} installed", window)
    switched = console_time(vm, rf"release activate: {re.escape(n1)}; restarting", installed)
    ready = console_time(vm, r"appliance\.daemon: ready:", switched)
    committed = console_time(vm, rf"release {re.escape(n1)} committed", ready)
    figures["guest_n1"] = {"window_to_installed": round(installed - window, 1),
                           "installed_to_switch": round(switched - installed, 1),
                           "switch_to_ready": round(ready - switched, 1),
                           "ready_to_commit": round(committed - ready, 1)}
    log(f"{n1} on the guest's clock: {figures['guest_n1']}")


def refuse_n2(guest: Guest, ground: Ground, release2: Path, *, n1: str, n2: str, timeout: float,
              figures: dict[str, Any]) -> None:
    """Boot 2: N+2 (exits at start) is published, taken, switched to, rolled back to N+1 and refused."""
    ground.publish_release(release2)
    guest.maintenance.request("POST", "/api/v1/groundlink/sync")
    t1 = time.monotonic()
    until(f"{n2} rolled back to {n1}", lambda: n2 in guest.release()["refused"] and guest.serving(n1), timeout,
          guest.vm)
    vm = guest.vm
    switched = console_time(vm, rf"release activate: {re.escape(n2)}; restarting")
    ready = console_time(vm, r"appliance\.daemon: ready:", switched)
    figures["guest_n2"] = {
        "installed_to_switch": round(switched - console_time(vm, rf"release {re.escape(n2)} installed"), 1),
        "exits_at_start": sum(1 for line in vm.console.lines if f"release {n2}: exits at start" in line),
        "switch_to_rollback": round(console_time(vm, rf"preflight: rolled back to {re.escape(n1)}", switched)
                                    - switched, 1),
        "switch_to_n1_ready": round(ready - switched, 1)}
    log(f"{n2} on the guest's clock: {figures['guest_n2']}")
    release = guest.release()
    assert_release(release, running=n1, committed=n1, current=n1)
    figures["n2_sync_to_n1_serving_seconds"] = round(time.monotonic() - t1, 1)
    figures["n2_refused_reason"] = release["refused"][n2]
    figures["last_event"] = release.get("last_event")
    log(f"{n2} refused ({release['refused'][n2]}); {n1} serving passengers again "
        f"{figures['guest_n2']['switch_to_n1_ready']} s after the switch to {n2}")


def scenario(out: Path, timeout: float) -> int:
    (first,) = (out / "release").glob("appliance-*")
    n = json.loads((first / "release.json").read_text())["version"]
    n1, n2 = bump(n, 1), bump(n, 2)
    figures: dict[str, Any] = {"N": n, "N+1": n1, "N+2": n2, "trial_seconds": TRIAL_SECONDS, "max_starts": MAX_STARTS}
    token = secrets.token_urlsafe(24)
    console = out / "update-test-console.log"
    console.unlink(missing_ok=True)
    guest: Guest | None = None
    with nginx_ground() as ground:
        started = time.monotonic()
        built = out / "update-releases"
        release1 = build_release(first, built, n1)
        release2 = build_release(first, built, n2, broken=True)
        figures["build_seconds"] = round(time.monotonic() - started, 1)
        ground.publish_release(release1)
        path = out / "update-test.img"
        kernel, initrd = make_disk(out / "rootfs.tar", path,
                                   customize=lambda root: customize_update(root, token, ground))
        disk = Disk(path, kernel, initrd, console=console, token=token, timeout=timeout)
        try:
            guest = disk.boot()
            take_n1(guest, ground, n=n, n1=n1, timeout=timeout, figures=figures)
            figures["power_down_seconds"] = round(guest.vm.power_down(), 1)
            guest.close()
            guest = disk.boot()
            until(f"{n1} serving after the reboot", lambda: guest is not None and guest.serving(n1), 120, guest.vm)
            assert_release(guest.release(), running=n1, committed=n1, current=n1)
            log(f"rebooted into {n1}: committed and serving")
            refuse_n2(guest, ground, release2, n1=n1, n2=n2, timeout=timeout, figures=figures)
        except (GuestFailed, AssertionError, KeyError) as failure:
            log(f"FAILED: {type(failure).__name__}: {failure}; console in {console}")
            if guest is not None:
                log(guest.vm.console.tail(60))
            return 1
        finally:
            if guest is not None:
                guest.close()
            (out / "update-test.json").write_text(json.dumps(figures, indent=2))
    log(f"figures: {json.dumps(figures)}")
    return 0


def assert_release(release: dict[str, Any], **expected: str) -> None:
    wrong = {key: release.get(key) for key, value in expected.items() if release.get(key) != value}
    if wrong:
        raise AssertionError(f"release status {wrong}, expected {expected}: {release}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m image.update_test", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--timeout", type=float, default=900.0, help="for each step")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("make image-test: needs root (file ownership in the disk image)")
    ensure_tools({"nginx": "nginx-light"})  # qemu, mmdebstrap, e2fsprogs and the ground's nginx
    if not (args.out / "rootfs.tar").exists():
        from image import build

        build.main(["--out", str(args.out)])
    return scenario(args.out, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
