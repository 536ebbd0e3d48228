"""Clock sanity across simulated reboots: RTC at 1970, at 2038, back by a year; anchors from avionics and network."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from appliance.component import Status
from appliance.storage.component import StorageComponent
from appliance.storage.config import StorageConfig
from appliance.timebase import ManualClock

JUNE_2026 = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
EPOCH_1970 = 0.0
Y2038 = datetime(2038, 1, 19, tzinfo=UTC).timestamp()


class FakeFlight:
    """Only what the time keeper reads from a FlightView: the avionics UTC."""

    def __init__(self) -> None:
        self.now: datetime | None = None

    def utc(self) -> datetime | None:
        return self.now


def floor_on_disk(path: Path) -> float:
    return float(json.loads((path / "time-floor.json").read_text())["floor"])


async def boot(path: Path, rtc: float, flight: FakeFlight | None = None) -> tuple[StorageComponent, ManualClock]:
    clock = ManualClock(monotonic=50.0, wall=rtc)
    storage = StorageComponent(StorageConfig(dir=str(path)), clock, flight=lambda: flight)
    await storage.start()
    return storage, clock


async def test_rtc_1970_2038_and_a_year_back(tmp_path: Path) -> None:
    stamps: list[tuple[int, dict[str, object]]] = []

    async def write(storage: StorageComponent, n: int) -> None:
        for i in range(n):
            item = await storage.outbox.append("telemetry", {"i": i})
            doc = storage.store.tables["outbox"][str(len(storage.store.tables["outbox"]))]  # type: ignore[union-attr]
            assert doc["id"] == item.id
            stamps.append((item.seq, doc["stamp"]))

    # boot 1: a sane RTC
    storage, clock = await boot(tmp_path, JUNE_2026)
    assert storage.time.quality == "rtc" and storage.health().status == Status.PASS
    await write(storage, 3)
    clock.advance(3600)
    await storage.stop()
    floor1 = floor_on_disk(tmp_path)
    assert floor1 >= JUNE_2026 + 3600

    # boot 2: RTC at 1970 -> the floor, reported
    storage, clock = await boot(tmp_path, EPOCH_1970)
    assert storage.time.quality == "floor"
    check = storage.health()
    assert check.status == Status.WARN and "1970-01-01" in check.reason
    await write(storage, 2)
    assert all(s["wall"] >= floor1 for _, s in stamps[-2:])
    clock.advance(600)
    await storage.stop()
    floor2 = floor_on_disk(tmp_path)
    assert floor2 >= floor1 + 600  # time kept moving from the floor, never back to 1970

    # boot 3: RTC in 2038 -> not trusted either
    storage, clock = await boot(tmp_path, Y2038)
    assert storage.time.quality == "floor"
    assert "2038" in storage.health().reason and "implausibly far" in storage.health().reason
    await write(storage, 2)
    assert all(floor2 <= s["wall"] < floor2 + 86400 for _, s in stamps[-2:])
    await storage.stop()
    floor3 = floor_on_disk(tmp_path)
    assert floor2 <= floor3 < Y2038

    # boot 4: RTC back by a year -> the floor holds
    storage, clock = await boot(tmp_path, JUNE_2026 - 365 * 86400)
    assert storage.time.quality == "floor" and storage.time.now() >= floor3
    await write(storage, 1)
    await storage.stop()

    # boot 5: a sane RTC again, a little after the floor
    storage, clock = await boot(tmp_path, floor_on_disk(tmp_path) + 120)
    assert storage.time.quality == "rtc" and storage.health().status == Status.PASS
    await write(storage, 1)
    await storage.stop()

    seqs = [seq for seq, _ in stamps]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # sequence order holds across every reboot
    assert [s["quality"] for _, s in stamps] == ["rtc"] * 3 + ["floor"] * 5 + ["rtc"]
    assert len({s["boot_id"] for _, s in stamps}) == 5
    walls = [float(s["wall"]) for _, s in stamps]  # type: ignore[arg-type]
    assert min(walls[3:]) >= floor1  # nothing stamped below the floor after the first boot


async def test_avionics_and_network_reanchor(tmp_path: Path) -> None:
    flight = FakeFlight()
    storage, clock = await boot(tmp_path, EPOCH_1970, flight)
    assert storage.time.quality == "floor"
    assert storage.time.poll_flight(flight) is False  # no usable UTC yet
    flight.now = datetime(2026, 7, 14, 10, 30, tzinfo=UTC)
    assert storage.time.poll_flight(flight) is True
    assert storage.time.quality == "avionics"
    assert storage.time.now() == flight.now.timestamp()
    assert storage.health().status == Status.PASS  # the RTC problem no longer matters
    clock.advance(10)
    item = await storage.outbox.append("email", {"x": 1})
    doc = next(d for d in storage.store.tables["outbox"].values() if d["id"] == item.id)  # type: ignore[union-attr]
    assert doc["stamp"]["quality"] == "avionics" and doc["stamp"]["wall"] == flight.now.timestamp() + 10

    storage.time.anchor(flight.now.timestamp() + 12.5, "network")
    assert storage.time.quality == "network"
    flight.now = datetime(2026, 7, 14, 11, 0, tzinfo=UTC)  # avionics far from network time: ignored
    storage.time.poll_flight(flight)
    assert storage.time.quality == "network"
    await storage.stop()
    assert floor_on_disk(tmp_path) >= datetime(2026, 7, 14, 10, 30, tzinfo=UTC).timestamp()
