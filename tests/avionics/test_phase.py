"""The derived flight phase through whole simulated flights, with noise, and around its thresholds."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from appliance.avionics.phase import PhaseTracker
from firmware_sim.flight.scenario import SCENARIOS
from firmware_sim.flight.truth import parameters

START = datetime(2026, 6, 1, tzinfo=UTC)
FLIGHT_PHASES = ["gate", "taxi", "takeoff", "climb", "cruise", "descent", "approach", "landed", "gate"]


def _run(scenario: str, step: float, noise: bool, speed: float = 1.0) -> tuple[list[str], list[tuple[float, str, str]]]:
    """Phases the tracker went through, and (t, world phase, tracker phase) samples. `speed` compresses time as
    the simulator does: the tracker (the daemon) sees scenario second t at t / speed, every `step` of its own."""
    timeline = SCENARIOS[scenario]()
    rng = random.Random(7)
    tracker = PhaseTracker()
    seen: list[str] = []
    samples = []
    end = timeline.segments[-1].start + 600 * max(1.0, speed / 5)  # past the last gate's hold (60 s)
    t = 0.0
    while t < end:
        segment = timeline.at(t)
        truth = parameters(segment, t, START)
        altitude, gs = truth["altitude"], truth["ground_speed"]
        if noise:
            altitude += rng.gauss(0, 15)
            gs = max(0.0, gs + rng.gauss(0, 0.3 if gs < 20 else 2.0))  # GNSS: a few tenths standing still
        phase = tracker.update(t / speed, round(altitude), gs)
        if not seen or seen[-1] != phase:
            seen.append(phase)
        samples.append((t, segment.phase, phase))
        t += step * speed
    return seen, samples


def test_one_flight_in_order() -> None:
    seen, samples = _run("flight", 0.5, noise=False)
    assert seen == FLIGHT_PHASES
    agree = sum(world == ours for _, world, ours in samples) / len(samples)
    assert agree > 0.9  # the tracker lags the truth only by its hold times


def test_noisy_day_does_not_flap() -> None:
    seen, _ = _run("day", 1.0, noise=True)
    assert seen == FLIGHT_PHASES + FLIGHT_PHASES[1:] * 3


#: the speeds `make run` offers (Makefile: SPEED from 1, real time, to 20, its default)
MAKE_RUN_SPEEDS = (2.0, 5.0, 10.0, 20.0)  # 1 is test_noisy_day_does_not_flap


@pytest.mark.parametrize("speed", MAKE_RUN_SPEEDS)
def test_day_in_order_at_every_make_run_speed(speed: float) -> None:
    """The daemon knows nothing of the simulator's speed: its holds must fit the shortest simulated phase (the
    second leg's 406 s cruise is 20 s of the daemon's time at 20x). The reader ticks the tracker every 0.5 s."""
    seen, _ = _run("day", 0.5, noise=True, speed=speed)
    assert seen == FLIGHT_PHASES + FLIGHT_PHASES[1:] * 3


def test_speed_hovering_around_thresholds_does_not_flap() -> None:
    tracker = PhaseTracker()
    rng = random.Random(1)
    changes = []
    for i in range(4000):  # 1,000 s at 4 Hz, taxiing at 5-11 kt and pausing at 0.5-1.5 kt for 100 s at a time
        t = i * 0.25
        gs = 8.0 + rng.uniform(-3, 3) if (i // 400) % 2 == 0 else 1.0 + rng.uniform(-0.5, 0.5)
        before = tracker.phase
        tracker.update(t, 12.0, gs)
        if tracker.phase != before:
            changes.append(tracker.phase)
    assert changes == ["taxi"]  # from unknown; the pauses never last long enough to be "gate"


def test_on_ground_and_lost_inputs() -> None:
    tracker = PhaseTracker()
    assert tracker.on_ground is None
    tracker.update(0.0, 35000.0, 450.0)
    assert tracker.phase == "unknown"  # airborne, but climbing or not is not known yet
    tracker.update(1.0, 35000.0, 450.0)
    assert tracker.phase == "cruise" and tracker.on_ground is False
    tracker.update(10.0, None, None)
    assert tracker.phase == "cruise"
    tracker.update(45.0, None, None)
    assert tracker.phase == "unknown" and tracker.on_ground is None


def test_go_around_climbs_again() -> None:
    tracker = PhaseTracker()
    t, altitude = 0.0, 3000.0
    for _ in range(200):  # descending approach at 160 kt, -700 ft/min
        tracker.update(t, altitude, 160.0)
        t, altitude = t + 0.5, altitude - 700 / 120
    assert tracker.phase == "approach"
    for _ in range(60):  # go around: +2,000 ft/min for 30 s
        tracker.update(t, altitude, 170.0)
        t, altitude = t + 0.5, altitude + 2000 / 120
    assert tracker.phase == "climb"
