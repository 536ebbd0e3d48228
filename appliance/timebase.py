"""Injected time. Components take a Clock so tests never wait for real time.

`monotonic()` orders and measures; `wall()` is only a label (it can be wrong: see appliance.storage.clock).
"""

from __future__ import annotations

import time
from typing import Protocol

# No appliance ran before this: a clock (an RTC, a time floor, a reference time for signed metadata) below it
# is wrong. 2025-01-01T00:00:00Z.
BUILD_FLOOR = 1_735_689_600.0


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def wall(self) -> float: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, monotonic: float = 1000.0, wall: float = 1_767_225_600.0) -> None:
        self._mono = monotonic
        self._wall = wall

    def monotonic(self) -> float:
        return self._mono

    def wall(self) -> float:
        return self._wall

    def advance(self, seconds: float) -> None:
        self._mono += seconds
        self._wall += seconds

    def set_wall(self, wall: float) -> None:
        self._wall = wall
