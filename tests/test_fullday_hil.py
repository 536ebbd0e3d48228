"""Full-day hardware-in-the-loop: the simulator and the daemon as their own processes, the daemon started the way
systemd starts it (this test is its notify socket, WATCHDOG_USEC set), every device over its real interface.

Boot, READY, gate, taxi, flight, landing, the ground window (outbox drained, content in place), the power
transfer (a cut: SIGKILL), the appliance-fsck.service step, reboot with recovery, the next flight, an orderly
stop. It asserts on what the components present provide (a component that is built must do its part; a service
nobody builds yet is skipped by name in the test's log), and strictly on the daemon's own systemd contract.
The second test blocks the event loop through the maintenance debug hook and shows the watchdog pings stop.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from appliance.daemon import Daemon
from hal.discretes.signals import DEFAULT_SIGNALS
from tests.conftest import subprocess_env
from tests.hil_harness import Aircraft, SimProcess, metric_sum, metric_value
from tests.ops_support import Message, NotifyListener, http

pytestmark = pytest.mark.slow

SPEED = 30.0  # scenario seconds per real second
WATCHDOG_USEC = 2_000_000


def log(message: str) -> None:
    print(f"[hil] {message}", flush=True)


def max_gap(times: list[float]) -> float:
    return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


def assert_boot(aircraft: Aircraft, notify: NotifyListener) -> tuple[Message, dict[str, Any]]:
    """READY=1 only after every component started, in order; the watchdog fed at half of WATCHDOG_USEC."""
    ready = aircraft.wait_notify("READY", "1", 60)
    log(f"READY after {ready.at - aircraft.started_at:.2f} s: {ready.fields.get('STATUS')}")
    status = aircraft.wait_status(lambda s: s["daemon"]["ready"], 10, "the daemon to report ready")
    names = [c["name"] for c in status["components"]]
    before_ready = notify.snapshot()[: notify.index_of(ready)]
    starting = [m.fields["STATUS"].removeprefix("starting ") for m in before_ready if m.has("STATUS")]
    # independent components start concurrently: each one's start is announced before READY, in any order
    assert sorted(starting) == sorted(names), f"READY=1 before every component started: {starting} vs {names}"
    assert names[-1] == "maintenance"
    notify.wait_for("WATCHDOG", "1", WATCHDOG_USEC / 1e6, after=notify.index_of(ready))
    return ready, status


def assert_healthy(aircraft: Aircraft) -> dict[str, Any]:
    """With every device simulated, no check fails; /health agrees with /api/v1/status."""
    deadline = time.monotonic() + 45
    body: Any = None
    while time.monotonic() < deadline:
        status, body = aircraft.get("/health")
        failing = [k for k, v in body["checks"].items() if v[0]["status"] == "fail"]
        if status == 200 and not failing:
            log(f"health {body['status']}: {sorted(body['checks'])}")
            return body  # type: ignore[no-any-return]
        time.sleep(0.5)
    raise AssertionError(f"health still failing: {json.dumps(body)[:3000]}\n{aircraft.tail()}")


def assert_metrics(aircraft: Aircraft) -> str:
    status, text = aircraft.get("/metrics")
    assert status == 200
    check = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
    assert metric_value(text, "appliance_ready") == 1.0
    assert (metric_value(text, "appliance_watchdog_pings_total") or 0) >= 1
    return str(text)


def flight_phase(status: dict[str, Any]) -> str | None:
    flight = status.get("flight")
    return flight.get("phase") if isinstance(flight, dict) else None


def scenario_t(sim: SimProcess) -> float:
    world = sim.world()
    assert world is not None
    return float(world["t"])


def run_world_until(sim: SimProcess, wanted: Any, speed: float, timeout: float, what: str) -> dict[str, Any]:
    """Let the simulated world run at `speed` until wanted(world truth); then back to SPEED from there."""
    world = sim.world() or {}
    sim.post("/scenario", {"name": "day", "speed": speed, "at": float(world["t"])})
    deadline = time.monotonic() + timeout
    while not wanted(world):
        assert time.monotonic() < deadline, f"the simulated world never reached {what}: {world}"
        time.sleep(0.2)
        world = sim.world() or {}
    sim.post("/scenario", {"name": "day", "speed": SPEED, "at": float(world["t"])})
    return world


def daemon_sees(aircraft: Aircraft, phases: tuple[str, ...], timeout: float) -> dict[str, Any]:
    """The daemon's FlightState (from the ARINC 429 words on its serial port) reaches one of `phases`.
    Its phase logic holds each candidate for real seconds (cruise 10 s, gate 60 s), hence the timeouts."""
    status = aircraft.wait_status(lambda s: flight_phase(s) in phases, timeout, f"the daemon to see {phases}")
    log(f"daemon sees {flight_phase(status)}: {status['daemon']['status']}")
    return status


def fly(sim: SimProcess, aircraft: Aircraft, notify: NotifyListener, has_flight: bool, first: bool) -> str | None:
    """Gate, taxi, takeoff and climb, cruise (the first flight), then approach, landing and the gate.
    Returns the flight number the daemon decoded (label 360), if it decodes one."""
    flight_number = None
    if first:
        assert sim.post("/world/seek", {"at": "taxi"})[0] == 200
    else:  # after the turnaround: the next leg's pushback
        run_world_until(sim, lambda w: w.get("segment") != "gate", 300.0, 60, "the next pushback")
    if has_flight:
        daemon_sees(aircraft, ("taxi", "takeoff", "climb"), 30)
    run_world_until(sim, lambda w: w.get("phase") == "climb", 120.0, 60, "the climb")
    if has_flight:
        status = daemon_sees(aircraft, ("climb",), 45)
        info = status["flight"].get("flight") or {}
        flight_number = info.get("flight_number") if isinstance(info.get("flight_number"), str) else None
        log(f"flight {status['flight'].get('flight')}")
    if first:
        assert sim.post("/world/seek", {"at": "cruise"})[0] == 200
        # real time now: level long enough for the daemon to call it cruise
        sim.post("/scenario", {"name": "day", "speed": 1.0, "at": scenario_t(sim)})
        if has_flight:
            daemon_sees(aircraft, ("cruise",), 60)
            deadline = time.monotonic() + 3 * Daemon.STATUS_PERIOD  # STATUS= tells systemd where the aircraft is
            while not any("cruise FL" in m.fields.get("STATUS", "") for m in notify.snapshot()):
                assert time.monotonic() < deadline, "STATUS= never said cruise FLnnn"
                time.sleep(0.2)
    code, answer = sim.post("/world/seek", {"at": "approach"} if first else {"at": scenario_t(sim) + 600})
    assert code == 200, answer
    world = run_world_until(sim, lambda w: w.get("segment") == "gate", 120.0, 120, "the gate")
    if has_flight:
        daemon_sees(aircraft, ("landed", "gate"), 45)
    log(f"at the gate after the flight (scenario t={world['t']:.0f} s)")
    return flight_number


def ground_window(sim: SimProcess, aircraft: Aircraft, status: dict[str, Any], bundle_id: str | None) -> None:
    """At the gate with coverage: the outbox drains to the ground station, which received each order once."""
    if status.get("outbox") is None:
        log("no outbox built: ground window not checked")
        return
    code, answer = aircraft.post("/api/v1/groundlink/sync")
    assert code in (202, 503), answer
    drained = aircraft.wait_status(
        lambda s: sum((s["outbox"] or {}).get("pending", {}).values()) == 0, 90, "the outbox to drain"
    )
    log(f"outbox drained: {drained['outbox']}")
    code, received = sim.get("/ground/received")
    if code != 200:
        log("the simulator has no ground station: receipts not checked")
        return
    kinds = received.get("kinds", {}) if isinstance(received, dict) else {}
    keys = [entry["key"] for entries in kinds.values() for entry in entries]
    assert len(keys) == len(set(keys)), "the ground station accepted an order twice"
    assert received.get("conflicts", 0) == 0, f"an Idempotency-Key was reused for another body: {received}"
    code, passengers = sim.get("/passengers")
    acked = {o["id"] for o in passengers.get("orders", [])} if code == 200 and isinstance(passengers, dict) else set()
    if acked:
        missing = acked - set(keys)
        assert not missing, f"orders the portal acknowledged (201) never reached the ground: {sorted(missing)[:5]}"
    log(f"ground station holds {len(keys)} orders, all {len(acked)} the portal acknowledged; {received.get('counts')}")
    if drained.get("content") is not None and bundle_id is not None:
        updated = aircraft.wait_status(
            lambda s: (s.get("content") or {}).get("active_id") == bundle_id, 90, f"content bundle {bundle_id}"
        )
        log(f"content updated to {updated['content']['active_id']}")
    elif drained.get("content") is not None:
        current = published_bundle(sim)
        if current is None:
            log("the ground station publishes no content bundle: content update not checked")
        else:
            aircraft.wait_status(lambda s: (s.get("content") or {}).get("active_id") == current, 90,
                                 f"the ground's current bundle {current}")  # fmt: skip
            log(f"content is the ground's current bundle {current}")
    if drained.get("content") is not None:  # taken through TUF: the station's signed tree, nothing refused
        trust = aircraft.wait_status(lambda s: ((s.get("trust") or {}).get("last_refresh") or {}).get("ok") is True,
                                     60, "a verified TUF refresh")["trust"]
        assert trust["refusing"] is None and not trust["refusals"], trust
        log(f"trust: metadata versions {trust['versions']}, nothing refused")


def published_bundle(sim: SimProcess) -> str | None:
    """The ground's current bundle id from its static index (GET <groundlink.url>/content/index.json)."""
    url = sim.endpoints.get("groundlink.url")
    if not url:
        return None
    status, _, body = http("GET", url.rstrip("/") + "/content/index.json")
    if status != 200:
        return None
    current = json.loads(body).get("current")
    return current if isinstance(current, str) else None


def publish_bundle(sim: SimProcess, tmp: Path) -> str | None:
    """Publish a new content bundle on the simulated ground station, as the airline would (`appliance content
    pack SRC DEST --publish` into its static files). None when the simulator does not say where they are."""
    bundles = next((v for k, v in sim.endpoints.items() if "bundles" in k), None)
    if not bundles or importlib.util.find_spec("appliance.content.cli") is None:
        return None
    source = tmp / "bundle-src"
    (source / "films").mkdir(parents=True)
    for i in range(20):
        (source / "films" / f"trailer-{i:02d}.txt").write_text(f"trailer {i}\n" * 200)
    bundle_id = f"hil-{int(time.time())}"
    result = subprocess.run(
        [sys.executable, "-m", "appliance", "content", "pack", str(source), str(Path(bundles) / bundle_id),
         "--bundle-id", bundle_id, "--publish"],
        env=subprocess_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    log(f"published content bundle {bundle_id} at the ground station")
    return bundle_id


def fsck(aircraft: Aircraft) -> None:
    """What appliance-fsck.service runs before the daemon starts again."""
    if importlib.util.find_spec("appliance.content.cli") is None:
        log("no content CLI yet: fsck step skipped")
        return
    result = subprocess.run(
        [sys.executable, "-m", "appliance", "fsck", "--repair", "--json", "--config", str(aircraft.config_path)],
        env=subprocess_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stdout + result.stderr
    log(f"fsck --repair: exit {result.returncode}")


@pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool")
def test_full_day(tmp_path: Path) -> None:
    sim = SimProcess("day", SPEED)
    aircraft = Aircraft(tmp_path, sim, WATCHDOG_USEC)
    try:
        has_world = sim.world() is not None
        first_flight: str | None = None
        notify = aircraft.start()
        ready, status = assert_boot(aircraft, notify)
        assert_healthy(aircraft)
        text = assert_metrics(aircraft)
        has_flight = status.get("flight") is not None
        log(f"components {[c['name'] for c in status['components']]}; world {has_world}; flight {has_flight}")
        if aircraft.passengers(120.0):
            log("passengers pointed at the portal")
        bundle_id = publish_bundle(sim, tmp_path)
        if has_world:
            words_before = metric_sum(text, "appliance_avionics_words_total")
            first_flight = fly(sim, aircraft, notify, has_flight, first=True)
            if has_flight:
                words_after = metric_sum(aircraft.get("/metrics")[1], "appliance_avionics_words_total")
                assert words_after > words_before, "no ARINC 429 words counted during the flight"
        status = aircraft.get("/api/v1/status")[1]
        if status.get("discretes") is not None:  # every signal of the board, by name, for the engineer
            assert {s.name for s in DEFAULT_SIGNALS} <= set(status["discretes"]["signals"])
        ground_window(sim, aircraft, status, bundle_id)
        assert max_gap(notify.times("WATCHDOG", ready.at)) < WATCHDOG_USEC / 1e6, "the watchdog went hungry"

        # the power transfer: a cut, with nothing flushed by us
        aircraft.cut()
        log("power cut (SIGKILL)")
        fsck(aircraft)
        notify = aircraft.start()
        ready, status = assert_boot(aircraft, notify)
        boot = (status.get("storage") or {}).get("boot")
        if boot is not None:
            assert boot["previous_shutdown_clean"] is False and boot["unsafe_shutdowns"] >= 1, boot
            text = aircraft.get("/metrics")[1]
            assert (metric_value(text, "appliance_storage_unsafe_shutdowns_total") or 0) >= 1
            log(f"recovered after the cut: {boot}")
        else:
            log("no storage built: recovery not checked")
        assert_healthy(aircraft)

        # the next flight
        if has_world:
            next_flight = fly(sim, aircraft, notify, has_flight, first=False)
            assert next_flight is None or next_flight != first_flight, "the daemon still shows the first flight"
            # every order acknowledged on either side of the cut reaches the ground exactly once
            ground_window(sim, aircraft, aircraft.get("/api/v1/status")[1], None)

        assert aircraft.terminate() == 0
        stopping = notify.wait_for("STOPPING", "1", 5)
        assert stopping.at > ready.at
        assert max_gap(notify.times("WATCHDOG", ready.at)) < WATCHDOG_USEC / 1e6
    except BaseException:
        print(aircraft.tail(80))
        raise
    finally:
        aircraft.close()
        sim.stop()


def test_a_blocked_loop_stops_the_watchdog(tmp_path: Path) -> None:
    """The engineer's hook blocks the event loop; the pings stop for that long (systemd would restart us)."""
    sim = SimProcess("day", 1.0)
    aircraft = Aircraft(tmp_path, sim, watchdog_usec=1_000_000)
    try:
        notify = aircraft.start()
        ready = aircraft.wait_notify("READY", "1", 60)
        notify.wait_for("WATCHDOG", "1", 5, after=notify.index_of(ready))
        time.sleep(1.5)
        before = time.monotonic()
        code, answer = aircraft.post("/api/v1/debug/block-loop?seconds=3")
        after = time.monotonic()
        assert code == 200 and answer == {"blocked_seconds": 3.0}
        assert after - before >= 3.0
        time.sleep(2.0)
        pings = notify.times("WATCHDOG", ready.at)
        during = [t for t in pings if before + 0.6 < t < after - 0.1]
        assert during == [], f"pings while the loop was blocked: {during}"
        assert max_gap(pings) >= 3.0 and any(t > after for t in pings), "pings did not resume"
        text = aircraft.get("/metrics")[1]
        assert (metric_value(text, "appliance_watchdog_withheld_total") or 0) >= 1  # the late wake-up withheld
        assert aircraft.terminate() == 0
    finally:
        aircraft.close()
        sim.stop()
