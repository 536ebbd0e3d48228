"""A real nginx as the whole ground station, configured as an airline would deploy it: Debian's stock
`nginx.conf` http settings (sendfile, tcp_nopush, mime.types, `gzip on` with the broad `gzip_types` the stock
file suggests), the published bundle tree as static files under `/content/`, `/schedule.json` as a static file,
`/health` and `/time` answered by nginx itself, and the POSTs of the outbox and telemetry answered 201.

nginx runs as its own process on a free loopback port with its prefix, logs and temp paths in a private
directory; its access log records, per request, the Range asked, the status, the Content-Encoding and the
body bytes sent, so a test can measure what crossed the wire from the server's side.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import subprocess_env

REPO = Path(__file__).resolve().parents[1]

# Debian's /etc/nginx/nginx.conf http block (nginx-light 1.22), with its commented gzip suggestions enabled.
STOCK_HTTP = """
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    gzip on;
    gzip_vary on;
    gzip_proxied any;
    gzip_comp_level 6;
    gzip_buffers 16 8k;
    gzip_http_version 1.1;
    gzip_types text/plain text/css application/json application/javascript text/xml application/xml
               application/xml+rss text/javascript;
"""

LOG_FORMAT = ("'$request_method $uri \"$http_range\" \"$http_accept_encoding\" $status "
              "\"$sent_http_content_encoding\" $body_bytes_sent'")


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    range: str
    accept_encoding: str
    status: int
    content_encoding: str
    body_bytes: int


@dataclass
class NginxGround:
    root: Path  # served tree: content/ (the bundles and index.json), schedule.json
    url: str
    work: Path
    process: subprocess.Popen[bytes]
    extra: str

    @property
    def content_dir(self) -> Path:
        return self.root / "content"

    def requests(self) -> list[LoggedRequest]:
        """The access log so far (nginx writes each line when the request completes)."""
        log = self.work / "access.log"
        out = []
        for line in log.read_text().splitlines() if log.exists() else []:
            method, path, rest = line.split(" ", 2)
            quoted = rest.split('"')
            status, sent = quoted[4].strip(), quoted[6].strip()
            out.append(LoggedRequest(method, path, quoted[1] if quoted[1] != "-" else "",
                                     quoted[3] if quoted[3] != "-" else "", int(status),
                                     quoted[5] if quoted[5] != "-" else "", int(sent)))
        return out

    def readable(self) -> None:
        """nginx's workers run unprivileged: let them read what a test published."""
        subprocess.run(["chmod", "-R", "a+rX", str(self.root)], check=True)

    def reconfigure(self, extra: str) -> None:
        """Replace the extra server-level directives and reload (SIGHUP, as `nginx -s reload`)."""
        self.extra = extra
        _write_conf(self.work, self.root, int(self.url.rsplit(":", 1)[1]), extra)
        os.kill(self.process.pid, signal.SIGHUP)
        time.sleep(0.3)  # the old workers finish, the new ones take the new configuration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _write_conf(work: Path, root: Path, port: int, extra: str) -> None:
    (work / "nginx.conf").write_text(f"""
daemon off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 256; }}
http {{
{STOCK_HTTP}
    log_format ground {LOG_FORMAT};
    access_log {work}/access.log ground;
    client_body_temp_path {work}/client_body; proxy_temp_path {work}/proxy; fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        {extra}
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
        location /content/ {{ }}
    }}
}}
""")


@contextlib.contextmanager
def nginx_ground(extra: str = "") -> Iterator[NginxGround]:
    """Start nginx serving a fresh, empty ground tree; `extra` adds server-level directives."""
    if shutil.which("nginx") is None:
        raise RuntimeError("these tests need nginx (nginx-light; make debs)")
    work = Path(tempfile.mkdtemp(prefix="nginx-ground-"))
    root = work / "www"
    (root / "content").mkdir(parents=True)
    port = _free_port()
    _write_conf(work, root, port, extra)
    os.chmod(work, 0o755)
    process = subprocess.Popen(["nginx", "-c", str(work / "nginx.conf"), "-p", str(work)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ground = NginxGround(root, f"http://127.0.0.1:{port}", work, process, extra)
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"nginx exited: {process.stderr.read().decode() if process.stderr else ''}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("nginx did not start listening")
            time.sleep(0.02)
        ground.readable()
        yield ground
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(work, ignore_errors=True)


def pack_with_cli(src: Path, ground: NginxGround, bundle_id: str) -> None:
    """Pack `src` with the real `appliance content pack --publish` into the ground's content tree."""
    subprocess.run([sys.executable, "-m", "appliance", "content", "pack", str(src),
                    str(ground.content_dir / bundle_id), "--bundle-id", bundle_id, "--publish"],
                   check=True, capture_output=True, env=subprocess_env(), cwd=REPO, timeout=60)
    ground.readable()
