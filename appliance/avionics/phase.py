"""The derived flight phase, from pressure altitude and ground speed, with hysteresis so it does not flap.

A candidate phase must hold continuously for its hold time before it becomes the phase; thresholds differ for
entering and leaving (taxi at 5 kt, back to gate below 1 kt). The bus carries no air/ground discrete among the
labels we read, so air/ground comes from speed and altitude: airborne above 100 kt once the altitude has risen
150 ft over the altitude seen on the ground; on the ground again once below 100 kt (no airliner flies that slow).

The holds are seconds of the daemon's clock, and the simulator compresses time (`make run` flies at up to 20x,
so the day's shortest cruise, 406 s on the second leg, lasts 20 s here): no hold is longer than the shortest
simulated phase needs, and the vertical speed is the least-squares slope over its window, so that one noisy
altitude sample cannot restart a hold (tests/avionics/test_phase.py flies the day at every `make run` speed).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

GROUND_PHASES = frozenset({"gate", "taxi", "takeoff", "landed"})
AIR_PHASES = frozenset({"climb", "cruise", "descent", "approach"})


@dataclass(frozen=True)
class PhaseRules:
    taxi_kt: float = 5.0  # gate -> taxi
    stopped_kt: float = 1.0  # taxi/landed -> gate
    takeoff_kt: float = 40.0  # taxi -> takeoff
    airborne_kt: float = 100.0  # takeoff -> climb (with the altitude gain), air -> landed below it
    liftoff_gain_ft: float = 150.0
    climb_fpm: float = 500.0
    level_fpm: float = 300.0
    approach_kt: float = 210.0
    approach_below_ft: float = 10000.0
    vs_window_s: float = 8.0
    lost_after_s: float = 30.0  # without altitude or ground speed this long: unknown
    hold_s: tuple[tuple[str, float], ...] = (
        ("gate", 60.0),
        ("taxi", 5.0),
        ("takeoff", 2.0),
        ("climb", 2.0),  # from takeoff; level changes below use longer holds
        ("cruise", 10.0),  # level for the VS window and then 10 s: held as long as the other air phases
        ("descent", 10.0),
        ("approach", 5.0),
        ("landed", 3.0),
    )

    def hold(self, phase: str) -> float:
        return dict(self.hold_s).get(phase, 0.0)


class PhaseTracker:
    """Feed `update(now, altitude, ground_speed)` with usable values (None when not available)."""

    def __init__(self, rules: PhaseRules | None = None) -> None:
        self.rules = rules or PhaseRules()
        self.phase = "unknown"
        self._candidate: str | None = None
        self._candidate_since = 0.0
        self._ground_altitude: float | None = None
        self._history: deque[tuple[float, float]] = deque()
        self._last_input = -1e18
        self.vertical_speed: float | None = None  # ft/min over the window
        self._slope = 0.0  # ft/s of the history as it was when last worked out
        self._slope_valid = False

    @property
    def on_ground(self) -> bool | None:
        if self.phase in GROUND_PHASES:
            return True
        if self.phase in AIR_PHASES:
            return False
        return None

    def update(self, now: float, altitude: float | None, ground_speed: float | None) -> str:
        if altitude is None or ground_speed is None:
            if now - self._last_input > self.rules.lost_after_s:
                self.phase, self._candidate = "unknown", None
                self._history.clear()
            return self.phase
        self._last_input = now
        self._track_vertical_speed(now, altitude)
        wanted = self._wanted(altitude, ground_speed)
        if wanted == self.phase:
            self._candidate = None
        elif self.phase == "unknown":
            self.phase, self._candidate = wanted, None
        elif wanted != self._candidate:
            self._candidate, self._candidate_since = wanted, now
        if self._candidate is not None and now - self._candidate_since >= self._hold(self._candidate):
            self.phase, self._candidate = self._candidate, None
        if self.phase in ("gate", "taxi") and ground_speed < self.rules.takeoff_kt:
            self._ground_altitude = altitude
        return self.phase

    def _hold(self, wanted: str) -> float:
        if wanted == "climb" and self.phase in AIR_PHASES:
            return 10.0  # a go-around or a step climb must be sustained
        return self.rules.hold(wanted)

    def _track_vertical_speed(self, now: float, altitude: float) -> None:
        history = self._history
        changed = False
        if not history or now - history[-1][0] >= 0.25:
            history.append((now, altitude))
            changed = True
        while len(history) > 2 and now - history[1][0] >= self.rules.vs_window_s:
            history.popleft()
            changed = True
        t0 = history[0][0]
        if now - t0 < 1.0:
            self.vertical_speed = None
            self._slope_valid = False
            return
        if changed or not self._slope_valid:  # the slope depends on the history only: most reads keep it
            self._slope = self._least_squares_slope()
            self._slope_valid = True
        self.vertical_speed = self._slope * 60.0

    def _least_squares_slope(self) -> float:
        """The least-squares slope (ft/s) over the window: one noisy sample at either end moves it far less
        than it moves the difference of the two ends (which broke every hold it crossed)."""
        history = self._history
        n = len(history)
        mean_t = sum(t for t, _ in history) / n
        mean_a = sum(a for _, a in history) / n
        spread = sum((t - mean_t) ** 2 for t, _ in history)
        return sum((t - mean_t) * (a - mean_a) for t, a in history) / spread

    def _wanted(self, altitude: float, gs: float) -> str:
        r, phase, vs = self.rules, self.phase, self.vertical_speed
        if phase in AIR_PHASES or (phase == "unknown" and gs >= r.airborne_kt):
            if gs < r.airborne_kt:
                return "landed"
            return self._air_phase(altitude, gs, vs)
        if phase == "takeoff":
            ground = self._ground_altitude if self._ground_altitude is not None else altitude
            if gs >= r.airborne_kt and altitude - ground >= r.liftoff_gain_ft:
                return "climb"
            return "takeoff" if gs >= r.takeoff_kt / 2 else "taxi"  # below half: a rejected takeoff
        if phase == "landed":
            return "gate" if gs < r.stopped_kt else "landed"
        # gate, taxi, unknown on the ground
        if gs >= r.takeoff_kt and phase != "unknown":
            return "takeoff"
        if gs >= r.taxi_kt:
            return "taxi"
        if gs < r.stopped_kt or phase in ("gate", "unknown"):
            return "gate"
        return "taxi"

    def _air_phase(self, altitude: float, gs: float, vs: float | None) -> str:
        r, phase = self.rules, self.phase
        if vs is None:  # not a second of altitude history yet
            return phase if phase in AIR_PHASES else "unknown"
        if vs > r.climb_fpm:
            return "climb"
        if phase == "approach" or (gs < r.approach_kt and altitude < r.approach_below_ft):
            return "approach"
        if vs < -r.climb_fpm:
            return "descent"
        if abs(vs) < r.level_fpm:
            return "cruise"
        return phase if phase in AIR_PHASES else "cruise"
