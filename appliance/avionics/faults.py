"""Avionics faults as episodes: error bursts per adapter channel and required parameters that fail or go stale.

`update()` runs on the loop every monitor tick with the reader's running totals and the flight state. An error
episode on a channel starts when its parity + CRC + line errors over the last `error_window` seconds exceed
`error_rate_limit` per second and ends once the rate is below it again; a required parameter's episode lasts
while its status is failure_warning, functional_test or stale, or while it is missing on a live bus, once that
has lasted `LABEL_HOLD` seconds (a busy loop at start makes a fresh value look stale for a moment). Each
episode is logged once when it starts and once when it ends (with its duration and counts); while any lasts,
`check()` gives the reader's health a warning with the reason. Nothing here raises: faults are data.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from appliance.avionics.state import FlightState
from hal.arinc429 import Counters, spec_for

log = logging.getLogger("appliance.avionics")

BAD_STATUSES = frozenset({"failure_warning", "functional_test", "stale", "missing"})
ERROR_KINDS = ("parity_errors", "crc_errors", "line_errors")
LABEL_HOLD = 2.0  # seconds a required parameter must stay bad before its episode starts


@dataclass
class ErrorEpisode:
    started: float
    start_counts: dict[str, int]
    peak_rate: float = 0.0


@dataclass
class LabelEpisode:
    started: float
    status: str


@dataclass
class FaultMonitor:
    required: tuple[str, ...]
    rate_limit: float
    window: float
    _samples: dict[str, deque[tuple[float, dict[str, int]]]] = field(default_factory=dict)
    rates: dict[str, float] = field(default_factory=dict)
    errors: dict[str, ErrorEpisode] = field(default_factory=dict)
    labels: dict[str, LabelEpisode] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    _bad_since: dict[str, float] = field(default_factory=dict)
    episodes: int = 0

    def update(self, now: float, totals: Counters, channel_label: Any, state: FlightState, bus_live: bool) -> None:
        """One tick. `bus_live`: frames arrive (a missing parameter is only a fault on a live bus)."""
        for channel, counters in totals.items():
            self._channel(now, channel_label(channel), {k: int(getattr(counters, k)) for k in ERROR_KINDS})
        for name in self.required:
            reading = state.reading(name)
            status = reading.status if reading is not None else ("missing" if bus_live else "unknown")
            self._label(now, name, status, reading.age if reading is not None else None)

    def _channel(self, now: float, channel: str, counts: dict[str, int]) -> None:
        samples = self._samples.setdefault(channel, deque())
        samples.append((now, counts))
        while len(samples) > 2 and now - samples[1][0] >= self.window:
            samples.popleft()
        then, old = samples[0]
        span = max(now - then, 1e-3)
        rate = sum(counts[k] - old.get(k, 0) for k in ERROR_KINDS) / span if now > then else 0.0
        self.rates[channel] = rate
        episode = self.errors.get(channel)
        if episode is None and rate >= self.rate_limit:
            self.errors[channel] = ErrorEpisode(now, dict(old), rate)
            self.episodes += 1
            recent = ", ".join(f"{counts[k] - old.get(k, 0)} {k.split('_')[0]}" for k in ERROR_KINDS)
            log.warning("avionics: error burst on channel %s: %.0f errors/s (%s in the last %.1f s)",
                        channel, rate, recent, span)
        elif episode is not None:
            episode.peak_rate = max(episode.peak_rate, rate)
            if rate < self.rate_limit:
                del self.errors[channel]
                total = ", ".join(f"{counts[k] - episode.start_counts.get(k, 0)} {k.split('_')[0]}"
                                  for k in ERROR_KINDS)  # fmt: skip
                log.warning("avionics: error burst on channel %s ended after %.1f s: %s errors (peak %.0f/s)",
                            channel, now - episode.started, total, episode.peak_rate)

    def _label(self, now: float, name: str, status: str, age: float | None) -> None:
        self.statuses[name] = status
        if status == "unknown":  # the bus is down: the reader's health says so; episodes stay as they are
            return
        episode = self.labels.get(name)
        label = _octal(name)
        if status in BAD_STATUSES:
            since = self._bad_since.setdefault(name, now)
            if episode is None and now - since >= LABEL_HOLD:
                self.labels[name] = LabelEpisode(since, status)
                self.episodes += 1
                aged = f", last word {age:.1f} s ago" if age is not None else ""
                log.warning("avionics: required parameter %s (label %s) is %s%s", name, label, status, aged)
            elif episode is not None and episode.status != status:
                log.warning("avionics: required parameter %s (label %s) is now %s", name, label, status)
                episode.status = status
            return
        self._bad_since.pop(name, None)
        if episode is not None:
            del self.labels[name]
            log.warning("avionics: required parameter %s (label %s) is %s again after %.1f s (was %s)",
                        name, label, status, now - episode.started, episode.status)

    def problems(self) -> list[str]:
        """Why health warns, now ("" when nothing): error bursts first, then the required parameters."""
        found = [f"error burst on channel {c}: {self.rates.get(c, 0.0):.0f} errors/s" for c in sorted(self.errors)]
        found += [f"{name} (label {_octal(name)}) {e.status}" for name, e in sorted(self.labels.items())]
        return found

    def section(self, state: FlightState) -> dict[str, Any]:
        """For /api/v1/status: per label (and SDI) status, the required parameters, error rates and episodes."""
        labels: dict[str, Any] = {}
        for item in state.items():
            labels.setdefault(item["label"], []).append(
                {k: item[k] for k in ("name", "sdi", "channel", "status", "age")})
        block = state.reading("flight_information")
        if block is not None:
            labels["360"] = [{"name": "flight_information", "sdi": None, "channel": None, "status": block.status,
                              "age": round(block.age, 3)}]
        return {
            "labels": labels,
            "required": {name: {"label": _octal(name), "status": self.statuses.get(name, "unknown")}
                         for name in self.required},
            "error_rates": {channel: round(rate, 1) for channel, rate in sorted(self.rates.items())},
            "error_rate_limit": self.rate_limit,
            "faults": self.problems(),
            "episodes": self.episodes,
        }


def _octal(name: str) -> str:
    try:
        return spec_for(name).label
    except KeyError:
        return "?"
