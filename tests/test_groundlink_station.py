"""The simulated ground station: idempotent services, fault injection, the link model, control routes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from firmware_sim.ground.station import GroundStation
from tests.conftest import python_module, subprocess_env


@pytest.fixture
async def station() -> AsyncIterator[GroundStation]:
    st = GroundStation(publish_sample=False)
    await st.start()
    yield st
    await st.stop()


@pytest.fixture
async def control(station: GroundStation) -> AsyncIterator[str]:
    app = web.Application()
    station.add_routes(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def post(session: aiohttp.ClientSession, url: str, body: object, key: str | None) -> tuple[int, dict]:
    headers = {"Idempotency-Key": key} if key is not None else {}
    async with session.post(url, json=body, headers=headers) as response:
        return response.status, await response.json()


async def test_same_key_same_body_answers_the_original_receipt(station: GroundStation, control: str) -> None:
    async with aiohttp.ClientSession() as s:
        first = await post(s, station.url + "/orders/booking", {"item": "A1", "seat": "12A"}, "key-1")
        again = await post(s, station.url + "/orders/booking", {"seat": "12A", "item": "A1"}, "key-1")
        other = await post(s, station.url + "/orders/booking", {"item": "A2"}, "key-2")
        async with s.get(control + "/ground/received") as r:
            received = await r.json()
    assert first[0] == 201 and again == first
    assert other[0] == 201 and other[1]["id"] != first[1]["id"]
    assert [e["key"] for e in received["kinds"]["booking"]] == ["key-1", "key-2"]
    assert received["replays"] == 1 and received["total"] == 2


async def test_same_key_other_body_is_refused(station: GroundStation) -> None:
    async with aiohttp.ClientSession() as s:
        assert (await post(s, station.url + "/orders/offer", {"item": "A"}, "k"))[0] == 201
        status, body = await post(s, station.url + "/orders/offer", {"item": "B"}, "k")
    assert status == 422 and "different request body" in body["error"]
    assert station.ledger.conflicts == 1 and len(station.ledger.accepted) == 1


async def test_bad_requests_get_4xx_json(station: GroundStation) -> None:
    async with aiohttp.ClientSession() as s:
        assert (await post(s, station.url + "/orders/booking", {"item": "A"}, None))[0] == 400
        assert (await post(s, station.url + "/orders/booking", ["list"], "k"))[0] == 400
        assert (await post(s, station.url + "/orders/pizza", {"item": "A"}, "k"))[0] == 404
        status, body = await post(s, station.url + "/orders/email", {"email": "not-an-address"}, "k")
        assert status == 422 and "error" in body
        async with s.post(station.url + "/orders/booking", data=b"{nope", headers={"Idempotency-Key": "x"}) as r:
            assert r.status == 400 and "error" in await r.json()
    assert station.ledger.accepted == {}


async def test_injected_errors_for_the_next_n_requests(station: GroundStation, control: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.post(control + "/ground/faults", json={"kind": "error", "status": 503, "count": 2}) as r:
            assert r.status == 201
        statuses = [(await post(s, station.url + "/orders/booking", {"item": "A"}, "k"))[0] for _ in range(3)]
        async with s.post(control + "/ground/faults", json={"kind": "boom"}) as r:
            assert r.status == 400 and "kind" in (await r.json())["error"]
    assert statuses == [503, 503, 201]
    assert station.faults.rules == []


async def test_a_ratio_of_errors(station: GroundStation) -> None:
    from firmware_sim.ground.faults import FaultRule

    station.faults.add(FaultRule("error", ratio=0.5))
    async with aiohttp.ClientSession() as s:
        statuses = [(await post(s, station.url + "/orders/booking", {"n": i}, f"k{i}"))[0] for i in range(60)]
    assert 10 < statuses.count(503) < 50 and statuses.count(201) == 60 - statuses.count(503)


async def test_dropped_connections_before_and_after_processing(station: GroundStation) -> None:
    from firmware_sim.ground.faults import FaultRule

    station.faults.add(FaultRule("drop", count=1))
    station.faults.add(FaultRule("drop_after", count=1, path="/orders/email"))
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientError):
            await post(s, station.url + "/orders/booking", {"item": "A"}, "b1")
        assert station.ledger.accepted == {}
        with pytest.raises(aiohttp.ClientError):
            await post(s, station.url + "/orders/email", {"email": "a@b.example"}, "e1")
        assert list(station.ledger.by_kind) == ["email"]  # accepted, but the answer was lost
        status, receipt = await post(s, station.url + "/orders/email", {"email": "a@b.example"}, "e1")
    assert status == 201 and receipt["idempotency_key"] == "e1" and station.ledger.replays == 1
    assert station.dropped == 2


async def test_a_retry_during_slow_processing_is_told_to_wait(station: GroundStation) -> None:
    from firmware_sim.ground.faults import FaultRule

    station.faults.add(FaultRule("slow", count=1, seconds=0.5))
    async with aiohttp.ClientSession() as s:
        slow = asyncio.create_task(post(s, station.url + "/orders/booking", {"item": "A"}, "k"))
        await asyncio.sleep(0.2)
        assert (await post(s, station.url + "/orders/booking", {"item": "A"}, "k"))[0] == 409
        assert (await slow)[0] == 201
        assert (await post(s, station.url + "/orders/booking", {"item": "A"}, "k"))[0] == 201
    assert len(station.ledger.accepted) == 1


async def test_the_link_limits_bandwidth_and_adds_latency(station: GroundStation, control: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.put(control + "/ground/link", json={"bandwidth_bps": 200_000, "rtt_ms": 100}) as r:
            assert r.status == 200
        started = time.monotonic()
        url = station.url + "/orders/booking"
        await asyncio.gather(*(post(s, url, {"pad": "x" * 2000}, f"k{i}") for i in range(5)))
        elapsed = time.monotonic() - started
        async with s.put(control + "/ground/link", json={"rtt_ms": -1}) as r:
            assert r.status == 400
    # 5 x ~2.2 kB up at 200 kbit/s is ~0.45 s of serialisation, plus one round trip: concurrent requests queue
    assert 0.5 < elapsed < 2.0
    assert station.link.bytes_received > 5 * 2000


async def test_a_cut_drops_everything_until_restored(station: GroundStation, control: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.put(control + "/ground/link", json={"cut_in": [0.05, 0.1]}) as r:
            assert r.status == 200
        await asyncio.sleep(0.3)
        with pytest.raises(aiohttp.ClientError):
            async with s.get(station.url + "/health") as r:
                await r.read()
        async with s.put(control + "/ground/link", json={"cut": False}) as r:
            assert (await r.json())["cuts"] == 1
        async with s.get(station.url + "/health") as r:
            assert r.status == 200


async def test_health_and_time(station: GroundStation, control: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(station.url + "/time") as r:
            assert abs((await r.json())["epoch"] - time.time()) < 2 and "Date" in r.headers
        async with s.put(control + "/ground/station", json={"up": False, "time_offset": 3600}) as r:
            assert r.status == 200
        async with s.get(station.url + "/health") as r:
            assert r.status == 503
        async with s.get(station.url + "/time") as r:
            assert abs((await r.json())["epoch"] - time.time() - 3600) < 2
        async with s.put(control + "/ground/station", json={"up": "maybe"}) as r:
            assert r.status == 400


def test_the_simulator_prints_the_ground_url() -> None:
    process = subprocess.Popen(
        python_module("firmware_sim", "--control", "127.0.0.1:0"), stdout=subprocess.PIPE, env=subprocess_env()
    )
    try:
        assert process.stdout is not None
        endpoints = json.loads(process.stdout.readline())
        assert endpoints["groundlink.url"].startswith("http://127.0.0.1:")
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_a_newspaper_edition_is_packed_and_served_as_static_files(station: GroundStation, control: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.post(control + "/ground/content/publish", json={"day": "2026-11-23"}) as r:
            assert r.status == 201 and (await r.json())["bundle_id"] == "content-2026-11-23"
        async with s.post(control + "/ground/content/publish", json={"day": "../x"}) as r:
            assert r.status == 400
        async with s.get(station.url + "/content/index.json") as r:
            index = await r.json()
        assert index["current"] == "content-2026-11-23"
        manifest_url = station.url + "/content/" + index["bundles"][0]["manifest"]
        async with s.get(manifest_url, headers={"Range": "bytes=0-9"}) as r:
            assert r.status == 206 and len(await r.read()) == 10


async def test_the_next_edition_is_published_while_an_aircraft_descends(station: GroundStation) -> None:
    station._on_world_event("phase", {"phase": "cruise"})
    station._on_world_event("phase", {"phase": "descent"})
    for _ in range(300):
        if station.edition_desk.editions:
            break
        await asyncio.sleep(0.05)
    assert len(station.edition_desk.editions) == 1
    assert not station.edition_desk.pack_errors


async def test_faults_apply_to_content_too(station: GroundStation, control: str) -> None:
    (station.bundles_dir / "index.json").write_text('{"format": 1, "bundles": []}')
    async with aiohttp.ClientSession() as s:
        async with s.post(control + "/ground/faults", json={"kind": "error", "count": 1, "path": "/content/"}) as r:
            assert r.status == 201
        async with s.get(station.url + "/content/index.json") as r:
            assert r.status == 503
        async with s.get(station.url + "/content/index.json") as r:
            assert r.status == 200 and (await r.json())["format"] == 1
