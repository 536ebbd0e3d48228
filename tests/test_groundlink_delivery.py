"""Outbox delivery against the simulated ground station: idempotency keys, backoff, dead letters, order per
kind, nothing lost when the window closes mid-drain."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

from appliance.groundlink.delivery import Delivery, backoff_delay
from appliance.groundlink.metrics import GroundlinkMetrics
from appliance.metrics import Metrics
from firmware_sim.ground.faults import FaultRule
from tests.groundlink_support import MemoryOutbox, config, ground_client, received_keys, running_station


async def fill(outbox: MemoryOutbox, per_kind: int) -> dict[str, list[str]]:
    ids: dict[str, list[str]] = {"booking": [], "offer": [], "email": []}
    for n in range(per_kind):
        for kind, kind_ids in ids.items():
            item = await outbox.append(kind, {"item": f"{kind}-{n}", "email": f"p{n}@example.com"})
            kind_ids.append(item.id)
    return ids


async def test_everything_delivered_once_in_order_per_kind() -> None:
    outbox = MemoryOutbox()
    ids = await fill(outbox, 20)
    async with running_station() as station, ground_client(station.url) as client:
        report = await Delivery(outbox, client, config(station.url), Metrics()).drain()
        for kind, keys in ids.items():
            assert received_keys(station, kind) == keys  # the item id is the key; sequence order kept
    assert report.delivered == 60 and report.complete
    assert outbox.counts() == {} and len(outbox.delivered) == 60
    receipt = outbox.delivered[ids["email"][0]]
    assert receipt["status"] == 201 and receipt["answer"]["idempotency_key"] == ids["email"][0]


async def test_503s_are_retried_with_backoff_and_the_same_key() -> None:
    outbox = MemoryOutbox()
    ids = await fill(outbox, 5)
    async with running_station() as station, ground_client(station.url) as client:
        station.faults.add(FaultRule("error", count=4, status=503, path="/orders/booking"))
        station.faults.add(FaultRule("drop", count=2, path="/orders/offer"))
        station.faults.add(FaultRule("drop_after", count=2, path="/orders/email"))
        report = await Delivery(outbox, client, config(station.url), Metrics()).drain()
        assert report.delivered == 15
        for kind, keys in ids.items():
            assert received_keys(station, kind) == keys
        assert station.ledger.replays == 2  # the two answers lost after acceptance were replayed, not re-accepted
    errors = [error for _, error in outbox.attempts]
    assert sum("HTTP 503" in e for e in errors) == 4 and len(errors) == 8
    retried = {item_id for item_id, _ in outbox.attempts}
    assert ids["booking"][0] in retried and ids["offer"][0] in retried and ids["email"][0] in retried


async def test_timeouts_are_retried_and_a_slow_duplicate_is_not_accepted_twice() -> None:
    outbox = MemoryOutbox()
    item = await outbox.append("booking", {"item": "A"})
    async with running_station() as station, ground_client(station.url) as client:
        station.faults.add(FaultRule("slow", count=1, seconds=0.6))
        report = await Delivery(outbox, client, config(station.url, request_timeout=0.2, backoff_initial=0.3,
                                                       backoff_max=0.5, retries_per_cycle=20), Metrics()).drain()
        assert report.delivered == 1 and received_keys(station, "booking") == [item.id]
        assert len(station.ledger.accepted) == 1
    assert any("Timeout" in error for _, error in outbox.attempts)


def test_backoff_is_exponential_with_full_jitter() -> None:
    rng = random.Random(1)
    samples = {n: [backoff_delay(n, 0.5, 60.0, rng) for _ in range(2000)] for n in (1, 3, 10)}
    assert max(samples[1]) <= 0.5 and max(samples[3]) <= 2.0 and max(samples[10]) <= 60.0
    assert 0.2 < sum(samples[3]) / 2000 < 1.8  # spread over [0, 2], not fixed
    assert max(samples[10]) > 40.0


async def test_a_4xx_is_dead_lettered_with_its_reason_and_the_kind_goes_on() -> None:
    outbox = MemoryOutbox()
    good1 = await outbox.append("email", {"email": "a@example.com"})
    bad = await outbox.append("email", {"email": "not an address"})
    good2 = await outbox.append("email", {"email": "b@example.com"})
    metrics = Metrics()
    async with running_station() as station, ground_client(station.url) as client:
        report = await Delivery(outbox, client, config(station.url), metrics).drain()
        assert received_keys(station, "email") == [good1.id, good2.id]
    assert report.dead == 1 and report.delivered == 2
    assert outbox.dead_letters() == [
        {"id": bad.id, "kind": "email", "reason": "HTTP 422: the e-mail service refuses this address"}
    ]
    assert metrics.of(GroundlinkMetrics).groundlink_dead_letters.labels(kind="email")._value.get() == 1


async def test_a_kind_that_keeps_failing_gives_up_for_this_cycle_without_blocking_the_others() -> None:
    outbox = MemoryOutbox()
    ids = await fill(outbox, 3)
    async with running_station() as station, ground_client(station.url) as client:
        station.faults.add(FaultRule("error", status=500, path="/orders/offer"))
        report = await Delivery(outbox, client, config(station.url, retries_per_cycle=3), Metrics()).drain()
        assert received_keys(station, "booking") == ids["booking"] and received_keys(station, "offer") == []
    assert report.gave_up == {"offer": "HTTP 500: injected fault: HTTP 500"}
    assert [i.id for i in outbox.pending("offer")] == ids["offer"]  # still pending, nothing skipped
    assert outbox.pending("offer")[0].attempts == 3


async def test_nothing_is_lost_or_doubled_when_the_window_closes_mid_drain() -> None:
    outbox = MemoryOutbox()
    ids = await fill(outbox, 40)
    rng = random.Random(7)
    async with running_station() as station:
        station.link.rtt_s = 0.004
        station.faults.add(FaultRule("drop_after", ratio=0.1))
        cuts = 0
        while outbox.counts():
            async with ground_client(station.url) as client:  # a new session each window, like a reboot
                drain = asyncio.create_task(Delivery(outbox, client, config(station.url), Metrics()).drain())
                await asyncio.sleep(rng.uniform(0.0, 0.05))
                if not drain.done():
                    cuts += 1
                drain.cancel()
                await asyncio.gather(drain, return_exceptions=True)
        for kind, keys in ids.items():
            assert received_keys(station, kind) == keys
        assert len(station.ledger.accepted) == 120 and station.ledger.conflicts == 0
    assert cuts >= 5


async def test_pipelining_within_a_kind_beats_the_round_trip_when_allowed() -> None:
    async def run(in_flight: int) -> float:
        outbox = MemoryOutbox()
        for n in range(30):
            await outbox.append("booking", {"n": n})
        async with running_station() as station, ground_client(station.url) as client:
            station.link.rtt_s = 0.02
            started = time.monotonic()
            delivery = Delivery(outbox, client, config(station.url, in_flight_per_kind=in_flight), Metrics())
            report = await delivery.drain()
            assert report.delivered == 30 and len(station.ledger.accepted) == 30
            return time.monotonic() - started

    strict, pipelined = await run(1), await run(8)
    assert strict > 0.6 and pipelined < strict / 3


async def test_the_key_survives_a_restart_of_the_real_outbox(tmp_path: Path) -> None:
    """The storage component's journaled outbox: an order whose answer was lost before a restart is sent again
    after it with the same key, and the station replays instead of accepting it twice."""
    from appliance.storage.component import StorageComponent
    from appliance.storage.config import StorageConfig
    from appliance.timebase import SystemClock

    async def storage() -> StorageComponent:
        component = StorageComponent(StorageConfig(dir=str(tmp_path)), SystemClock(), Metrics())
        await component.start()
        return component

    first = await storage()
    ids = [(await first.outbox.append("booking", {"n": n})).id for n in range(6)]
    async with running_station() as station:
        station.faults.add(FaultRule("drop_after", path="/orders/"))  # accepted, but no answer gets back
        async with ground_client(station.url) as client:
            settings = config(station.url, retries_per_cycle=1)
            report = await Delivery(first.outbox, client, settings, Metrics()).drain()
        assert report.gave_up and received_keys(station, "booking") == ids[:1]
        await first.stop()  # the reboot

        station.faults.clear()
        second = await storage()
        assert [i.id for i in second.outbox.pending("booking")] == ids
        assert second.outbox.pending("booking")[0].attempts == 1
        async with ground_client(station.url) as client:
            report = await Delivery(second.outbox, client, config(station.url), Metrics()).drain()
        await second.stop()
        assert report.delivered == 6 and received_keys(station, "booking") == ids
        assert station.ledger.replays == 1  # the first order came again with its key: replayed, not doubled
