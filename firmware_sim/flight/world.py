"""FlightWorld: the simulated aircraft's truth over scenario time (the World of firmware_sim/device.py).

Scenario time runs at `speed` times real time and can be frozen (so a test can compare the bus against the
truth at one instant), moved to a phase, or switched to another scenario through the control listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from firmware_sim.flight.profile import Segment
from firmware_sim.flight.scenario import SCENARIOS, Timeline
from firmware_sim.flight.truth import parameters

log = logging.getLogger("firmware_sim.world")

Listener = Callable[[str, dict[str, Any]], None]
TICK_S = 0.05


class FlightWorld:
    """Implements World (and the SimDevice lifecycle, so the simulator starts it and serves its routes)."""

    name = "world"

    def __init__(self, scenario: str = "day", speed: float = 1.0, *,
                 monotonic: Callable[[], float] = time.monotonic, start_utc: datetime | None = None) -> None:
        if scenario not in SCENARIOS:
            raise KeyError(f"unknown scenario {scenario!r} (known: {', '.join(sorted(SCENARIOS))})")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._monotonic = monotonic
        self._listeners: list[Listener] = []
        self._task: asyncio.Task[None] | None = None
        self.start_utc = start_utc or datetime.now(UTC).replace(microsecond=0)
        self.timeline: Timeline = SCENARIOS[scenario]()
        self.speed = speed
        self.frozen = False
        self._base_real = monotonic()
        self._base_t = 0.0
        self._emitted_t = 0.0
        self._last_index = 0

    # --- World ---------------------------------------------------------------------------------------------

    def now(self) -> float:
        if self.frozen:
            return self._base_t
        return self._base_t + (self._monotonic() - self._base_real) * self.speed

    @property
    def scenario(self) -> str:
        return self.timeline.name

    @property
    def segment(self) -> Segment:
        return self.timeline.at(self.now())

    @property
    def phase(self) -> str:
        return self.segment.phase

    @property
    def on_ground(self) -> bool:
        return self.segment.on_ground

    def truth(self) -> dict[str, Any]:
        t = self.now()
        segment = self.timeline.at(t)
        return parameters(segment, t, self.start_utc) | {
            "phase": segment.phase,
            "segment": segment.kind,
            "on_ground": segment.on_ground,
            "scenario": self.scenario,
            "t": t,
            "speed": self.speed,
            "frozen": self.frozen,
        }

    def schedule(self) -> list[dict[str, Any]]:
        def utc(t: float) -> str:
            return (self.start_utc + timedelta(seconds=t)).isoformat()

        return [{"flight_number": leg.flight_number, "origin": leg.origin.icao, "destination": leg.destination.icao,
                 "departure": utc(departure), "arrival": utc(arrival)}
                for leg, departure, arrival in self.timeline.flights() if math.isfinite(arrival)]

    def subscribe(self, callback: Listener) -> None:
        self._listeners.append(callback)

    # --- control -------------------------------------------------------------------------------------------

    def _rebase(self, t: float) -> None:
        self._base_t = t
        self._base_real = self._monotonic()

    def set_speed(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._rebase(self.now())
        self.speed = speed

    def freeze(self, frozen: bool) -> None:
        self._rebase(self.now())
        self.frozen = frozen

    def seek(self, where: float | str) -> float:
        """Jump to scenario second `where`, or to the start of the first segment of that kind or phase.
        Events of the segments jumped over are not emitted; the new phase is."""
        t = float(where) if not isinstance(where, str) else self.timeline.first(where).start
        self._rebase(max(t, 0.0))
        self._emitted_t = self._base_t
        index = self.timeline.index_at(self._base_t)
        if index != self._last_index:
            self._last_index = index
            self._emit("phase", self._phase_detail(self.timeline.segments[index]))
        return self._base_t

    def set_scenario(self, name: str, speed: float | None = None, at: float | str | None = None) -> None:
        if name not in SCENARIOS:
            raise KeyError(f"unknown scenario {name!r} (known: {', '.join(sorted(SCENARIOS))})")
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive")
        self.timeline = SCENARIOS[name]()
        if speed is not None:
            self.speed = speed
        self._rebase(0.0)
        self._last_index = 0
        self._emitted_t = 0.0
        self._emit("scenario", {"name": name, "speed": self.speed})
        self._emit("phase", self._phase_detail(self.timeline.segments[0]))
        if at is not None:
            self.seek(at)

    # --- events --------------------------------------------------------------------------------------------

    def poll(self) -> None:
        """Emit the events of every segment boundary crossed since the last poll, in order."""
        t = self.now()
        index = self.timeline.index_at(t)
        while self._last_index < index:
            before = self.timeline.segments[self._last_index]
            self._last_index += 1
            after = self.timeline.segments[self._last_index]
            self._transition(before, after)
        self._emitted_t = t

    def _phase_detail(self, segment: Segment) -> dict[str, Any]:
        return {"phase": segment.phase, "segment": segment.kind, "on_ground": segment.on_ground, "t": segment.start}

    def _transition(self, before: Segment, after: Segment) -> None:
        if before.kind == "gate" and after.kind == "taxi_out":
            leg = after.leg
            self._emit("departing", {"airport": leg.origin.icao, "flight_number": leg.flight_number,
                                     "destination": leg.destination.icao, "t": after.start})
        if after.phase != before.phase:
            self._emit("phase", self._phase_detail(after))
        if after.kind == "gate" and after.after_flight:
            leg = after.leg
            self._emit("arrived", {"airport": leg.destination.icao, "flight_number": leg.flight_number,
                                   "origin": leg.origin.icao, "t": after.start})

    def _emit(self, event: str, detail: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            try:
                listener(event, detail)
            except Exception:
                log.exception("world listener failed on %s", event)

    # --- SimDevice lifecycle and control routes ------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="world")

    async def _run(self) -> None:
        while True:
            self.poll()
            await asyncio.sleep(TICK_S)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def endpoints(self) -> dict[str, Any]:
        return {}

    def state(self) -> dict[str, Any]:
        return self.truth()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/scenario", self._post_scenario)
        app.router.add_post("/world/freeze", self._post_freeze)
        app.router.add_post("/world/seek", self._post_seek)

    async def _post_scenario(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        name = body.get("name")
        speed = body.get("speed")
        at = body.get("at")
        if name is None:  # only a new speed (and maybe a jump): the scenario goes on
            if speed is not None and (not isinstance(speed, int | float) or isinstance(speed, bool) or speed <= 0):
                return _error("speed must be a positive number")
            if at is not None and not _valid_at(self.timeline, at):
                return _error(f"unknown 'at' {at!r}: a number of seconds or a phase/segment name")
            if speed is not None:
                self.set_speed(float(speed))
            if at is not None:
                self.seek(at)
            return web.json_response({"scenario": self.scenario, "speed": self.speed, "t": self.now()})
        if not isinstance(name, str) or name not in SCENARIOS:
            return _error(f"unknown scenario {name!r} (known: {', '.join(sorted(SCENARIOS))})")
        if speed is not None and (not isinstance(speed, int | float) or isinstance(speed, bool) or speed <= 0):
            return _error("speed must be a positive number")
        if at is not None and not _valid_at(self.timeline if name == self.scenario else SCENARIOS[name](), at):
            return _error(f"unknown 'at' {at!r}: a number of seconds or a phase/segment name")
        self.set_scenario(name, float(speed) if speed is not None else None, at)
        return web.json_response({"scenario": self.scenario, "speed": self.speed, "t": self.now()})

    async def _post_freeze(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        frozen = body.get("frozen", True)
        if not isinstance(frozen, bool):
            return _error("frozen must be true or false")
        self.freeze(frozen)
        return web.json_response({"frozen": self.frozen, "t": self.now()})

    async def _post_seek(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        at = body.get("at")
        if at is None or not _valid_at(self.timeline, at):
            return _error("'at' must be a number of seconds or a phase/segment name of this scenario")
        return web.json_response({"t": self.seek(at), "phase": self.phase})


def _valid_at(timeline: Timeline, at: Any) -> bool:
    if isinstance(at, bool):
        return False
    if isinstance(at, int | float):
        return at >= 0
    if isinstance(at, str):
        try:
            timeline.first(at)
        except KeyError:
            return False
        return True
    return False


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text='{"error": "body is not JSON"}', content_type="application/json") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"error": "body must be a JSON object"}', content_type="application/json")
    return body


def _error(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)
