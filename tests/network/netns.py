"""Network namespaces for the cabin network tests: made here, removed here, only 10.77.x.x addresses.

    server   br0 10.77.0.1/24 (ports cp1, cp2)   vm0 10.77.9.1/24
    p1, p2   eth0 (the other ends of cp1, cp2), addresses from the server's DHCP
    mnt      eth0 10.77.9.2/24 (the other end of vm0): the maintenance network
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

TOOLS = ("ip", "nft", "dnsmasq", "dhclient", "dig", "curl")


def unavailable() -> str | None:
    """Why these tests cannot run here (None: they can)."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, nftables, DHCP on port 67)"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing {', '.join(missing)} (make debs)"
    name = f"apl-probe-{secrets.token_hex(3)}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode != 0:
        return f"no network namespaces here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


def run(*argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=timeout)


@dataclass
class Cabin:
    tag: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def ns(self, role: str) -> str:
        return f"apl-{self.tag}-{role}"

    def exec(self, role: str, *argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return run("ip", "netns", "exec", self.ns(role), *argv, check=check, timeout=timeout)

    def spawn(self, role: str, *argv: str, log: Path, env: dict[str, str] | None = None,
              cwd: Path | None = None) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            process = subprocess.Popen(["ip", "netns", "exec", self.ns(role), *argv], stdout=out,
                                       stderr=subprocess.STDOUT, env=env, cwd=cwd)
        self.processes.append(process)
        return process

    def connect(self, role: str, host: str, port: int, timeout: float = 2.0) -> str:
        """"open", "refused" or "timeout": a TCP connect from `role`'s namespace."""
        code = ("import socket,sys\ntry:\n socket.create_connection((sys.argv[1], int(sys.argv[2])), "
                "float(sys.argv[3])); print('open')\nexcept ConnectionRefusedError: print('refused')\n"
                "except (TimeoutError, OSError) as e: print('timeout' if 'timed out' in str(e) or "
                "isinstance(e, TimeoutError) else 'error ' + str(e))\n")
        return self.exec(role, "python3", "-c", code, host, str(port), str(timeout)).stdout.strip()

    def resolv_conf(self, role: str, nameserver: str) -> None:
        """`ip netns exec` bind-mounts /etc/netns/<ns>/resolv.conf over /etc/resolv.conf."""
        directory = Path("/etc/netns") / self.ns(role)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "resolv.conf").write_text(f"nameserver {nameserver}\n")


@contextlib.contextmanager
def cabin() -> Iterator[Cabin]:
    c = Cabin(secrets.token_hex(2))
    roles = ("srv", "p1", "p2", "mnt")
    try:
        for role in roles:
            run("ip", "netns", "add", c.ns(role))
            c.exec(role, "ip", "link", "set", "lo", "up")
        c.exec("srv", "ip", "link", "add", "br0", "type", "bridge")
        for port, role in (("cp1", "p1"), ("cp2", "p2"), ("vm0", "mnt")):
            c.exec("srv", "ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", c.ns(role))
            c.exec(role, "ip", "link", "set", "eth0", "up")
            c.exec("srv", "ip", "link", "set", port, "up")
            if port != "vm0":
                c.exec("srv", "ip", "link", "set", port, "master", "br0")
        c.exec("srv", "ip", "addr", "add", "10.77.0.1/24", "dev", "br0")
        c.exec("srv", "ip", "link", "set", "br0", "up")
        c.exec("srv", "ip", "addr", "add", "10.77.9.1/24", "dev", "vm0")
        c.exec("mnt", "ip", "addr", "add", "10.77.9.2/24", "dev", "eth0")
        yield c
    finally:
        for process in reversed(c.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
        for role in roles:
            run("ip", "netns", "del", c.ns(role), check=False)
            shutil.rmtree(Path("/etc/netns") / c.ns(role), ignore_errors=True)
