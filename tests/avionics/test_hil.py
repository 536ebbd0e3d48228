"""Hardware in the loop: `python -m firmware_sim` on a pty (and socket://), the real reader reading it.

The world is frozen at cruise so the bus carries constant values to compare with the simulator's truth.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.avionics.capture_cli import replay_lines
from appliance.avionics.config import AvionicsConfig
from appliance.avionics.reader import AvionicsReader
from appliance.avionics.state import FlightState
from appliance.component import Status
from appliance.metrics import Metrics
from appliance.timebase import SystemClock
from hal.arinc429 import BY_NAME
from tests.conftest import python_module, subprocess_env

pytestmark = pytest.mark.xdist_group("avionics-hil")

BNR = ("altitude", "mach_speed", "total_air_temperature", "outside_temperature", "latitude", "longitude",
       "ground_speed", "heading", "wind_speed", "wind_direction", "magnetic_heading", "pitch", "roll", "yaw")
ANGLES = {"heading", "wind_direction", "magnetic_heading"}


class Sim:
    def __init__(self) -> None:
        argv = python_module("firmware_sim", "--control", "127.0.0.1:0", "--scenario", "flight")
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, env=subprocess_env())
        assert self.process.stdout is not None
        self.endpoints: dict[str, Any] = json.loads(self.process.stdout.readline())
        self.control = self.endpoints["control"]

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://{self.control}{path}", data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)

    async def acall(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """From a test on the event loop: the reader's updates keep running while the request is served."""
        return await asyncio.to_thread(self.call, method, path, body)

    def reset(self) -> None:
        self.call("DELETE", "/avionics/faults")
        self.call("DELETE", "/avionics/labels")
        self.call("POST", "/scenario", {"name": "flight", "speed": 1, "at": "cruise"})
        self.call("POST", "/world/freeze", {"frozen": True})


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    simulator = Sim()
    yield simulator
    simulator.process.terminate()
    simulator.process.wait(timeout=10)


@pytest.fixture
async def reader(sim: Sim) -> AsyncIterator[AvionicsReader]:
    await asyncio.to_thread(sim.reset)
    async with _reader(sim.endpoints["avionics.port"]) as started:
        yield started


class _reader:  # used as `async with`
    def __init__(self, port: str) -> None:
        clock = SystemClock()
        self.reader = AvionicsReader(AvionicsConfig(port=port), clock, FlightState(clock), Metrics())

    async def __aenter__(self) -> AvionicsReader:
        await self.reader.start()
        await _until(lambda: self.reader.state.usable("utc_time") is not None and self.reader.state.usable("date")
                     is not None and self.reader.state.flight_info().origin is not None, 5.0)
        return self.reader

    async def __aexit__(self, *exc: object) -> None:
        await self.reader.stop()


async def _until(condition: Callable[[], bool], within: float) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > within:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def _assert_equals_truth(state: FlightState, truth: dict[str, Any]) -> None:
    for name in BNR:
        spec = BY_NAME[name]
        reading = state.reading(name)
        assert reading is not None, name
        # fresh: pitch/roll/yaw go stale after 60 ms, so a busy test machine's scheduling may exceed that
        assert reading.status == "normal" or (reading.status == "stale" and reading.age < 0.5), reading
        value = reading.value
        assert isinstance(value, float), name
        difference = value - truth[name]
        if name in ANGLES:
            difference = (difference + 180) % 360 - 180
        assert abs(difference) <= spec.lsb, (name, value, truth[name])
    assert state.usable("utc_time") == truth["utc_time"] and state.usable("date") == truth["date"]
    assert state.usable("flight_number") == 3101
    info = state.flight_info()
    assert (info.flight_id, info.flight_number, info.origin, info.destination) == (
        truth["flight_id"], truth["flight_number"], truth["origin"], truth["destination"])


async def test_flight_state_equals_the_truth(sim: Sim, reader: AvionicsReader) -> None:
    truth = (await sim.acall("GET", "/state"))["world"]
    assert truth["frozen"] and truth["phase"] == "cruise"
    _assert_equals_truth(reader.state, truth)
    check = reader.health()
    assert check.status == Status.PASS and set(check.details["last_seen"]) >= {"203", "310", "360", "233"}
    await asyncio.sleep(0.6)  # the monitor refreshes the age gauges twice a second
    age = reader.metrics.registry.get_sample_value(  # type: ignore[union-attr]
        "appliance_avionics_parameter_age_seconds", {"name": "altitude"})
    assert age is not None and 0 <= age < 0.5
    snapshot = reader.state.snapshot()
    assert snapshot["flight"]["destination"] == "LEMD"
    json.dumps(snapshot)


async def test_failed_label_shown_failed_and_silent_label_stale(sim: Sim, reader: AvionicsReader) -> None:
    await sim.acall("POST", "/avionics/labels/pitch", {"status": "failure_warning"})
    await sim.acall("POST", "/avionics/labels/mach_speed", {"status": "functional_test"})
    await sim.acall("POST", "/avionics/labels/wind_speed", {"silent": True})
    state = reader.state
    await _until(lambda: (r := state.reading("pitch")) is not None and r.status == "failure_warning", 2.0)
    await _until(lambda: (r := state.reading("wind_speed")) is not None and r.status == "stale", 2.0)
    await _until(lambda: (r := state.reading("mach_speed")) is not None and r.status == "functional_test", 2.0)
    assert state.usable("pitch") is None and state.usable("mach_speed") is None and state.usable("wind_speed") is None
    parameters = state.snapshot()["parameters"]
    assert parameters["pitch"]["value"] is None and parameters["mach_speed"]["value"] is None
    assert state.reading("mach_speed").value is None  # type: ignore[union-attr]  # the test pattern is never shown
    check = reader.health()
    assert check.status == Status.WARN and "wind_speed" in check.reason
    response = urllib.request.Request(f"http://{sim.control}/avionics/labels/date", b'{"status": "failure_warning"}',
                                      method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:  # BCD: a failed source stops sending instead
        await asyncio.to_thread(urllib.request.urlopen, response, timeout=5)
    assert refused.value.code == 400
    await sim.acall("DELETE", "/avionics/labels")
    await _until(lambda: state.usable("pitch") is not None and state.usable("wind_speed") is not None, 2.0)


async def test_garbage_crc_and_parity_are_counted_and_skipped(sim: Sim, reader: AvionicsReader) -> None:
    for kind in ("garbage", "crc", "parity"):
        await sim.acall("POST", "/avionics/faults", {"kind": kind, "seconds": 1})
    await asyncio.sleep(1.3)
    registry = reader.metrics.registry  # type: ignore[union-attr]
    for metric in ("crc_errors", "parity_errors", "resyncs"):
        count = registry.get_sample_value(f"appliance_avionics_{metric}_total", {"channel": "0"})
        assert count is not None and count > 10, metric
    assert registry.get_sample_value("appliance_avionics_words_total", {"channel": "0"}) > 300  # type: ignore[operator]
    _assert_equals_truth(reader.state, (await sim.acall("GET", "/state"))["world"])


async def test_words_the_adapter_flagged_are_counted_and_never_shown(sim: Sim, reader: AvionicsReader) -> None:
    """One word in three arrives flagged with two bits wrong (its parity still right): during the fault the flight
    state still equals the truth, from the good words only."""
    await sim.acall("POST", "/avionics/faults", {"kind": "line", "seconds": 1.5})
    await asyncio.sleep(1.0)
    _assert_equals_truth(reader.state, (await sim.acall("GET", "/state"))["world"])
    registry = reader.metrics.registry  # type: ignore[union-attr]
    flagged = registry.get_sample_value("appliance_avionics_line_errors_total", {"channel": "0"})
    assert flagged is not None and flagged > 10
    assert registry.get_sample_value("appliance_avionics_parity_errors_total", {"channel": "0"}) in (None, 0.0)


async def test_unplug_and_replug_recovered_within_two_seconds(sim: Sim, reader: AvionicsReader) -> None:
    await sim.acall("POST", "/avionics/faults", {"kind": "unplug", "seconds": 1})
    unplugged = time.monotonic()
    await _until(lambda: not reader.connected, 1.0)
    assert reader.health().status == Status.WARN and "reconnecting" in reader.health().reason
    replugged = unplugged + 1.0
    await _until(lambda: (reader.core.last_frame or 0) > replugged and reader.connected, 4.0)
    assert time.monotonic() - replugged < 2.0
    assert reader.reconnects == 1 and reader.opens >= 2
    await _until(lambda: reader.health().status == Status.PASS, 2.0)
    _assert_equals_truth(reader.state, (await sim.acall("GET", "/state"))["world"])


async def test_silent_bus_reported_and_reopened(sim: Sim, reader: AvionicsReader) -> None:
    opens = reader.opens
    await sim.acall("POST", "/avionics/faults", {"kind": "silence", "seconds": 3})
    waited = await _until(lambda: reader.silent, 4.0)
    assert 1.8 < waited < 4.0  # 2 s silence timeout, plus scheduling on a busy machine
    check = reader.health()
    assert check.status == Status.WARN and check.reason.startswith("bus silent: no frame for")  # said once
    await _until(lambda: reader.opens > opens, 2.0)  # reopened the port
    await _until(lambda: reader.health().status == Status.PASS, 4.0)


async def test_heartbeats_keep_a_quiet_bus_alive(sim: Sim, reader: AvionicsReader) -> None:
    await sim.acall("POST", "/avionics/faults", {"kind": "quiet", "seconds": 2.5})
    await asyncio.sleep(2.3)
    assert not reader.silent and reader.connected  # heartbeats arrive once a second
    assert reader.health().status == Status.WARN and "stale" in reader.health().reason
    registry = reader.metrics.registry  # type: ignore[union-attr]
    assert registry.get_sample_value("appliance_avionics_frames_total", {"channel": "heartbeat"}) >= 1  # type: ignore[operator]


async def test_socket_url_reads_the_same_bus(sim: Sim) -> None:
    await asyncio.to_thread(sim.reset)
    async with _reader(sim.endpoints["avionics.socket"]) as socket_reader:
        _assert_equals_truth(socket_reader.state, (await sim.acall("GET", "/state"))["world"])


async def test_capture_records_what_replay_decodes(sim: Sim, tmp_path: Path) -> None:
    await asyncio.to_thread(sim.reset)
    out = tmp_path / "bus.cap"
    argv = python_module("appliance", "capture", "--port", sim.endpoints["avionics.port"], "--out", str(out),
                         "--seconds", "1.2")
    await asyncio.to_thread(subprocess.run, argv, env=subprocess_env(), check=True, timeout=30, capture_output=True)
    summary = replay_lines(out)[-1]["summary"]
    assert summary["words"] > 250 and summary["crc_errors"] == summary["parity_errors"] == 0
    assert summary["seconds"] > 1.0


async def test_control_routes_refuse_bad_requests(sim: Sim) -> None:
    def status_of(method: str, path: str, body: bytes) -> int:
        request = urllib.request.Request(f"http://{sim.control}{path}", body, method=method)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            assert "error" in json.load(error)
            return int(error.code)

    cases = [
        ("POST", "/avionics/faults", b'{"kind": "meteor", "seconds": 1}', 400),
        ("POST", "/avionics/faults", b'{"kind": "crc", "seconds": -1}', 400),
        ("POST", "/avionics/faults", b"not json", 400),
        ("POST", "/avionics/labels/777", b'{"silent": true}', 404),
        ("POST", "/avionics/labels/nonsense", b'{"silent": true}', 404),
        ("POST", "/avionics/labels/altitude", b'{"status": "sleepy"}', 400),
        ("POST", "/avionics/labels/altitude", b'{"silent": "yes"}', 400),
        ("POST", "/scenario", b'{"name": "flight", "at": "orbit"}', 400),
    ]
    for method, path, body, expected in cases:
        assert await asyncio.to_thread(status_of, method, path, body) == expected, (path, body)
