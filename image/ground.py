"""The ground of the image's release test: a real nginx on the host's loopback (the guest reaches it as
10.0.2.2 through qemu's user network), serving the fleet's TUF repository (`appliance trust init` /
`appliance trust publish --prefix releases`) as static files under /tuf/, paced to the 3G link's 2 Mbit/s
(`limit_rate`), with /health, /time and the POSTs of the outbox and telemetry answered by nginx itself.

Releases N+1 and N+2 are built with the real `appliance release build` from a copy of this checkout with the
version raised (N+2 also made to exit at start, the deliberately broken release), offline: every dependency's
wheel comes from release N's own wheels (`--find-links --no-index`), so they are byte for byte N's and the
aircraft copies them instead of fetching them again, as it would for a release that changes only the project.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from image.build import log
from image.overlay import REPO
from image.vm import free_port

LINK_RATE = 2_000_000 // 8  # bytes/s: 2 Mbit/s, the 3G link of docs/update.md
BROKEN = 'raise SystemExit("release {version}: exits at start (the image test\'s deliberately broken release)")'


def _conf(work: Path, www: Path, port: int, rate: int) -> str:
    return f"""
daemon off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 256; }}
http {{
    sendfile on;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format ground '$request_method $uri "$http_range" $status $body_bytes_sent $request_time';
    access_log {work}/access.log ground;
    client_body_temp_path {work}/client_body; proxy_temp_path {work}/proxy; fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {www};
        location = /health {{ default_type application/health+json; return 200 '{{"status": "pass"}}'; }}
        location = /time {{ default_type application/json; return 200 '{{"epoch": $msec}}'; }}
        location = /telemetry {{
            if ($request_method != POST) {{ return 405; }}
            default_type application/json; return 201 '{{"accepted": true}}';
        }}
        location /orders/ {{
            if ($request_method != POST) {{ return 405; }}
            default_type application/json; return 201 '{{"accepted": true}}';
        }}
        location /tuf/ {{ limit_rate {rate}; }}
    }}
}}
"""


class Ground:
    def __init__(self, work: Path, port: int, process: subprocess.Popen[bytes]) -> None:
        self.work, self.port, self.process = work, port, process
        self.keys, self.repo = work / "keys", work / "www" / "tuf"

    def trust(self, *args: str) -> None:
        run_cli("trust", *args, "--keys", str(self.keys), "--repo", str(self.repo))
        subprocess.run(["chmod", "-R", "a+rX", str(self.work / "www")], check=True)  # nginx's workers read it

    def root_json(self) -> bytes:
        return (self.repo / "metadata" / "1.root.json").read_bytes()

    def publish_release(self, release: Path) -> None:
        self.trust("publish", "--prefix", "releases", str(release))
        log(f"ground: published {release.name} ({size_of(release) / 1e6:.1f} MB)")

    def sent(self, pattern: str = r"^/tuf/targets/") -> int:
        """Body bytes nginx sent for paths matching `pattern` (its access log)."""
        total = 0
        access = self.work / "access.log"
        for line in access.read_text().splitlines() if access.exists() else []:
            fields = line.split(" ")
            if re.search(pattern, fields[1]) and fields[-3].isdigit():
                total += int(fields[-2])
        return total


@contextlib.contextmanager
def nginx_ground(rate: int = LINK_RATE) -> Iterator[Ground]:
    if shutil.which("nginx") is None:
        raise SystemExit("make image-test: needs nginx (apt-get install nginx-light; `make debs` installs it)")
    work = Path(tempfile.mkdtemp(prefix="appliance-image-ground-"))
    os.chmod(work, 0o755)
    (work / "www" / "tuf").mkdir(parents=True)
    port = free_port()
    (work / "nginx.conf").write_text(_conf(work, work / "www", port, rate))
    process = subprocess.Popen(["nginx", "-c", str(work / "nginx.conf"), "-p", str(work)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    ground = Ground(work, port, process)
    try:
        ground.trust("init")
        time.sleep(0.5)
        if process.poll() is not None:
            raise SystemExit(f"nginx exited: {(work / 'error.log').read_text()[-500:]}")
        yield ground
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(work, ignore_errors=True)


def run_cli(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "appliance", *args], capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"appliance {' '.join(args[:2])}: {done.stderr.strip()[-800:]}")
    return done.stdout.strip()


def size_of(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def bump(version: str, by: int) -> str:
    parts = version.split(".")
    return ".".join([*parts[:-1], str(int(parts[-1]) + by)])


def source_copy(dest: Path, version: str, broken: bool) -> Path:
    """This checkout's files (git's list, as they are on disk) with `__version__` = `version`; `broken`: its
    `appliance run` exits at once (status 1), before any component starts."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    init = dest / "appliance" / "__init__.py"
    text, count = re.subn(r'__version__ = "[^"]+"', f'__version__ = "{version}"', init.read_text())
    if count != 1:
        raise SystemExit(f"image-test: no single __version__ in {init}")
    init.write_text(text)
    if broken:
        cli = dest / "appliance" / "cli.py"
        marker = "def cmd_run(args: argparse.Namespace) -> int:\n"
        if marker not in cli.read_text():
            raise SystemExit(f"image-test: no {marker.strip()!r} in {cli} to break")
        cli.write_text(cli.read_text().replace(marker, marker + "    " + BROKEN.format(version=version) + "\n"))
    return dest


def build_release(first: Path, out: Path, version: str, broken: bool = False) -> Path:
    """Release `version` (appliance-<version>/ under `out`), its dependencies' wheels those of release `first`."""
    with tempfile.TemporaryDirectory(prefix="appliance-source-") as scratch:
        source = source_copy(Path(scratch), version, broken)
        built = Path(run_cli("release", "build", str(out), "--source", str(source), "--extra", "aircraft",
                             "--find-links", str(first / "wheels"), "--no-index").splitlines()[-1])  # fmt: skip
    manifest = json.loads((built / "release.json").read_text())
    if manifest["version"] != version:
        raise SystemExit(f"image-test: built {manifest['version']}, expected {version}")
    return built
