"""Each TUF attack of the simulator's station through the daemon's real ground link: the storage, trust,
content and ground link components built from their specs, syncing from the station in full cycles.

For each knob: the edition published under attack is not installed, the previous bundle is still the active
one, the refusal is counted in `appliance_trust_refusals_total{reason}`, the trust health warns with the
reason, one log line for the episode however many windows it lasts, the reason reaches the ground in the
telemetry summary, and once the knob is off the station's next honest publish is accepted."""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path

import pytest

from appliance.component import Status
from tests.trust.daemon_support import Plane, plane_and_station

FIRST, UNDER_ATTACK, SECOND = "content-2026-03-01", "content-2026-03-02", "content-2026-03-03"
LEG = {"flight_number": "IB3101", "origin": "LEBL", "destination": "LEMD",
       "departure": "2026-11-23T08:00:00+00:00", "arrival": "2026-11-23T09:10:00+00:00"}


async def _publish(plane: Plane, day: date) -> None:
    result = await plane.station.publish(day)
    assert "error" not in result, result


async def _first_edition(plane: Plane) -> None:
    await _publish(plane, date(2026, 3, 1))
    await plane.sync(lambda: plane.active() == FIRST, "the first edition installed through TUF")
    assert plane.trust_health().status is Status.PASS, plane.trust_health()


def _refusing(plane: Plane, reason: str) -> bool:
    return any((t.get("trust") or {}).get("refusing") == reason for t in plane.telemetry())


@pytest.mark.parametrize(("attack", "reason"), [
    ("tampered_target", "length_or_hash"),
    ("tampered_metadata", "signature"),
    ("wrong_key", "signature"),
    ("rollback", "rollback"),
    ("freeze", "expired"),
    ("mix_and_match", "mix_and_match"),
    ("endless_data", "endless_data"),
    ("slow_retrieval", "slow_retrieval"),
])
async def test_each_attack_through_the_ground_link(tmp_path: Path, caplog: pytest.LogCaptureFixture, attack: str,
                                                  reason: str) -> None:
    async with plane_and_station(tmp_path) as plane:
        station = plane.station
        await _first_edition(plane)
        first_root = plane.content.store.active_root()
        if attack == "rollback":  # the aircraft has seen newer metadata than the oldest the station served
            await station.tuf.publish([], now=station.ground_now())
            await plane.sync(lambda: plane.trust.telemetry()["versions"].get("timestamp", 0) >= 3, "timestamp v3")
        station.tuf.configure({"attack": attack})
        if attack == "freeze":
            station.time_offset = 3 * 86400.0  # the ground's clock (the aircraft's network anchor) moves on
        await _publish(plane, date(2026, 3, 2))  # a new edition the attacker keeps from (or forges for) it
        caplog.clear()
        await plane.sync(lambda: plane.refusals(reason) >= 1 and _refusing(plane, reason),
                         f"{attack}: refused ({reason}) and reported to the ground")
        await plane.cycle()  # the same attack in the next window: counted again, not logged again
        health = plane.trust_health()
        assert health.status is Status.WARN and health.details["reason"] == reason, health
        assert plane.active() == FIRST and plane.content.store.active_root() == first_root
        assert first_root is not None and (first_root / "manifest.json").is_file()  # still served
        assert plane.link.snapshot()["last_content"].get("status") in (None, "up_to_date", "activated", "refused")
        episode = [r for r in caplog.records if "refused what the ground served" in r.getMessage()]
        assert len(episode) == 1, [r.getMessage() for r in episode]
        assert plane.refusals(reason) >= 2

        station.tuf.configure({"attack": None})  # the honest ground: the next publish is taken
        await _publish(plane, date(2026, 3, 3))
        await plane.sync(lambda: plane.active() == SECOND, "the next honest edition")
        assert plane.trust_health().status is Status.PASS, plane.trust_health()
        await plane.sync(lambda: (plane.telemetry()[-1].get("trust") or {}).get("refusing") is None,
                         "telemetry without a refusal")
        assert plane.telemetry()[-1]["trust"]["refusals"][reason] >= 2  # the episode's count, for the fleet desk


async def test_the_schedule_is_taken_only_as_signed(tmp_path: Path) -> None:
    async with plane_and_station(tmp_path) as plane:
        station = plane.station
        await _first_edition(plane)
        # the station's schedule override is not signed: refused, nothing kept
        station.schedule_override = {"legs": [LEG]}
        await plane.sync(lambda: plane.refusals("unknown_target") >= 1, "an unsigned schedule refused")
        assert plane.link.schedule.legs == []
        station.schedule_override = None
        signed = station.bundles_dir / "schedule.json"
        signed.write_text(json.dumps({"legs": [LEG]}))
        await station.tuf.publish([signed], now=station.ground_now())
        await plane.sync(lambda: len(plane.link.schedule.legs) == 1, "the signed schedule kept")
        station.tuf.configure({"attack": "tampered_target"})  # the station now serves {"legs": []}
        before = plane.refusals("length_or_hash")
        await plane.sync(lambda: plane.refusals("length_or_hash") > before, "a tampered schedule refused")
        assert len(plane.link.schedule.legs) == 1 and plane.link.schedule.legs[0].flight_number == "IB3101"


async def test_without_a_pinned_root_nothing_from_the_ground_is_taken(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, "appliance.trust")
    async with plane_and_station(tmp_path, root=tmp_path / "missing-root.json") as plane:
        registry = plane.rig.metrics.registry
        for reason in ("signature", "rollback", "expired", "endless_data", "slow_retrieval", "unknown_target"):
            assert registry.get_sample_value("appliance_trust_refusals_total", {"reason": reason}) == 0.0
        await _publish(plane, date(2026, 3, 1))
        await plane.cycle()
        await plane.cycle()
        assert plane.active() is None
        health = plane.trust_health()
        assert health.status is Status.FAIL and "no pinned root" in health.reason
        assert "trust: no pinned root" in plane.link.snapshot()["last_error"]
        assert plane.telemetry() and "no pinned root" in plane.telemetry()[-1]["trust"]["problem"]
        assert sum("no pinned root" in r.getMessage() for r in caplog.records) == 1
