"""FlightState: the live flight state built from decoded ARINC 429 words (implements appliance.ports.FlightView).

Per (label, SDI) the latest value, its status and when it arrived; a value older than 3x its label's maximum
transmit interval is stale. Functional-test and failure-warning values are never handed out as real:
`usable()` gives None and `snapshot()` a null value with the status. `apply(batch, now)` runs once per read of
the port, so it only touches the few (label, SDI) keys the read brought.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from appliance.avionics.phase import PhaseRules, PhaseTracker
from appliance.ports import FlightInfo, ParamStatus, Reading
from appliance.timebase import Clock
from hal.arinc429 import LABELS, Batch, FlightInformation, spec_for

FLIGHT_ID_LABELS = ("233", "234", "235", "236")
#: Parameter names in the label table's order (flight_id once), then the assembled block.
PARAMETER_NAMES: tuple[str, ...] = (*dict.fromkeys(s.name for s in LABELS if s.name != "flight_information"),
                                    "flight_information")
_HIDDEN = frozenset({"functional_test", "failure_warning"})  # never presented as real, not even as "last known"
_RANK = {"normal": 0, "stale": 1, "no_computed_data": 2, "functional_test": 3, "failure_warning": 4}


@dataclass(slots=True)
class Item:
    """The latest word of one (label, SDI)."""

    name: str
    label: str
    sdi: int
    channel: int
    units: str
    stale_after: float
    value: Any
    status: str
    seen: float  # monotonic seconds

    def status_at(self, now: float) -> ParamStatus:
        if now - self.seen > self.stale_after:
            return "stale"
        status: ParamStatus = self.status  # type: ignore[assignment]
        return status


class FlightState:
    """The flight state the reader updates and every other component reads (FlightView)."""

    def __init__(self, clock: Clock, rules: PhaseRules | None = None) -> None:
        self._clock = clock
        self._items: dict[tuple[str, int], Item] = {}
        self._by_name: dict[str, list[Item]] = {}
        self._label_seen: dict[str, float] = {}
        self._block: FlightInformation | None = None
        self._block_seen = 0.0
        self._block_stale_after = spec_for("360").stale_after_s
        self._flight_id: str | None = None
        self.tracker = PhaseTracker(rules)
        self.updates = 0

    # --- updating (the reader) -----------------------------------------------------------------------------

    def apply(self, batch: Batch, now: float | None = None) -> None:
        """Take what one read brought. `now` is the monotonic time it arrived (default: the clock's)."""
        if now is None:
            now = self._clock.monotonic()
        items, seen = self._items, self._label_seen
        for (channel, label, sdi), word in batch.latest.items():
            name = word.name
            if name is None:
                continue  # a label the table does not know: counted as a word, nothing to show
            seen[label] = now
            item = items.get((label, sdi))
            if item is None:
                spec = spec_for(label)
                item = Item(name, label, sdi, channel, word.units, spec.stale_after_s, word.value, word.status, now)
                items[(label, sdi)] = item
                self._by_name.setdefault(name, []).append(item)
                self._by_name[name].sort(key=lambda i: i.sdi)
            else:
                item.value, item.status, item.seen, item.channel = word.value, word.status, now, channel
        if batch.flight_information:
            self._block, self._block_seen = batch.flight_information[-1], now
            seen["360"] = now
        if batch.flight_ids:
            self._flight_id = batch.flight_ids[-1].flight_id
        self.updates += 1
        self.tick(now)

    def tick(self, now: float | None = None) -> None:
        """Advance the derived phase (also when nothing arrives, so it can go to unknown)."""
        if now is None:
            now = self._clock.monotonic()
        altitude, ground_speed = self._usable_at("altitude", now), self._usable_at("ground_speed", now)
        self.tracker.update(
            now,
            float(altitude) if isinstance(altitude, int | float) else None,
            float(ground_speed) if isinstance(ground_speed, int | float) else None,
        )

    # --- FlightView -----------------------------------------------------------------------------------------

    def reading(self, name: str) -> Reading | None:
        return self._reading_at(name, self._clock.monotonic())

    def usable(self, name: str) -> float | str | None:
        value = self._usable_at(name, self._clock.monotonic())
        return value if isinstance(value, float | int | str) else None

    @property
    def phase(self) -> str:
        return self.tracker.phase

    @property
    def on_ground(self) -> bool | None:
        return self.tracker.on_ground

    def flight_info(self) -> FlightInfo:
        now = self._clock.monotonic()
        block = self._block if self._block is not None and now - self._block_seen <= self._block_stale_after else None
        flight_id = self._usable_at("flight_id", now)
        number = block.flight_number if block is not None else self._usable_at("flight_number", now)
        return FlightInfo(
            flight_id=str(flight_id) if flight_id is not None else None,
            flight_number=str(number) if number is not None else None,
            origin=block.origin if block is not None else None,
            destination=block.destination if block is not None else None,
        )

    def utc(self) -> datetime | None:
        now = self._clock.monotonic()
        time_item, date = self._best("utc_time", now), self._usable_at("date", now)
        if time_item is None or time_item.status_at(now) != "normal" or not isinstance(date, str):
            return None
        try:
            stamp = datetime.fromisoformat(f"{date}T{time_item.value}").replace(tzinfo=UTC)
        except (TypeError, ValueError):
            return None
        return stamp + timedelta(seconds=now - time_item.seen)

    def snapshot(self) -> dict[str, Any]:
        now = self._clock.monotonic()
        parameters: dict[str, Any] = {}
        for name in PARAMETER_NAMES:
            reading = self._reading_at(name, now)
            if reading is not None:
                parameters[name] = {
                    "value": reading.value if reading.status == "normal" else None,
                    "units": reading.units,
                    "status": reading.status,
                    "age": round(reading.age, 3),
                }
        info = self.flight_info()
        return {
            "parameters": parameters,
            "phase": self.phase,
            "on_ground": self.on_ground,
            "flight": {
                "flight_id": info.flight_id,
                "flight_number": info.flight_number,
                "origin": info.origin,
                "destination": info.destination,
            },
        }

    # --- more than FlightView -------------------------------------------------------------------------------

    def last_seen(self) -> dict[str, float]:
        """Seconds since each label (octal) last arrived."""
        now = self._clock.monotonic()
        return {label: now - seen for label, seen in sorted(self._label_seen.items())}

    def items(self) -> list[dict[str, Any]]:
        """Every (label, SDI) item, for diagnostics."""
        now = self._clock.monotonic()
        return [
            {"label": i.label, "sdi": i.sdi, "channel": i.channel, "name": i.name, "status": i.status_at(now),
             "value": None if i.status in _HIDDEN else i.value, "age": round(now - i.seen, 3)}
            for i in sorted(self._items.values(), key=lambda i: (i.label, i.sdi))
        ]

    def stale_names(self) -> list[str]:
        now = self._clock.monotonic()
        return [name for name in self._by_name if all(i.status_at(now) == "stale" for i in self._by_name[name])]

    # --- internals ------------------------------------------------------------------------------------------

    def _best(self, name: str, now: float) -> Item | None:
        """Of the SDIs carrying `name`: the lowest normal and fresh one, else the most recent."""
        candidates = self._by_name.get(name)
        if not candidates:
            return None
        for item in candidates:
            if item.status_at(now) == "normal":
                return item
        return max(candidates, key=lambda i: i.seen)

    def _usable_at(self, name: str, now: float) -> Any:
        if name == "flight_id":
            reading = self._flight_id_reading(now)
            return reading.value if reading is not None and reading.status == "normal" else None
        if name == "flight_information":
            reading = self._block_reading(now)
            return reading.value if reading is not None and reading.status == "normal" else None
        item = self._best(name, now)
        if item is None or item.status_at(now) != "normal":
            return None
        return item.value

    def _reading_at(self, name: str, now: float) -> Reading | None:
        if name == "flight_id":
            return self._flight_id_reading(now)
        if name == "flight_information":
            return self._block_reading(now)
        item = self._best(name, now)
        if item is None:
            return None
        status = item.status_at(now)
        value = None if item.status in _HIDDEN else item.value
        return Reading(name, value, item.units, status, now - item.seen)

    def _flight_id_reading(self, now: float) -> Reading | None:
        """Labels 233-236 together: the worst status of the four, the age of the oldest."""
        present = self._by_name.get("flight_id", [])
        if self._flight_id is None or not present:
            return None
        statuses: list[ParamStatus] = [i.status_at(now) for i in present]
        if len({i.label for i in present}) < len(FLIGHT_ID_LABELS):
            statuses.append("no_computed_data")
        status = max(statuses, key=_RANK.__getitem__)
        value = None if status in _HIDDEN else self._flight_id
        return Reading("flight_id", value, "", status, max(now - i.seen for i in present))

    def _block_reading(self, now: float) -> Reading | None:
        if self._block is None:
            return None
        age = now - self._block_seen
        block = self._block
        value = {"flight_number": block.flight_number, "origin": block.origin, "destination": block.destination}
        return Reading("flight_information", value, "", "stale" if age > self._block_stale_after else "normal", age)
