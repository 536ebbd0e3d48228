"""FlightState from real adapter bytes through the codec's bulk stream."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.avionics.state import FlightState
from appliance.timebase import ManualClock
from hal.arinc429 import BY_NAME, AdapterStream, encode, encode_flight_id, encode_flight_information, encode_frame


def _feed(state: FlightState, stream: AdapterStream, clock: ManualClock, words: list[int], channel: int = 0) -> None:
    data = b"".join(encode_frame(channel, word) for word in words)
    state.apply(stream.feed(data), clock.monotonic())


def _setup() -> tuple[FlightState, AdapterStream, ManualClock]:
    clock = ManualClock()
    return FlightState(clock), AdapterStream(), clock


def test_values_status_and_age() -> None:
    state, stream, clock = _setup()
    _feed(state, stream, clock, [encode("altitude", 35000, sdi=1), encode("heading", 270.0),
                                 encode("pitch", 3.0, status="functional_test"),
                                 encode("roll", 10.0, status="failure_warning"),
                                 encode("mach_speed", 0.78, status="no_computed_data")])
    clock.advance(0.05)  # pitch and roll (max interval 20 ms) are stale after 60 ms
    assert state.usable("altitude") == 35000.0
    altitude = state.reading("altitude")
    assert altitude is not None and altitude.status == "normal" and abs(altitude.age - 0.05) < 1e-9
    assert abs(float(state.usable("heading") or 0) - 270.0) < 180 / 2**15
    for name, status in (("pitch", "functional_test"), ("roll", "failure_warning"), ("mach_speed", "no_computed_data")):
        reading = state.reading(name)
        assert reading is not None and reading.status == status
        assert state.usable(name) is None
    assert state.reading("pitch").value is None  # type: ignore[union-attr]  # a test pattern, never shown
    assert state.reading("roll").value is None  # type: ignore[union-attr]
    snapshot = state.snapshot()
    assert snapshot["parameters"]["roll"] == {"value": None, "units": "deg", "status": "failure_warning", "age": 0.05}
    assert snapshot["parameters"]["altitude"]["value"] == 35000.0
    assert state.reading("wind_speed") is None and "wind_speed" not in snapshot["parameters"]
    json.dumps(snapshot)


def test_stale_after_three_max_intervals() -> None:
    state, stream, clock = _setup()
    _feed(state, stream, clock, [encode("altitude", 1000, sdi=1)])  # max interval 62.5 ms: stale after 187.5 ms
    clock.advance(0.18)
    assert state.usable("altitude") == 1000.0
    clock.advance(0.01)
    reading = state.reading("altitude")
    assert reading is not None and reading.status == "stale" and reading.value == 1000.0
    assert state.usable("altitude") is None
    assert state.snapshot()["parameters"]["altitude"]["value"] is None
    assert state.stale_names() == ["altitude"]


def test_sdis_are_separate_items_and_the_fresh_one_wins() -> None:
    state, stream, clock = _setup()
    _feed(state, stream, clock, [encode("altitude", 1000, sdi=1)])
    _feed(state, stream, clock, [encode("altitude", 1010, sdi=2)], channel=1)
    assert state.usable("altitude") == 1000.0
    assert [(i["sdi"], i["value"]) for i in state.items()] == [(1, 1000.0), (2, 1010.0)]
    clock.advance(0.1)
    _feed(state, stream, clock, [encode("altitude", 1020, sdi=2)], channel=1)
    clock.advance(0.1)
    assert state.usable("altitude") == 1020.0  # SDI 1 went stale


def test_flight_information_flight_id_and_utc() -> None:
    state, stream, clock = _setup()
    words = [*encode_flight_information("IB3101", "LEBL", "LEMD"), *encode_flight_id("IBE3101"),
             encode("flight_number", 3101), encode("utc_time", "23:59:58"), encode("date", "2026-06-01")]
    _feed(state, stream, clock, words)
    _feed(state, stream, clock, encode_flight_information("IB3101", "LEBL", "LEMD")[:1])  # confirms the block
    info = state.flight_info()
    assert (info.flight_id, info.flight_number, info.origin, info.destination) == ("IBE3101", "IB3101", "LEBL", "LEMD")
    clock.advance(1.5)
    assert state.utc() == datetime(2026, 6, 1, 23, 59, 59, 500000, tzinfo=UTC)
    assert state.snapshot()["flight"]["origin"] == "LEBL"
    clock.advance(2.0)  # the block and the ids went stale; label 261 too
    info = state.flight_info()
    assert info.origin is None and info.flight_id is None and info.flight_number is None
    assert state.utc() is None


def test_flight_number_from_label_261_without_a_block() -> None:
    state, stream, clock = _setup()
    _feed(state, stream, clock, [encode("flight_number", 3101)])
    assert state.flight_info().flight_number == "3101"
    assert state.last_seen() == {"261": 0.0}


def test_phase_follows_altitude_and_ground_speed() -> None:
    state, stream, clock = _setup()
    assert state.phase == "unknown" and state.on_ground is None
    _feed(state, stream, clock, [encode("altitude", 12, sdi=1), encode("ground_speed", 0.0)])
    assert state.phase == "gate" and state.on_ground is True
    clock.advance(40)
    state.tick()
    assert state.phase == "unknown"


STATUS_NAMES = ("normal", "no_computed_data", "functional_test", "failure_warning")
BNR_NAMES = ("altitude", "mach_speed", "ground_speed", "heading", "pitch", "roll", "yaw", "wind_speed")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(BNR_NAMES), st.sampled_from(STATUS_NAMES), st.integers(0, 3),
                          st.floats(0, 0.3)), min_size=1, max_size=40))
def test_only_normal_fresh_values_are_ever_presented(events: list[tuple[str, str, int, float]]) -> None:
    state, stream, clock = _setup()
    for name, status, sdi, wait in events:
        _feed(state, stream, clock, [encode(name, 1.0, sdi=sdi, status=status)])
        clock.advance(wait)
        for parameter, shown in state.snapshot()["parameters"].items():
            reading = state.reading(parameter)
            assert reading is not None and shown["status"] == reading.status
            if shown["status"] != "normal":
                assert shown["value"] is None and state.usable(parameter) is None
            if reading.status in ("functional_test", "failure_warning"):
                assert reading.value is None
            if shown["value"] is not None:
                assert reading.age <= BY_NAME[parameter].stale_after_s
