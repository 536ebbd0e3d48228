"""HTTPS benchmark (docs/tls.md), against the real daemon (`appliance run --sim` with a throwaway CA's
certificate) and nginx over TLS on the same files, in the same run:

1. HLS segments over TLS (wrk, 16 connections): bytes/s, and the server's CPU per byte (psutil, the daemon's
   process / nginx's one worker), turned into the share of one core that 300 viewers at 5 Mbit/s need.
   nginx has `sendfile on`; without kernel TLS (checked: /proc/net/tls_stat, the `tls` ULP) it cannot use it
   over TLS and copies through OpenSSL, as the daemon does.
2. 1,000 SSE clients over TLS (CPU, RSS, spread of a tick): bench_portal's measurement on the HTTPS listener.
3. TLS handshakes per second (`openssl s_time -new`, full handshakes), ours against nginx.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

from tests.bench import Figure
from tests.bench.bench_portal import _free_port, _install_content, _sse, _start_sim_daemon, _wrk

VIEWERS, VIEWER_BITRATE = 300, 5_000_000  # the cabin's need: 300 viewers at 5 Mbit/s
NEED_BYTES = VIEWERS * VIEWER_BITRATE / 8
ROUNDS = 3
os.environ.setdefault("BENCH_PORTAL_SEGMENT_BITRATE", str(VIEWER_BITRATE))


def ktls_available() -> str:
    """Whether the kernel offers TLS offload, and how we know."""
    if Path("/proc/net/tls_stat").exists():
        return "yes (/proc/net/tls_stat)"
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname()) as client:
            try:
                client.setsockopt(socket.SOL_TCP, 31, b"tls")  # TCP_ULP
                return "yes (TCP_ULP tls)"
            except OSError as error:
                return f"no (no /proc/net/tls_stat; TCP_ULP tls: {error.strerror})"


def _wait_https(url: str, timeout: float = 60.0) -> None:
    context = ssl._create_unverified_context()
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as r:
                r.read()
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _cpu(processes: list[psutil.Process]) -> float:
    total = 0.0
    for p in processes:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def _measured_wrk(url: str, servers: list[psutil.Process]) -> tuple[float, float]:
    """(bytes/s, server CPU seconds per second) over one wrk run."""
    cpu0, t0 = _cpu(servers), time.monotonic()
    _, bps = _wrk(url, 16)
    cpu = (_cpu(servers) - cpu0) / (time.monotonic() - t0)
    return bps, cpu


def _s_time(port: int) -> float:
    """Full TLS handshakes per second from one `openssl s_time` client."""
    out = subprocess.run(["openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-new", "-time", "3"],
                         capture_output=True, text=True, timeout=60).stdout
    match = re.search(r"(\d+) connections in ([\d.]+) real seconds", out)
    if match is None:
        raise RuntimeError(f"openssl s_time said: {out[-400:]}")
    return int(match.group(1)) / float(match.group(2))


def _nginx(work: Path, port: int, active: Path) -> subprocess.Popen[bytes]:
    (work / "nginx.conf").write_text(
        f"daemon off; worker_processes 1; pid {work}/nginx.pid; error_log {work}/nginx-error.log;\n"
        f"events {{ worker_connections 1024; }}\n"
        f"http {{ access_log off; sendfile on; tcp_nopush on; types {{ video/mp2t ts; }}\n"
        f"  client_body_temp_path {work}/nb; proxy_temp_path {work}/np; fastcgi_temp_path {work}/nf;\n"
        f"  uwsgi_temp_path {work}/nu; scgi_temp_path {work}/ns;\n"
        f"  ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache off; ssl_session_tickets off;\n"
        f"  server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {work}/cert.pem;\n"
        f"    ssl_certificate_key {work}/key.pem; location /content/ {{ alias {active}/; }} }} }}\n")
    subprocess.run(["chmod", "-R", "a+rX", str(work)], check=True)
    return subprocess.Popen(["nginx", "-c", str(work / "nginx.conf"), "-p", str(work)])


def run() -> list[Figure]:
    for tool in ("wrk", "nginx", "openssl"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"bench_tls needs {tool} (make debs)")
    from appliance.tlsca import LocalCA

    work = Path(tempfile.mkdtemp(prefix="bench-tls-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        active = _install_content(work / "content", work)
        pair = LocalCA.create().issue(["localhost", "127.0.0.1"], days=30)
        (work / "cert.pem").write_bytes(pair.cert_pem)
        (work / "key.pem").write_bytes(pair.key_pem)
        tls = _free_port()
        daemon, _portal, _control = _start_sim_daemon(
            work, f'tls_listen = "127.0.0.1:{tls}"\npublic_host = "localhost"\n'
                  f'tls_cert = "{work / "cert.pem"}"\ntls_key = "{work / "key.pem"}"\n')
        processes.append(daemon)
        base = f"https://127.0.0.1:{tls}"
        _wait_https(base + "/api/v1/flight")
        nginx_port = _free_port()
        nginx = _nginx(work, nginx_port, active)
        processes.append(nginx)
        segment = "/content/video/coast/low/seg003.ts"
        _wait_https(f"https://127.0.0.1:{nginx_port}{segment}")
        ours_p = [psutil.Process(daemon.pid)]
        nginx_p = psutil.Process(nginx.pid).children() or [psutil.Process(nginx.pid)]
        ours_runs, nginx_runs = [], []
        for _ in range(ROUNDS):
            ours_runs.append(_measured_wrk(base + segment, ours_p))
            nginx_runs.append(_measured_wrk(f"https://127.0.0.1:{nginx_port}{segment}", nginx_p))
        (ours_bps, ours_cpu), (nginx_bps, nginx_cpu) = max(ours_runs), max(nginx_runs)
        # share of one core to carry the cabin's need, from the CPU each byte cost
        ours_need = 100.0 * NEED_BYTES * ours_cpu / ours_bps
        nginx_need = 100.0 * NEED_BYTES * nginx_cpu / nginx_bps
        ktls = ktls_available()
        figures = [
            Figure("HLS segments over TLS", ours_bps / 1e6, "MB/s", reference=nginx_bps / 1e6,
                   reference_name=f"nginx TLS (1 worker, sendfile on, kTLS {ktls.split(' ')[0]})",
                   ratio=ours_bps / nginx_bps, goal=f">= {NEED_BYTES / 1e6:.0f} MB/s (300 x 5 Mbit/s)",
                   met=ours_bps >= NEED_BYTES),
            Figure("core share for 300 viewers at 5 Mbit/s over TLS", ours_need, "% of one core",
                   reference=nginx_need, reference_name="nginx TLS", ratio=ours_need / nginx_need,
                   goal="< 50%", met=ours_need < 50),
            Figure(f"kernel TLS: {ktls}", 1.0 if ktls.startswith("yes") else 0.0, "available"),
        ]
        ours_hs, nginx_hs = _s_time(tls), _s_time(nginx_port)
        figures.append(Figure("TLS handshakes (full, one client)", ours_hs, "per s", reference=nginx_hs,
                              reference_name="nginx", ratio=ours_hs / nginx_hs, goal=">= 100/s (a cabin boarding)",
                              met=ours_hs >= 100))
        nginx.terminate()
        figures += _sse(base + "/api/v1/flight/stream", ours_p[0], label="TLS ", settle=12.0)
        return figures
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    for figure in run():
        print(figure)
    sys.exit(0)
