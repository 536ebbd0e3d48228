"""The daemon's recent warnings and errors, kept in memory for the telemetry summary (journald keeps the full
log on board; this is what the fleet desk sees without logging in). Bounded: the oldest lines go first."""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from appliance.timebase import Clock


class RecentLogs(logging.Handler):
    def __init__(self, clock: Clock, capacity: int = 200, level: int = logging.WARNING) -> None:
        super().__init__(level)
        self.clock = clock
        self.lines: deque[dict[str, Any]] = deque(maxlen=capacity)
        self.number = 0  # of the last line kept
        self.dropped = 0  # lines pushed out before they were sent

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not break logging
            message = str(record.msg)
        self.number += 1
        if len(self.lines) == self.lines.maxlen:
            self.dropped += 1
        self.lines.append(
            {"n": self.number, "wall": self.clock.wall(), "level": record.levelname, "logger": record.name,
             "message": message[:500]}
        )

    def since(self, number: int) -> list[dict[str, Any]]:
        """The lines kept after line `number`."""
        return [line for line in self.lines if line["n"] > number]
