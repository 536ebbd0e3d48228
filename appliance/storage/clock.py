"""Clock sanity (appliance.ports.TimeAnchor): a persisted time floor and honest time stamps.

The RTC can come up at 1970, in 2038, or a year behind. As systemd-timesyncd does, a time floor is kept in a
file (`time-floor.json`, atomic replace, saved periodically and at stop) and the wall clock is never trusted
below it. At boot the RTC is judged:

- sane (not below the floor, not absurdly far past it): wall time = RTC, quality "rtc";
- before the floor (1970, or set back): wall time = floor + time elapsed since boot, quality "floor";
- far in the future (e.g. 2038: more than `max_future_days` past the floor, or past 2035 on a first boot with
  no floor saved yet): the same, quality "floor".

Trusted sources re-anchor it: the avionics UTC (polled from the FlightView while it is fresh) and the ground
network (`anchor(wall, "network")`). Each record carries `stamp()`: boot id, monotonic offset since boot,
wall time and its quality; records are ordered by their sequence number, never by wall time.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from appliance.fs.atomic import atomic_write_text, read_state_file
from appliance.fs.fileops import REAL_OPS, FileOps
from appliance.ports import FlightView, TimeQuality
from appliance.timebase import BUILD_FLOOR, Clock

log = logging.getLogger("appliance.storage.clock")

StampQuality = Literal["rtc", "floor", "avionics", "network"]
FLOOR_FILE = "time-floor.json"
# With no floor saved yet (first boot), an RTC past this is not trusted either: 2035-01-01T00:00:00Z.
FIRST_BOOT_LIMIT = 2_051_222_400.0


def iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TimeKeeper:
    def __init__(
        self,
        directory: Path,
        clock: Clock,
        *,
        boot_id: str = "",
        ops: FileOps = REAL_OPS,
        max_future_days: float = 400.0,
        save_interval: float = 60.0,
    ) -> None:
        self.directory = directory
        self.clock = clock
        self.boot_id = boot_id
        self.ops = ops
        self.max_future = max_future_days * 86400.0
        self.save_interval = save_interval
        self.floor = BUILD_FLOOR
        self.rtc_problem: str | None = None
        self.save_error: str | None = None
        self._boot_mono = clock.monotonic()
        self._base_wall = clock.wall()
        self._base_mono = self._boot_mono
        self._quality: StampQuality = "rtc"
        self._last_anchor: tuple[float, TimeQuality] | None = None
        self._saved_mono: float | None = None

    # --- boot ----------------------------------------------------------------------------------------------

    def begin(self) -> None:
        """Read the floor and judge the RTC."""
        raw = read_state_file(self.directory / FLOOR_FILE, self.ops)
        limit = FIRST_BOOT_LIMIT
        if raw is not None:
            try:
                self.floor = max(BUILD_FLOOR, float(json.loads(raw)["floor"]))
                limit = self.floor + self.max_future
            except (ValueError, KeyError, TypeError) as error:
                log.warning("time floor unreadable (%s): using the build floor", error)
        self._boot_mono = self._base_mono = self.clock.monotonic()
        rtc = self.clock.wall()
        if rtc < self.floor:
            self.rtc_problem = f"RTC reads {iso(rtc)}, before the time floor {iso(self.floor)}"
        elif rtc > limit:
            self.rtc_problem = f"RTC reads {iso(rtc)}, implausibly far past the time floor {iso(self.floor)}"
        if self.rtc_problem is None:
            self._base_wall, self._quality = rtc, "rtc"
        else:
            self._base_wall, self._quality = self.floor, "floor"
            log.warning("%s: using the floor until avionics or network time arrives", self.rtc_problem)

    # --- time ----------------------------------------------------------------------------------------------

    def now(self) -> float:
        """The best wall time known, never below the floor."""
        wall = self._base_wall + (self.clock.monotonic() - self._base_mono)
        return max(wall, self.floor) if self._quality in ("rtc", "floor") else wall

    @property
    def quality(self) -> StampQuality:
        return self._quality

    def stamp(self) -> dict[str, Any]:
        """What a record carries besides its sequence number."""
        return {"boot_id": self.boot_id, "mono": round(self.clock.monotonic() - self._boot_mono, 6),
                "wall": self.now(), "quality": self._quality}

    def anchor(self, wall: float, quality: TimeQuality) -> None:
        """A trusted source (avionics UTC, the ground network) says the wall clock reads `wall` now."""
        if wall < BUILD_FLOOR:
            log.warning("ignoring %s time %s: before the build floor", quality, iso(wall))
            return
        # Network time outranks avionics time; avionics only keeps the offset fresh when close to it.
        if self._quality == "network" and quality == "avionics" and abs(wall - self.now()) > 5.0:
            return
        if wall < self.floor - 1.0:
            log.warning("%s time %s is below the floor %s: the floor was wrong, lowering it",
                        quality, iso(wall), iso(self.floor))
            self.floor = wall
        self._base_wall, self._base_mono = wall, self.clock.monotonic()
        self._quality = quality
        self._last_anchor = (wall, quality)

    def poll_flight(self, flight: FlightView | None) -> bool:
        """Re-anchor from the avionics UTC when it is usable. True when it anchored."""
        if flight is None:
            return False
        utc = flight.utc()
        if utc is None:
            return False
        self.anchor(utc.timestamp(), "avionics")
        return True

    # --- the floor -----------------------------------------------------------------------------------------

    def save_floor(self, force: bool = False) -> None:
        """Raise the persisted floor to now (atomic replace). Periodic unless `force`."""
        mono = self.clock.monotonic()
        if not force and self._saved_mono is not None and mono - self._saved_mono < self.save_interval:
            return
        now = self.now()
        try:
            atomic_write_text(self.directory / FLOOR_FILE, json.dumps({"floor": now, "iso": iso(now),
                                                                      "quality": self._quality}), ops=self.ops)
        except OSError as error:
            self.save_error = f"time floor not saved: {error}"
            log.error("%s", self.save_error)
            return
        self.save_error = None
        self.floor = max(self.floor, now)
        self._saved_mono = mono

    def snapshot(self) -> dict[str, Any]:
        return {"wall": self.now(), "iso": iso(self.now()), "quality": self._quality, "floor": self.floor,
                "floor_iso": iso(self.floor), "rtc_problem": self.rtc_problem}
