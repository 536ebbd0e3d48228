"""Operations benchmark: time from process start to READY=1 after an unsafe shutdown, the daemon's memory at idle
and in flight, and its CPU under bus load with portal clients. The daemon runs as systemd runs it (its own
process, NOTIFY_SOCKET, WATCHDOG_USEC) against the simulator process, with whatever components are built.

Each figure names what it measured: where a component the goal assumes is not built yet (storage's journal,
content's store, the portal's clients), the figure says so rather than pretending.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import psutil

from appliance.core.registry import load_specs
from appliance.core.spec import Deferred
from tests.bench import Figure, Rounds
from tests.conftest import subprocess_env
from tests.hil_harness import Aircraft, SimProcess, metric_sum

READY_RUNS = 5  # rounds: each a start to READY=1 after an unsafe shutdown, and the reference, in turn
CONTENT_FILES = 20_000
JOURNAL_RECORDS = 100_000
CLIENTS = 200
CPU_WINDOW = 10.0


def _builder_modules() -> list[str]:
    """The modules the daemon imports to build every registered component: what no start can avoid."""
    modules = ["appliance.daemon"]
    for spec in load_specs():
        modules.append(spec.build.module if isinstance(spec.build, Deferred) else spec.build.__module__)
    return modules


def _baseline_import_seconds() -> float:
    """Reference: a bare interpreter importing every component's module (the floor for start-to-READY)."""
    started = time.monotonic()
    code = f"import importlib; [importlib.import_module(m) for m in {_builder_modules()!r}]"
    subprocess.run([sys.executable, "-c", code], env=subprocess_env(), check=True)
    return time.monotonic() - started


_LIBRARIES = (
    "import sys, importlib; [importlib.import_module(m) for m in sys.argv[1:]]; "
    "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] not in sys.stdlib_module_names "
    "and m.split('.')[0] not in {'appliance', 'hal', 'tests', 'firmware_sim', '__main__', '__mp_main__'})))"
)


def _libraries() -> list[str]:
    """The third-party library modules the daemon's component modules import, each by its full name (what the
    RSS reference imports): a library's top level alone can leave out most of what the daemon loads of it
    (`import cryptography` is a few kilobytes; the x509 modules the portal and the ground link use bring its
    Rust core, about 9 MB)."""
    out = subprocess.run([sys.executable, "-c", _LIBRARIES, *_builder_modules()], env=subprocess_env(),
                         capture_output=True, text=True, check=True).stdout
    return [name for name in out.split() if all(part.isidentifier() for part in name.split("."))]


def _mapped_libraries(pid: int) -> set[str]:
    """The installed packages whose compiled modules process `pid` has mapped: what it imported after its
    start as well (numpy, the avionics bulk path, loads after READY), which the builders' imports miss."""
    names: set[str] = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        _, found, rest = line.partition("/site-packages/")
        if found:
            top = rest.split("/", 1)[0].split(".", 1)[0]  # "numpy.libs" and "x.cpython-311-....so" too
            if top.isidentifier() and not top.startswith("_"):
                names.add(top)
    return names


def _baseline_rss(libraries: list[str]) -> float:
    """Reference: RSS of a bare interpreter with the same libraries imported (not the daemon's own code)."""
    code = ("import importlib, sys\n"
            f"for name in {libraries!r}:\n"
            "    try:\n"
            "        importlib.import_module(name)\n"
            "    except ImportError:\n"  # a module a library made under another name (cffi's _openssl, ...)
            "        pass\n"
            "sys.stdout.write('x'); sys.stdout.flush(); sys.stdin.read()")
    process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stdin is not None
    process.stdout.read(1)
    rss = psutil.Process(process.pid).memory_info().rss / 1e6
    process.stdin.close()
    process.wait()
    return rss


def _built(status: dict[str, Any]) -> list[str]:
    return [c["name"] for c in status.get("components", [])]


def _big_state(aircraft: Aircraft) -> dict[str, Any]:
    """20,000 content files and 100,000 journal records, written by storage's and content's own code, then an
    unsafe exit (tests/bench/ops_state.py)."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.bench.ops_state", str(aircraft.config_path), str(CONTENT_FILES),
         str(JOURNAL_RECORDS)],
        env=subprocess_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        return {"error": (result.stderr or result.stdout)[-500:]}
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def _time_to_ready(tmp: Path, sim: SimProcess) -> tuple[Rounds, list[str], dict[str, Any]]:
    """Start to READY=1, READY_RUNS rounds, each after an unsafe shutdown, alternating (ABBA) with the
    reference (interpreter + imports); the state's report gets where the time went (each component's start,
    from /api/v1/status, for every round)."""
    aircraft = Aircraft(tmp, sim)
    rounds = Rounds()
    try:
        aircraft.start()
        aircraft.wait_notify("READY", "1", 60)
        status = aircraft.get("/api/v1/status")[1]
        aircraft.cut()
        state = _big_state(aircraft) if {"storage", "content"} <= set(_built(status)) else {}
        state["start_seconds"] = []
        for i in range(READY_RUNS):
            if i % 2:
                rounds.reference.append(_baseline_import_seconds())
            aircraft.start()
            ready = aircraft.wait_notify("READY", "1", 120)
            rounds.ours.append(ready.at - aircraft.started_at)
            state["start_seconds"].append(aircraft.get("/api/v1/status")[1]["daemon"].get("start_seconds"))
            aircraft.cut()  # unsafe shutdown again: every run recovers
            if not i % 2:
                rounds.reference.append(_baseline_import_seconds())
        return rounds, _built(status), state
    finally:
        aircraft.close()


async def _sse_clients(url: str, count: int, seconds: float) -> int:
    """`count` passengers' phones on the flight stream for `seconds`; returns how many connected."""
    connected = 0

    async def one(session: aiohttp.ClientSession) -> None:
        nonlocal connected
        try:
            async with session.get(url) as response:
                if response.status != 200:
                    return
                connected += 1
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    await asyncio.wait_for(response.content.readany(), timeout=seconds)
        except (aiohttp.ClientError, TimeoutError):
            pass

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=seconds + 10)) as s:
        await asyncio.gather(*(one(s) for _ in range(count)))
    return connected


class BusFlood:
    """Full ARINC 429 bus load on two high-speed channels (100 kbit/s: ~2,780 words/s each), framed as the
    adapter frames them, written to a pty the daemon reads as its avionics port."""

    WORDS_PER_SECOND = 2778
    VALUES: ClassVar[dict[str, float]] = {
        "altitude": 35000.0, "ground_speed": 450.0, "computed_airspeed": 280.0, "mach": 0.78, "true_heading": 90.0,
        "latitude": 41.3, "longitude": 2.1, "static_air_temperature": -54.0, "vertical_speed": 0.0,
        "true_airspeed": 460.0,
    }  # fmt: skip

    def __init__(self) -> None:
        from hal.arinc429 import encode, encode_frame

        self.words: list[int] = []
        for name, value in self.VALUES.items():
            try:
                self.words.append(encode(name, value))
            except (KeyError, ValueError):
                continue
        if not self.words:
            raise ValueError("no label of the bench is known to hal.arinc429")
        self._encode_frame = encode_frame
        self.master, slave = os.openpty()
        self.path = os.ttyname(slave)
        self._slave = slave
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        tick = 0.01
        per_tick = max(1, round(self.WORDS_PER_SECOND * tick))
        started = time.monotonic()
        n = 0
        while not self._stop.is_set():
            chunk = bytearray()
            for _ in range(per_tick):
                for channel in (0, 1):
                    word = self.words[n % len(self.words)]
                    chunk += self._encode_frame(channel, word, int((time.monotonic() - started) * 1e6))
                n += 1
            try:
                os.write(self.master, chunk)
            except OSError:
                return
            self.sent += 2 * per_tick
            time.sleep(max(0.0, started + n / self.WORDS_PER_SECOND - time.monotonic()))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self.master)
        os.close(self._slave)


def _memory(tmp: Path, sim: SimProcess) -> list[Figure]:
    """RSS at the gate, then in cruise with the passengers ordering."""
    aircraft = Aircraft(tmp, sim)
    try:
        aircraft.start()
        aircraft.wait_notify("READY", "1", 60)
        assert aircraft.process is not None
        process = psutil.Process(aircraft.process.pid)
        time.sleep(5)
        idle = process.memory_info().rss / 1e6
        libraries = sorted({*_libraries(), *_mapped_libraries(process.pid)})
        references = [_baseline_rss(libraries) for _ in range(5)]  # RSS hardly varies; the median of five all the same
        reference = sorted(references)[2]
        built = ", ".join(_built(aircraft.get("/api/v1/status")[1]))
        in_flight = sim.world() is not None
        if in_flight:
            sim.post("/world/seek", {"at": "cruise"})
        aircraft.passengers(120.0)
        time.sleep(15)
        flight_rss = process.memory_info().rss / 1e6
        where = "in cruise, passengers ordering" if in_flight else "no flight simulated"
        return [
            Figure(f"daemon RSS idle at the gate ({built})", idle, "MB", reference,
                   f"bare python + the same {len({n.split('.')[0] for n in libraries})} libraries' {len(libraries)} "
                   "modules", idle / reference, "<= 1.4x the reference",
                   idle / reference <= 1.4, higher_is_better=False, reference_samples=references),
            Figure(f"daemon RSS {where}", flight_rss, "MB", reference, "bare python + libraries",
                   flight_rss / reference, "< 80 MB", flight_rss < 80, higher_is_better=False),
        ]  # fmt: skip
    finally:
        aircraft.close()


def _cpu(tmp: Path, sim: SimProcess) -> list[Figure]:
    """CPU with the avionics port flooded on two channels and 200 passengers on the flight stream."""
    try:
        flood: BusFlood | None = BusFlood()
    except (ImportError, ValueError):
        flood = None
    overrides = {"avionics": {"port": flood.path}} if flood is not None else {}
    aircraft = Aircraft(tmp, sim, **overrides)
    try:
        aircraft.start()
        aircraft.wait_notify("READY", "1", 60)
        assert aircraft.process is not None
        process = psutil.Process(aircraft.process.pid)
        time.sleep(3)
        words_before = metric_sum(aircraft.get("/metrics")[1], "appliance_avionics_words_total")
        stream = f"http://127.0.0.1:{aircraft.portal_port}/api/v1/flight/stream"
        cpu_before = process.cpu_times()
        wall_before = time.monotonic()
        connected = asyncio.run(_sse_clients(stream, CLIENTS, CPU_WINDOW))
        if connected == 0:
            time.sleep(max(0.0, CPU_WINDOW - (time.monotonic() - wall_before)))
        cpu_after = process.cpu_times()
        wall = time.monotonic() - wall_before
        cpu = (cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system) / wall * 100
        words = metric_sum(aircraft.get("/metrics")[1], "appliance_avionics_words_total") - words_before
        full_load = flood is not None and words / wall > 0.9 * 2 * BusFlood.WORDS_PER_SECOND
        return [Figure(
            f"daemon CPU: {words / wall:,.0f} ARINC words/s decoded on 2 channels, {connected}/{CLIENTS} SSE clients",
            cpu, "% of one core", None, "", None, "< 30 % at full bus load on two channels with 200 clients",
            cpu < 30 if full_load and connected == CLIENTS else None,  # judged only under the goal's load
        )]  # fmt: skip
    finally:
        aircraft.close()
        if flood is not None:
            flood.close()


def run() -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="bench-ops-") as scratch:
        tmp = Path(scratch)
        sim = SimProcess("day", 10.0)
        try:
            rounds, built, built_state = _time_to_ready(tmp / "ready", sim)
            big_state = (built_state.get("content_files") == CONTENT_FILES
                         and built_state.get("journal_records") == JOURNAL_RECORDS)  # fmt: skip
            state = (f"{CONTENT_FILES} content files, {JOURNAL_RECORDS} journal records" if big_state
                     else f"without the 20k/100k state: {built_state or 'storage/content not built'}")  # fmt: skip
            figures.append(Figure.from_rounds(
                f"start to READY=1 after an unsafe shutdown ({', '.join(built)}; {state})", "s", rounds,
                reference_name="interpreter + imports", goal="< 1.0 s (defect 1.5 s)",
                met=lambda v, _r: v < 1.0 if big_state else None,  # judged only with the goal's state
                higher_is_better=False,
            ))  # fmt: skip
            print(f"  start to READY: state {built_state}", flush=True)
            figures.extend(_memory(tmp / "memory", sim))
            figures.extend(_cpu(tmp / "cpu", sim))
        finally:
            sim.stop()
    return figures
