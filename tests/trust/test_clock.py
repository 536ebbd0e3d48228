"""The clock rule: expiry is judged against the daemon's trusted time (TimeKeeper: the persisted floor, the
avionics and network anchors), never the raw RTC. Simulated reboots with the RTC at 1970 and at 2038, with
and without avionics time, against a real repository served on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.storage.clock import FLOOR_FILE, TimeKeeper
from appliance.timebase import ManualClock
from appliance.trust.refusal import Refusal
from tests.trust.support import NOW, T_NOW, Ground, aircraft, serve

RTC_1970 = 0.0
RTC_2038 = 2_147_483_647.0  # 2038-01-19, where a 32-bit time_t wraps
DAY = 86400.0


def boot(state: Path, rtc: float, floor: float | None) -> TimeKeeper:
    """One simulated reboot: the floor a previous boot saved, the RTC as the hardware reads it."""
    state.mkdir(parents=True, exist_ok=True)
    if floor is not None:
        (state / FLOOR_FILE).write_text(json.dumps({"floor": floor}))
    keeper = TimeKeeper(state, ManualClock(monotonic=10.0, wall=rtc))
    keeper.begin()
    return keeper


@pytest.mark.parametrize("rtc", [RTC_1970, RTC_2038], ids=["rtc-1970", "rtc-2038"])
async def test_trusted_time_not_the_rtc(ground: Ground, tmp_path: Path, rtc: float) -> None:
    async with serve(ground.repo) as server, aircraft(tmp_path / "trust", ground.pinned_root(), server.url) as plane:
        # the raw RTC would be wrong both ways: 1970 is refused as no time at all (TUF has no "not before",
        # so it would make a frozen repository valid forever); 2038 makes honest metadata expired
        raw = await plane.refresh(rtc)
        assert not raw.ok
        assert raw.refusal is (Refusal.CLOCK if rtc < NOW.timestamp() else Refusal.EXPIRED)

        # reboot 1: the floor saved an hour after signing; the RTC judged wrong, time = the floor
        keeper = boot(tmp_path / "state", rtc, floor=T_NOW)
        assert keeper.quality == "floor"
        outcome = await plane.refresh(keeper.now())
        assert outcome.ok, outcome

        # reboot 2, days later: the floor has moved past the timestamp's expiry (2 days): a freeze is caught
        # even with the RTC at 1970, and stays caught with avionics time
        keeper = boot(tmp_path / "state", rtc, floor=T_NOW + 3 * DAY)
        frozen = await plane.refresh(keeper.now())
        assert frozen.refusal is Refusal.EXPIRED
        keeper.anchor(T_NOW + 3 * DAY + 60, "avionics")
        assert (await plane.refresh(keeper.now())).refusal is Refusal.EXPIRED
        assert plane.trusted.view() is not None  # the last good metadata kept and served

        # the ground re-signs; the avionics time (not the RTC) accepts it
        ground.clock = NOW.replace(day=4)
        ground.publish()
        assert (await plane.refresh(keeper.now())).ok

        # reboot 3 without avionics time, the floor as saved: accepted by the floor alone
        keeper = boot(tmp_path / "state", rtc, floor=T_NOW + 3 * DAY + 120)
        assert keeper.quality == "floor" and (await plane.refresh(keeper.now())).ok


async def test_python_tuf_reads_the_reference_time_we_give(ground: Ground, tmp_path: Path) -> None:
    """Guards the one python-tuf internal used (TrustedMetadataSet.reference_time): a release that reads
    the clock elsewhere would accept metadata the trusted time says is expired."""
    async with serve(ground.repo) as server, aircraft(tmp_path / "trust", ground.pinned_root(), server.url) as plane:
        assert (await plane.refresh(T_NOW)).ok
        far = T_NOW + 400 * DAY  # past every role's expiry, root's included
        outcome = await plane.refresh(far)
        assert outcome.refusal is Refusal.EXPIRED
        assert plane.trusted.verify_bytes("nothing", b"", reference_time=far) is Refusal.EXPIRED
        assert plane.trusted.verify_bytes("nothing", b"", reference_time=RTC_1970) is Refusal.CLOCK
