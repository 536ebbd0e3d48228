"""Passenger portal benchmark, against the real daemon (`appliance run --sim`, the simulator flying):

1. 1,000 concurrent SSE clients at 1 Hz (clients in two other processes): every client gets every tick, the
   spread of one tick's arrival across all clients, daemon CPU (% of one core) and memory (RSS).
2. `/api/v1/flight` requests/s (wrk) against a bare aiohttp handler returning the same bytes and headers.
3. HLS segment throughput (wrk) against nginx serving the same files, same run; for context, a bare aiohttp
   server with the portal's own sendfile path (appliance.portal.files) against the same nginx: what aiohttp's
   per-request work leaves, whatever the portal does around it.

Like with like: wrk's connections come from one address (127.0.0.1), as one passenger's would, so there are
fewer of them than `portal.max_connections_per_address` (32) less what the simulated passengers hold: over the
cap, every connection past it is answered 503 and closed, and wrk reconnects it at once, so the daemon would
spend the round on accept/refuse/close while the references serve keep-alive requests. Every round counts the
answers that were not 2xx on both sides; any makes the figure a miss (the round was not like with like).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psutil

from tests.bench import Figure, Rounds, alternate

REPO = Path(__file__).resolve().parents[2]
SSE_CLIENTS = 1000
SSE_PROCESSES = 2
SSE_SECONDS = 15.0
WRK_SECONDS = 3
WRK_ROUNDS = 5  # ours and the reference alternate (ABBA); medians and ranges over the rounds count
WRK_CONNECTIONS = 16  # keep-alive connections of each wrk run: below the portal's per-address cap (see above)
SEGMENT_BITRATE = int(os.environ.get("BENCH_PORTAL_SEGMENT_BITRATE", "2000000"))  # 4 s segments: ~1 MB


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    return env


def _wait_http(url: str, timeout: float = 60.0) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                body: bytes = r.read()
                return body
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _post(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5):
        pass


def _install_content(root: Path, work: Path) -> Path:
    from appliance.content.pack import pack
    from appliance.content.store import ContentStore
    from firmware_sim.content_samples import generate

    store = ContentStore(root)
    store.ensure_layout()
    source = generate(work / "src", date.today(), segments=8, bitrate=SEGMENT_BITRATE)
    files = store.staging / "bench"
    store.install(files, pack(source, files, bundle_id="bench"))
    active = store.active_root()
    assert active is not None
    return active


def _wrk(url: str, connections: int = WRK_CONNECTIONS) -> tuple[float, float]:
    """(requests/s, bytes/s) from wrk."""
    rps, bps, _ = _wrk_run(url, connections)
    return rps, bps


def _wrk_run(url: str, connections: int = WRK_CONNECTIONS) -> tuple[float, float, int]:
    """(requests/s, bytes/s, answers that were not 2xx or 3xx or failed on the socket) from wrk."""
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{WRK_SECONDS}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    match = re.search(r"Transfer/sec:\s+([\d.]+)([KMG]?B)", out)
    assert match is not None
    scale = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}[match.group(2)]
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    bad = (int(failed.group(1)) if failed else 0) + (sum(int(g) for g in errors.groups()) if errors else 0)
    return rps, float(match.group(1)) * scale, bad


@dataclass
class Compared:
    """Alternating wrk rounds of ours and a reference: requests/s, MB/s, and the bad answers on each side."""

    rps: Rounds
    mbps: Rounds
    bad_ours: int
    bad_reference: int

    def figure(self, name: str, unit: str, reference_name: str, goal: str, minimum: float) -> Figure:
        """The figure of `unit` ("req/s" or "MB/s"); met when the median ratio reaches `minimum` and no answer on
        either side was a refusal or an error."""
        rounds = self.rps if unit == "req/s" else self.mbps
        clean = self.bad_ours == 0 and self.bad_reference == 0
        figure = Figure.from_rounds(name, unit, rounds, reference_name=reference_name, goal=goal,
                                    met=lambda _v, r: r >= minimum and clean)
        if not clean:
            figure.goal += f"; NOT like with like: {self.bad_ours} bad answers ours, {self.bad_reference} reference"
        return figure


def _compare(ours_url: str, reference_url: str, connections: int = WRK_CONNECTIONS) -> Compared:
    """WRK_ROUNDS alternating (ABBA) rounds of ours and the reference on the same path and connection count."""
    samples: dict[str, list[tuple[float, float, int]]] = {"ours": [], "reference": []}

    def side(name: str, url: str) -> float:
        samples[name].append(_wrk_run(url, connections))
        return samples[name][-1][0]

    alternate(lambda: side("ours", ours_url), lambda: side("reference", reference_url), WRK_ROUNDS)
    ours, reference = samples["ours"], samples["reference"]
    return Compared(Rounds([o[0] for o in ours], [r[0] for r in reference]),
                    Rounds([o[1] / 1e6 for o in ours], [r[1] / 1e6 for r in reference]),
                    sum(o[2] for o in ours), sum(r[2] for r in reference))


def _sse(url: str, daemon: psutil.Process, label: str = "", settle: float = 4.0) -> list[Figure]:
    """1,000 SSE clients on `url`; `label` prefixes the figures' names (e.g. "TLS "); `settle`: seconds for
    everyone to connect (TLS: 1,000 handshakes) before the measured window."""
    per = SSE_CLIENTS // SSE_PROCESSES
    seconds = SSE_SECONDS + settle - 4.0
    clients = [subprocess.Popen([sys.executable, "-m", "tests.bench.portal_load", "sse", url, str(per),
                                 str(seconds)], stdout=subprocess.PIPE, env=_env(), cwd=REPO)
               for _ in range(SSE_PROCESSES)]
    time.sleep(settle)  # everyone connected
    cpu0, t0 = daemon.cpu_times(), time.monotonic()
    rss = 0
    while time.monotonic() - t0 < seconds - settle - 2.0:
        rss = max(rss, daemon.memory_info().rss)
        time.sleep(0.5)
    cpu1, t1 = daemon.cpu_times(), time.monotonic()
    cpu = 100.0 * ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / (t1 - t0)
    results = [json.loads(p.communicate(timeout=seconds + 60)[0]) for p in clients]
    events: dict[str, list[float]] = {}
    for result in results:
        for event_id, (first, last, count) in result["events"].items():
            entry = events.setdefault(event_id, [first, last, 0])
            entry[0], entry[1], entry[2] = min(entry[0], first), max(entry[1], last), entry[2] + count
    full = {k: v for k, v in events.items() if v[2] == SSE_CLIENTS}
    # ticks in the measured window: every client connected, none yet stopping
    seqs = sorted(int(k.rsplit("-", 1)[1]) for k in events)
    skip = int(settle) + 1  # ticks while clients were still connecting
    window = [k for k in events if seqs[0] + skip <= int(k.rsplit("-", 1)[1]) <= seqs[-1] - 2]
    complete = sum(1 for k in window if k in full)
    spreads = sorted((events[k][1] - events[k][0]) * 1000 for k in window)
    spread_ms = spreads[-1] if spreads else float("nan")
    median_ms = spreads[len(spreads) // 2] if spreads else float("nan")
    errors = sum(r["errors"] for r in results)
    return [
        Figure(label + "sse ticks delivered to all 1000 clients", complete, "ticks", reference=len(window),
               reference_name="ticks in the window", ratio=complete / len(window) if window else None,
               goal="every client gets every tick", met=complete == len(window) and errors == 0),
        Figure(label + "sse worst spread of one tick across clients", spread_ms, "ms", goal="<= 100 ms",
               met=spread_ms <= 100),
        Figure(label + "sse median spread of one tick across clients", median_ms, "ms", goal="<= 100 ms",
               met=median_ms <= 100),
        Figure(label + "daemon CPU with 1000 SSE clients", cpu, "% of one core", goal="< 25%", met=cpu < 25),
        Figure(label + "daemon memory (RSS) with 1000 SSE clients", rss / 1e6, "MB", goal="< 150 MB", met=rss < 150e6),
    ]


def _start_sim_daemon(work: Path, portal_extra: str = "") -> tuple[subprocess.Popen[bytes], int, int]:
    """`appliance run --sim` on the content in `work/content`, every listener on a free loopback port;
    `portal_extra` adds [portal] keys. Returns the process, the portal's port and the simulator's control port."""
    portal, maintenance, control = _free_port(), _free_port(), _free_port()
    (work / "appliance.toml").write_text(
        f'[portal]\nlisten = "127.0.0.1:{portal}"\n{portal_extra}[maintenance]\nlisten = "127.0.0.1:{maintenance}"\n'
        f'[sim]\ncontrol = "127.0.0.1:{control}"\nscenario = "flight"\n'
        f'[content]\ndir = "{work / "content"}"\n[groundlink]\nurl = "http://127.0.0.1:9"\n')
    daemon = subprocess.Popen([sys.executable, "-m", "appliance", "run", "--sim", "--config",
                               str(work / "appliance.toml"), "--state-dir", str(work / "state")],
                              env=_env(), cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return daemon, portal, control


def run() -> list[Figure]:
    if shutil.which("wrk") is None or shutil.which("nginx") is None:
        raise RuntimeError("bench_portal needs wrk and nginx (make debs)")
    work = Path(tempfile.mkdtemp(prefix="bench-portal-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        active = _install_content(work / "content", work)
        daemon, portal, control = _start_sim_daemon(work)
        processes.append(daemon)
        base = f"http://127.0.0.1:{portal}"
        _wait_http(base + "/api/v1/flight")
        _post(f"http://127.0.0.1:{control}/scenario", {"name": "flight", "at": "cruise", "speed": 5})
        time.sleep(2.0)
        figures = _sse(base + "/api/v1/flight/stream", psutil.Process(daemon.pid))

        body = _wait_http(base + "/api/v1/flight")
        (work / "flight.json").write_bytes(body)
        bare_port = _free_port()
        bare = subprocess.Popen([sys.executable, "-m", "tests.bench.portal_load", "bare", str(bare_port),
                                 str(work / "flight.json")], env=_env(), cwd=REPO)
        processes.append(bare)
        _wait_http(f"http://127.0.0.1:{bare_port}/api/v1/flight")
        flight = _compare(base + "/api/v1/flight", f"http://127.0.0.1:{bare_port}/api/v1/flight")
        figures.append(flight.figure("/api/v1/flight", "req/s", "bare aiohttp handler, same bytes and headers",
                                     ">= 0.95x (defect 0.85x)", 0.95))

        nginx_port = _free_port()
        (work / "nginx.conf").write_text(
            f"daemon off; worker_processes 1; pid {work}/nginx.pid; error_log {work}/nginx-error.log;\n"
            f"events {{ worker_connections 1024; }}\n"
            f"http {{ access_log off; sendfile on; tcp_nopush on; types {{ video/mp2t ts; }}\n"
            f"  client_body_temp_path {work}/nb; proxy_temp_path {work}/np; fastcgi_temp_path {work}/nf;\n"
            f"  uwsgi_temp_path {work}/nu; scgi_temp_path {work}/ns;\n"
            f"  server {{ listen 127.0.0.1:{nginx_port}; location /content/ {{ alias {active}/; }} }} }}\n")
        subprocess.run(["chmod", "-R", "a+rX", str(work)], check=True)  # nginx workers run unprivileged
        nginx = subprocess.Popen(["nginx", "-c", str(work / "nginx.conf"), "-p", str(work)])
        processes.append(nginx)
        segment = "/content/video/coast/low/seg003.ts"
        _wait_http(f"http://127.0.0.1:{nginx_port}{segment}")
        hls = _compare(base + segment, f"http://127.0.0.1:{nginx_port}{segment}")
        figures.append(hls.figure("HLS segment throughput", "MB/s", "nginx (1 worker, sendfile)",
                                  ">= 1.0x (defect 0.85x)", 1.0))
        files_port = _free_port()
        files = subprocess.Popen([sys.executable, "-m", "tests.bench.portal_load", "files", str(files_port),
                                  str(active)], env=_env(), cwd=REPO)
        processes.append(files)
        _wait_http(f"http://127.0.0.1:{files_port}{segment}")
        bare_files = _compare(f"http://127.0.0.1:{files_port}{segment}", f"http://127.0.0.1:{nginx_port}{segment}")
        context = bare_files.figure("HLS, bare aiohttp + the portal's sendfile path (context)", "MB/s",
                                    "nginx (1 worker, sendfile)", "context: aiohttp's own ceiling", 0.0)
        context.met = None
        figures.append(context)
        return figures
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(work, ignore_errors=True)
