"""The ground window: opens only on the ground with a registered modem and a healthy station; priorities;
closing mid-drain loses nothing; "sync now"."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

from appliance.content.component import ContentComponent
from appliance.content.config import ContentConfig
from appliance.groundlink.link import GroundLink
from appliance.metrics import Metrics
from appliance.ports import FlightInfo, Reading
from appliance.timebase import SystemClock
from firmware_sim.ground.faults import FaultRule
from firmware_sim.ground.station import GroundStation
from tests.groundlink_support import MemoryOutbox, config, received_keys, running_station


class Flight:
    """A FlightView whose on_ground a test sets."""

    def __init__(self, on_ground: bool | None) -> None:
        self.on_ground = on_ground
        self.phase = "gate" if on_ground else "cruise"

    def reading(self, name: str) -> Reading | None:
        return None

    def usable(self, name: str) -> float | str | None:
        return None

    def flight_info(self) -> FlightInfo:
        return FlightInfo()

    def utc(self) -> None:
        return None

    def snapshot(self) -> dict[str, Any]:
        return {"on_ground": self.on_ground}


class Modem:
    """A ModemView whose registration a test sets (the modem component itself is tested on its own)."""

    def __init__(self, registered: bool, roaming: bool = False, operator: str | None = "26201") -> None:
        self.registered = registered
        self.roaming = roaming
        self.operator = operator
        self.state = 8 if registered else 7

    def snapshot(self) -> dict[str, Any]:
        return {"state": self.state}


class Anchor:
    def __init__(self) -> None:
        self.calls: list[tuple[float, str]] = []

    def anchor(self, wall: float, quality: str) -> None:
        self.calls.append((wall, quality))


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


@asynccontextmanager
async def link_on(station: GroundStation, tmp_path: Path, **kwargs: Any) -> AsyncIterator[GroundLink]:
    settings = {"poll_seconds": 0.02, "health_seconds": 0.2} | kwargs.pop("settings", {})
    link = GroundLink(config(station.url, **settings), SystemClock(), Metrics(), state_dir=tmp_path, **kwargs)
    await link.start()
    try:
        yield link
    finally:
        await link.stop()


def on_ground(station: GroundStation, tmp_path: Path) -> Any:
    return link_on(station, tmp_path, flight=Flight(True), modem=Modem(True), outbox=MemoryOutbox())


async def test_closed_in_the_air_and_nothing_is_sent(tmp_path: Path) -> None:
    outbox = MemoryOutbox()
    await outbox.append("booking", {"item": "A"})
    async with running_station() as station:
        async with link_on(station, tmp_path, flight=Flight(False), modem=Modem(True), outbox=outbox) as link:
            await asyncio.sleep(0.2)
            assert not link.open and link.reason == "in the air"
            assert link.health().status == "pass" and link.health().reason == "window closed: in the air"
        async with link_on(station, tmp_path, flight=Flight(None), modem=Modem(True), outbox=outbox) as link:
            await asyncio.sleep(0.1)
            assert link.reason == "on ground unknown"
        async with link_on(station, tmp_path, flight=Flight(True), modem=Modem(False), outbox=outbox) as link:
            await asyncio.sleep(0.1)
            assert link.reason.startswith("modem not registered")
        async with link_on(station, tmp_path, flight=Flight(True), outbox=outbox) as link:
            await asyncio.sleep(0.1)
            assert link.reason == "no modem"
        assert station.requests == 0
    assert outbox.counts() == {"booking": 1}


async def test_opens_on_the_ground_and_works_in_priority_order(tmp_path: Path) -> None:
    outbox = MemoryOutbox()
    item = await outbox.append("booking", {"item": "A"})
    anchor = Anchor()
    order: list[str] = []

    class Content:
        """The real content component, noting what the station had accepted when the content turn came."""

        def __init__(self) -> None:
            self.inner = ContentComponent(ContentConfig(dir=str(tmp_path / "content")), Metrics(), None)

        async def update(self, base_url: str, budget: Callable[[int], bool] | None = None,
                         verifier: object = None) -> dict[str, Any]:
            order.append(f"content after {station.ledger.report(False)['counts']}")
            return await self.inner.update(base_url, budget)

    content = Content()
    async with running_station() as station:
        assert "error" not in await station.publish(date(2026, 11, 23))  # the real packer, as a subprocess
        station.up = False
        flight, modem = Flight(True), Modem(True)
        async with link_on(
            station, tmp_path, flight=flight, modem=modem, outbox=outbox, time_anchor=anchor, content=content
        ) as link:
            await asyncio.sleep(0.1)
            assert not link.open and "unhealthy" in link.reason
            station.up = True
            await until(lambda: link.content_runs == 1)
            assert link.open and link.windows == 1
            assert received_keys(station, "booking") == [item.id]
            assert order == ["content after {'booking': 1, 'telemetry': 1}"]  # outbox, telemetry, then content
            assert link.last_content["status"] == "activated"
            root = content.inner.store.active_root()
            assert root is not None and (root / "readings" / "daily-2026-11-23.pdf").is_file()
            assert anchor.calls and anchor.calls[0][1] == "network"
            telemetry = station.ledger.report()["kinds"]["telemetry"][0]["payload"]
            assert telemetry["groundlink"]["window"] == "open" and telemetry["outbox"]["pending"] == {}
            assert link.health().reason == "window open"  # was "window open: open"
            snapshot = link.health().details
            assert snapshot["backlog"] == {} and snapshot["last_success"] is not None
            flight.on_ground = False
            await until(lambda: not link.open)
            assert link.reason == "in the air"


async def test_without_a_modem_when_configured_so(tmp_path: Path) -> None:
    outbox = MemoryOutbox()
    await outbox.append("email", {"email": "a@example.com"})
    settings = {"modem_required": False, "flight_required": False}
    async with running_station() as station, link_on(station, tmp_path, outbox=outbox, settings=settings) as link:
        await until(lambda: outbox.counts() == {})
        assert link.open


async def test_closing_mid_drain_loses_nothing_and_the_next_window_finishes(tmp_path: Path) -> None:
    outbox = MemoryOutbox()
    ids = [(await outbox.append("booking", {"n": n})).id for n in range(60)]
    async with running_station() as station:
        station.link.rtt_s = 0.01
        flight, modem = Flight(True), Modem(True)
        async with link_on(station, tmp_path, flight=flight, modem=modem, outbox=outbox) as link:
            for round_ in range(1, 4):
                target = 5 * round_
                await until(lambda: link.open and len(outbox.delivered) >= target)  # noqa: B023
                modem.registered = False  # the window closes in the middle of the drain
                await until(lambda: not link.open)
                left = outbox.counts().get("booking", 0)
                await asyncio.sleep(0.05)
                assert outbox.counts().get("booking", 0) == left  # nothing moves while closed
                modem.registered = True
            await until(lambda: not outbox.counts(), 10.0)
            assert link.windows >= 3
        assert received_keys(station, "booking") == ids
        assert len(station.ledger.by_kind["booking"]) == 60


async def test_sync_now_runs_a_full_cycle_again(tmp_path: Path) -> None:
    async with running_station() as station, on_ground(station, tmp_path) as link:
        await until(lambda: link.telemetry_sent == 1)
        await asyncio.sleep(0.1)
        assert link.telemetry_sent == 1  # once per window, not per poll
        answer = link.request_sync()
        assert answer == {"requested": True, "window": "open", "reason": "open"}
        await until(lambda: link.telemetry_sent == 2)


async def test_a_station_that_stops_answering_closes_the_window(tmp_path: Path) -> None:
    async with running_station() as station, on_ground(station, tmp_path) as link:
        await until(lambda: link.open)
        station.link.set_cut()
        await until(lambda: not link.open)
        assert link.reason.startswith("ground station unreachable")
        station.link.restore()
        await until(lambda: link.open)
        assert link.windows == 2


async def test_a_long_stay_on_the_ground_repeats_the_full_cycle(tmp_path: Path) -> None:
    async with running_station() as station, link_on(
        station, tmp_path, flight=Flight(True), modem=Modem(True), outbox=MemoryOutbox(),
        settings={"full_cycle_seconds": 0.2},
    ) as link:
        await until(lambda: link.telemetry_sent >= 3)
        assert link.windows == 1


async def test_a_failing_step_does_not_hold_up_the_next(tmp_path: Path) -> None:
    """No clock on the station and a broken telemetry endpoint: the orders still go."""
    outbox = MemoryOutbox()
    item = await outbox.append("offer", {"item": "A"})
    async with running_station() as station:
        station.faults.add(FaultRule("drop", path="/time"))
        station.faults.add(FaultRule("drop", path="/telemetry"))
        async with link_on(station, tmp_path, flight=Flight(True), modem=Modem(True), outbox=outbox) as link:
            await until(lambda: not outbox.counts() and link.cycles >= 1 and link.errors >= 2)
            assert received_keys(station, "offer") == [item.id]
            assert link.health().status == "pass"  # nothing the passengers asked for is held up


async def test_telemetry_carries_the_warnings_logged_since_the_last_summary(tmp_path: Path) -> None:
    import logging

    async with running_station() as station, on_ground(station, tmp_path) as link:
        await until(lambda: link.telemetry_sent == 1)
        logging.getLogger("appliance.somewhere").warning("disk %s is getting full", "sda")
        link.request_sync()
        await until(lambda: link.telemetry_sent == 2)
        link.request_sync()
        await until(lambda: link.telemetry_sent == 3)
        summaries = [e["payload"] for e in station.ledger.report()["kinds"]["telemetry"]]
    assert [line["message"] for line in summaries[1]["logs"]] == ["disk sda is getting full"]
    assert summaries[1]["logs"][0]["level"] == "WARNING" and summaries[2]["logs"] == []
