"""The simulator's ground station signs every edition it publishes and serves the TUF repository at /tuf/,
with a knob per TUF attack: each one refused by the aircraft side with its reason, the last good metadata
kept, and the next honest edition accepted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import aiohttp
import pytest

from appliance.trust.refusal import Refusal
from firmware_sim.ground.station import GroundStation
from tests.trust.support import Aircraft, aircraft


@pytest.fixture
async def station_and_plane(tmp_path: Path) -> AsyncIterator[tuple[GroundStation, Aircraft]]:
    station = GroundStation(publish_sample=False)
    await station.start()
    try:
        result = await station.publish(date(2026, 3, 1))
        assert "error" not in result, result
        async with aircraft(tmp_path / "trust", station.tuf.pinned_root(), station.url + "/tuf", read_timeout=1.0,
                            min_rate=2048.0, rate_grace=0.5) as plane:
            outcome = await plane.refresh(time.time())
            assert outcome.ok, outcome
            yield station, plane
    finally:
        await station.stop()


async def _attack(station: GroundStation, plane: Aircraft, attack: str, reason: Refusal, *,
                  reference_offset: float = 0.0, publish_first: bool = False) -> None:
    if publish_first:  # the ground moves on (a new edition) and the aircraft takes it
        assert "error" not in await station.publish()
        assert (await plane.refresh(time.time())).ok
    before = plane.trusted.view()
    assert before is not None
    station.tuf.configure({"attack": attack})
    if attack == "mix_and_match":
        assert "error" not in await station.publish()
    outcome = await plane.refresh(time.time() + reference_offset)
    assert outcome.refusal is reason, (attack, outcome)
    assert outcome.versions == before.versions()
    station.tuf.configure({"attack": None})
    assert "error" not in await station.publish()
    after = await plane.refresh(time.time())
    assert after.ok, (attack, after)
    assert after.versions["targets"] > before.versions()["targets"]


@pytest.mark.parametrize(("attack", "reason", "offset", "publish_first"), [
    ("tampered_metadata", Refusal.SIGNATURE, 0.0, False),
    ("wrong_key", Refusal.SIGNATURE, 0.0, False),
    ("rollback", Refusal.ROLLBACK, 0.0, True),
    ("freeze", Refusal.EXPIRED, 3 * 86400.0, False),
    ("mix_and_match", Refusal.MIX_AND_MATCH, 0.0, False),
    ("endless_data", Refusal.ENDLESS_DATA, 0.0, False),
    ("slow_retrieval", Refusal.SLOW_RETRIEVAL, 0.0, False),
])
async def test_each_attack_knob(station_and_plane: tuple[GroundStation, Aircraft], attack: str, reason: Refusal,
                                offset: float, publish_first: bool) -> None:
    station, plane = station_and_plane
    await _attack(station, plane, attack, reason, reference_offset=offset, publish_first=publish_first)


async def test_tampered_target_and_the_control_route(station_and_plane: tuple[GroundStation, Aircraft],
                                                     tmp_path: Path) -> None:
    station, plane = station_and_plane
    assert plane.trusted.targetinfo("content/index.json") is not None
    dest = tmp_path / "index.json"
    assert await asyncio.to_thread(plane.trusted.download, "content/index.json", dest) is None
    good = dest.read_bytes()
    station.tuf.configure({"attack": "tampered_target"})
    assert await asyncio.to_thread(plane.trusted.download, "content/index.json", dest) is Refusal.LENGTH_OR_HASH
    assert dest.read_bytes() == good
    # the knob over HTTP: bad input is a 400 with a JSON reason
    app = aiohttp.web.Application()
    station.add_routes(app)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            async with session.put(f"http://127.0.0.1:{port}/ground/tuf", json={"attack": "nope"}) as r:
                assert r.status == 400 and "attack must be" in (await r.json())["error"]
            async with session.put(f"http://127.0.0.1:{port}/ground/tuf", json={"attack": None}) as r:
                assert r.status == 200 and (await r.json())["attack"] is None
    finally:
        await runner.cleanup()
    assert await asyncio.to_thread(plane.trusted.download, "content/index.json", dest) is None
