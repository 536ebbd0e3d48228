"""Latched alarms: raised by a condition, cleared only when the condition is gone *and* an engineer acked it.

Shared by the discretes (over-temperature), the sensors, the portal (load shedding reads it) and the
maintenance API (acknowledgement). Each change updates `appliance_alarm_active{name}`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from appliance.metrics import Metrics
from appliance.timebase import Clock


@dataclass
class Alarm:
    name: str
    reason: str
    raised_wall: float
    condition: bool = True  # the cause is still present
    acked: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "reason": self.reason,
            "raised": self.raised_wall,
            "condition": self.condition,
            "acked": self.acked,
        }


class UnknownAlarm(KeyError):
    pass


class Alarms:
    def __init__(self, clock: Clock, metrics: Metrics) -> None:
        self._clock = clock
        self._metrics = metrics
        self._alarms: dict[str, Alarm] = {}
        self._listeners: list[Callable[[str, bool], None]] = []
        self._sources: dict[str, set[str]] = {}

    def on_change(self, listener: Callable[[str, bool], None]) -> None:
        """`listener(name, active)` is called whenever an alarm becomes active or inactive."""
        self._listeners.append(listener)

    def raise_alarm(self, name: str, reason: str) -> None:
        alarm = self._alarms.get(name)
        if alarm is None:
            self._alarms[name] = Alarm(name, reason, self._clock.wall())
            self._changed(name, True)
        else:
            alarm.condition = True
            alarm.reason = reason
            alarm.acked = False

    def report(self, name: str, source: str, present: bool, reason: str = "") -> None:
        """One of several sources of a condition reports it present or gone (e.g. over_temperature from
        OVERTEMPSIG and from the board temperature sensor): raised when a source first reports it, the condition
        cleared only once no source reports it any more."""
        sources = self._sources.setdefault(name, set())
        if present:
            if source not in sources:
                sources.add(source)
                self.raise_alarm(name, reason or source)
        elif source in sources:
            sources.discard(source)
            if not sources:
                self.condition_cleared(name)

    def condition_cleared(self, name: str) -> None:
        """The cause went away; the alarm stays latched until acknowledged."""
        alarm = self._alarms.get(name)
        if alarm is None:
            return
        alarm.condition = False
        self._release_if_done(alarm)

    def ack(self, name: str) -> Alarm:
        alarm = self._alarms.get(name)
        if alarm is None:
            raise UnknownAlarm(name)
        alarm.acked = True
        self._release_if_done(alarm)
        return alarm

    def is_active(self, name: str) -> bool:
        return name in self._alarms

    def active(self) -> list[Alarm]:
        return list(self._alarms.values())

    def snapshot(self) -> list[dict[str, Any]]:
        return [alarm.as_dict() for alarm in self._alarms.values()]

    def _release_if_done(self, alarm: Alarm) -> None:
        if not alarm.condition and alarm.acked:
            del self._alarms[alarm.name]
            self._changed(alarm.name, False)

    def _changed(self, name: str, active: bool) -> None:
        self._metrics.alarm_active.labels(name=name).set(1 if active else 0)
        for listener in self._listeners:
            listener(name, active)
