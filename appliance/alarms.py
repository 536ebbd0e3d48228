"""Alarms: the one owner of alarm names, their state, their log lines and what they do to health.

An alarm has a *condition* (its cause is present now) and a *latched record* (it happened and no engineer has
acknowledged it yet). Load shedding and health follow the condition: an alarm whose cause has gone (after that
cause's own hysteresis, e.g. the board temperature below `limit - hysteresis`) stops shedding load by itself,
in flight nobody acknowledges anything. The acknowledgement (`POST /api/v1/alarms/{name}/ack`) only clears the
latched record. An *event* alarm (storage corruption found at recovery: nothing goes on to be watched) stays
active until it is acknowledged.

Shared by the discretes and the sensors (over-temperature), storage (corruption), the portal (load shedding
reads `is_active`) and the maintenance listener (ack, /health, /api/v1/status, STATUS=). Each change is logged
and updates `appliance_alarm_active{name}` (1 while the condition is present) and
`appliance_alarm_latched{name}` (1 while the record waits for an acknowledgement); every known name has both
samples (0) from the first scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from appliance.component import Check
from appliance.metrics import Metrics
from appliance.timebase import Clock

log = logging.getLogger("appliance.alarms")

OVER_TEMPERATURE = "over_temperature"
STORAGE_CORRUPTION = "storage_corruption"


@dataclass(frozen=True)
class AlarmSpec:
    name: str
    effect: str  # what the daemon does while it is active, for people
    event: bool = False  # no lasting condition to watch: active until acknowledged


KNOWN: dict[str, AlarmSpec] = {
    spec.name: spec
    for spec in (
        AlarmSpec(OVER_TEMPERATURE, "new video sessions paused to shed load"),
        AlarmSpec(STORAGE_CORRUPTION, "damaged journal segment kept for inspection", event=True),
    )
}


def _iso(wall: float | None) -> str | None:
    if wall is None:
        return None
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Alarm:
    name: str
    reason: str
    raised_wall: float
    condition: bool = True  # the cause is present now
    acked: bool = False
    raised_monotonic: float = 0.0
    cleared_wall: float | None = None  # when the condition last went away
    episodes: int = 1  # times the condition came back while the record stayed latched

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "reason": self.reason,
            "active": self.condition,
            "condition": self.condition,
            "latched": True,
            "acked": self.acked,
            "raised": _iso(self.raised_wall),
            "raised_wall": self.raised_wall,
            "cleared": _iso(self.cleared_wall),
            "episodes": self.episodes,
            "effect": KNOWN[self.name].effect if self.name in KNOWN else None,
        }


class UnknownAlarm(KeyError):
    pass


class Alarms:
    def __init__(self, clock: Clock, metrics: Metrics) -> None:
        self._clock = clock
        self._metrics = metrics
        self._alarms: dict[str, Alarm] = {}
        self._listeners: list[Callable[[str, bool], None]] = []
        self._sources: dict[str, dict[str, str]] = {}  # name -> the sources reporting it present -> their reason
        for name in KNOWN:  # a sample per known name from the first scrape: an alert on it can fire at once
            metrics.alarm_active.labels(name=name).set(0)
            metrics.alarm_latched.labels(name=name).set(0)

    def on_change(self, listener: Callable[[str, bool], None]) -> None:
        """`listener(name, active)` is called whenever an alarm's condition starts or ends."""
        self._listeners.append(listener)

    def raise_alarm(self, name: str, reason: str) -> None:
        """The cause is present (again): logged once per episode, not on every repeated report."""
        alarm = self._alarms.get(name)
        if alarm is None:
            self._alarms[name] = Alarm(name, reason, self._clock.wall(), raised_monotonic=self._clock.monotonic())
            log.warning("alarm %s raised: %s%s", name, reason, _effect(name))
            self._changed(name, True)
            return
        alarm.reason = reason
        alarm.acked = False
        if not alarm.condition:
            alarm.condition = True
            alarm.episodes += 1
            alarm.raised_monotonic = self._clock.monotonic()
            log.warning("alarm %s raised again: %s%s", name, reason, _effect(name))
            self._changed(name, True)

    def report(self, name: str, source: str, present: bool, reason: str = "") -> None:
        """One of several sources of a condition reports it present or gone (e.g. over_temperature from
        OVERTEMPSIG, GPIO_OVERTEMPSIG and the board temperature sensor): raised when a source first reports
        it, the condition cleared only once no source reports it any more. The reason names every source
        present; a source repeating itself changes nothing (and logs nothing)."""
        sources = self._sources.setdefault(name, {})
        if present:
            if source not in sources:
                sources[source] = reason or source
                if self.is_active(name):
                    self._alarms[name].reason = "; ".join(sources.values())
                else:
                    self.raise_alarm(name, "; ".join(sources.values()))
        elif source in sources:
            del sources[source]
            if not sources:
                self.condition_cleared(name)
            elif name in self._alarms:
                self._alarms[name].reason = "; ".join(sources.values())

    def condition_cleared(self, name: str) -> None:
        """The cause went away: what the alarm shed comes back; the record stays latched until acknowledged."""
        alarm = self._alarms.get(name)
        if alarm is None or not alarm.condition:
            return
        alarm.condition = False
        alarm.cleared_wall = self._clock.wall()
        lasted = self._clock.monotonic() - alarm.raised_monotonic
        log.warning("alarm %s cleared after %.0f s: the cause is gone (%s)%s", name, lasted, alarm.reason,
                    "" if alarm.acked else "; latched until acknowledged")
        self._changed(name, False)
        self._release_if_done(alarm)

    def ack(self, name: str) -> Alarm:
        """An engineer saw it. Raises UnknownAlarm when there is no record. An event alarm ends here; a
        condition alarm whose cause is still present stays active (the ack is remembered until it recurs)."""
        alarm = self._alarms.get(name)
        if alarm is None:
            raise UnknownAlarm(name)
        alarm.acked = True
        spec = KNOWN.get(name)
        if spec is not None and spec.event and alarm.condition:
            alarm.condition = False
            alarm.cleared_wall = self._clock.wall()
            self._changed(name, False)
        log.info("alarm %s acknowledged%s", name, " (its cause is still present)" if alarm.condition else "")
        self._release_if_done(alarm)
        return alarm

    def is_active(self, name: str) -> bool:
        """The alarm's condition is present now (what load shedding follows)."""
        alarm = self._alarms.get(name)
        return alarm is not None and alarm.condition

    def is_latched(self, name: str) -> bool:
        """A record waits for an acknowledgement (active or not)."""
        return name in self._alarms

    def active(self) -> list[Alarm]:
        """The alarms whose condition is present now."""
        return [alarm for alarm in self._alarms.values() if alarm.condition]

    def records(self) -> list[Alarm]:
        """Every latched record, active or cleared."""
        return list(self._alarms.values())

    def snapshot(self) -> list[dict[str, Any]]:
        return [alarm.as_dict() for alarm in self._alarms.values()]

    def check(self) -> Check:
        """The alarms' part of the daemon's health: warn while any condition is present, with the reasons;
        pass otherwise (a cleared record awaiting its ack is named in the output, it does not degrade)."""
        active = self.active()
        cleared = [alarm for alarm in self._alarms.values() if not alarm.condition]
        if active:
            return Check.warning("; ".join(f"alarm {a.name}: {a.reason}{_effect(a.name)}" for a in active),
                                 active=[a.name for a in active], latched=[a.name for a in self.records()])
        if cleared:
            return Check.passing(
                "; ".join(f"alarm {a.name} cleared at {_iso(a.cleared_wall)}, not acknowledged" for a in cleared),
                active=[], latched=[a.name for a in cleared])
        return Check.passing("no alarm", active=[], latched=[])

    def _release_if_done(self, alarm: Alarm) -> None:
        if not alarm.condition and alarm.acked:
            del self._alarms[alarm.name]
            self._metrics.alarm_latched.labels(name=alarm.name).set(0)

    def _changed(self, name: str, active: bool) -> None:
        self._metrics.alarm_active.labels(name=name).set(1 if active else 0)
        if active:
            self._metrics.alarm_latched.labels(name=name).set(1)
        for listener in self._listeners:
            listener(name, active)


def _effect(name: str) -> str:
    spec = KNOWN.get(name)
    return f" ({spec.effect})" if spec is not None else ""
