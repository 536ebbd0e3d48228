"""Roaming: only the outbox runs, within the operator's daily byte budget, persisted across restarts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from appliance.groundlink.budget import RoamingLedger, RoamingMeter
from appliance.groundlink.client import BudgetExhausted
from appliance.groundlink.link import GroundLink
from appliance.metrics import Metrics
from appliance.timebase import ManualClock, SystemClock
from tests.groundlink_support import MemoryOutbox, config, received_keys, running_station
from tests.test_groundlink_window import Anchor, Flight, Modem, until


async def test_roaming_runs_only_the_outbox_and_counts_its_bytes(tmp_path: Path) -> None:
    outbox = MemoryOutbox()
    ids = [(await outbox.append("booking", {"item": f"A{n}"})).id for n in range(5)]
    anchor = Anchor()
    content_runs: list[int] = []

    class Content:
        async def update(self, base_url: str, budget: object = None, verifier: object = None) -> dict[str, object]:
            content_runs.append(1)
            return {"status": "up_to_date"}

    content = Content()

    async with running_station() as station:
        settings = config(station.url, poll_seconds=0.02, roaming_budgets={"20801": 1_000_000})
        link = GroundLink(
            settings, SystemClock(), Metrics(), state_dir=tmp_path, flight=Flight(True),
            modem=Modem(True, roaming=True, operator="20801"), outbox=outbox, time_anchor=anchor,
            content=content,
        )
        await link.start()
        try:
            await until(lambda: not outbox.counts())
            await asyncio.sleep(0.1)
            assert link.reason == "open, roaming on 20801"
        finally:
            await link.stop()
        assert received_keys(station, "booking") == ids
        assert "telemetry" not in station.ledger.by_kind  # priority 2 does not run when roaming
        assert content_runs == [] and anchor.calls == []  # nor content, nor the clock check
        wire_bytes = station.link.bytes_received + station.link.bytes_sent
    spent = json.loads((tmp_path / "groundlink-roaming.json").read_text())["spent"]["20801"]
    # what we counted covers what crossed the wire (the station's own count of HTTP bytes), give or take framing
    assert 0.8 * wire_bytes < spent < 1.3 * wire_bytes


async def test_the_byte_budget_is_respected_and_survives_a_restart(tmp_path: Path) -> None:
    outbox = MemoryOutbox()
    for n in range(40):
        await outbox.append("email", {"email": f"p{n}@example.com", "body": "x" * 300})
    budget = 12_000

    async def window() -> str:
        settings = config(station.url, poll_seconds=0.02, roaming_budgets={"23415": budget})
        link = GroundLink(
            settings, SystemClock(), Metrics(), state_dir=tmp_path, flight=Flight(True),
            modem=Modem(True, roaming=True, operator="23415"), outbox=outbox,
        )
        await link.start()
        await asyncio.sleep(0.5)
        reason = link.reason
        await link.stop()
        return reason

    async with running_station() as station:
        reason = await window()
        delivered = len(station.ledger.by_kind.get("email", []))
        assert 0 < delivered < 40 and outbox.counts() == {"email": 40 - delivered}
        assert station.link.bytes_received + station.link.bytes_sent <= budget
        assert "bytes left today" in reason
        await window()  # a restart the same day: the persisted spending still counts
        assert len(station.ledger.by_kind.get("email", [])) == delivered
        assert station.link.bytes_received + station.link.bytes_sent <= budget


def test_budgets_are_per_operator_and_per_day(tmp_path: Path) -> None:
    clock = ManualClock(wall=1_767_225_600.0)  # 2026-01-01T00:00:00Z
    ledger = RoamingLedger(tmp_path / "roaming.json", clock)
    france, spain = RoamingMeter(ledger, "20801", 5000), RoamingMeter(ledger, "21407", 5000)
    france.reserve(4000)
    france.settle(4000, 3000)
    assert france.remaining() == 2000 and spain.remaining() == 5000
    try:
        france.reserve(2500)
        raise AssertionError("reserved past the budget")
    except BudgetExhausted as refused:
        assert "20801" in str(refused)
    reloaded = RoamingLedger(tmp_path / "roaming.json", clock)  # the reservation was persisted
    assert RoamingMeter(reloaded, "20801", 5000).remaining() == 1000
    clock.advance(86_400)
    assert RoamingMeter(reloaded, "20801", 5000).remaining() == 5000


def test_a_damaged_ledger_does_not_give_a_fresh_budget(tmp_path: Path) -> None:
    (tmp_path / "roaming.json").write_text("{not json")
    ledger = RoamingLedger(tmp_path / "roaming.json", ManualClock())
    assert RoamingMeter(ledger, "20801", 5000).remaining() == 0


def test_bad_groundlink_config_names_the_key(tmp_path: Path) -> None:
    import pytest

    from appliance.appconfig import load_config
    from appliance.config import ConfigError

    base = '[avionics]\nport = "a"\n[modem]\nport = "m"\n[groundlink]\nurl = "http://ground"\n'
    for extra, key in (
        ("roaming_budgets = { 2620 = 5 }\n", "groundlink.roaming_budgets.2620"),
        ('roaming_budgets = { "26202" = -1 }\n', "groundlink.roaming_budgets.26202"),
        ("in_flight_per_kind = 0\n", "groundlink.in_flight_per_kind"),
        ('orders_path = "/orders"\n', "groundlink.orders_path"),
    ):
        path = tmp_path / "appliance.toml"
        path.write_text(base + extra)
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert caught.value.key == key and str(path) in str(caught.value)
    path.write_text(base + 'roaming_budgets = { "26202" = 5000 }\n')
    config = load_config(path).groundlink
    assert config.roaming_budget("26202") == 5000 and config.roaming_budget("20801") == 1_000_000


async def test_crossing_into_roaming_mid_drain_switches_to_the_budget(tmp_path: Path) -> None:
    outbox = MemoryOutbox()
    ids = [(await outbox.append("booking", {"n": n, "pad": "x" * 200})).id for n in range(60)]
    modem = Modem(True, roaming=False, operator="21407")
    async with running_station() as station:
        station.link.rtt_s = 0.02
        settings = config(station.url, poll_seconds=0.02, roaming_budgets={"26202": 8000})
        link = GroundLink(settings, SystemClock(), Metrics(), state_dir=tmp_path, flight=Flight(True), modem=modem,
                          outbox=outbox)
        await link.start()
        try:
            await until(lambda: len(outbox.delivered) >= 5)
            modem.roaming, modem.operator = True, "26202"
            await until(lambda: link.reason.startswith("open, roaming on 26202"))
            at_switch = len(station.ledger.by_kind["booking"])
            await asyncio.sleep(0.6)
            roaming_sent = len(station.ledger.by_kind["booking"]) - at_switch
            assert 0 < roaming_sent < 60 - at_switch  # some within the budget, not the rest
            assert link.roaming.spent_today("26202") <= 8000
            modem.roaming, modem.operator = False, "21407"
            await until(lambda: not outbox.counts(), 10)
        finally:
            await link.stop()
        assert received_keys(station, "booking") == ids
