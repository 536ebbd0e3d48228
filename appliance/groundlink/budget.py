"""The roaming byte budget: bytes spent per operator (MCC+MNC) per UTC day, persisted with an atomic replace
before each exchange (spending is reserved first, so a crash can only over-count, never let the budget be
exceeded)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appliance.fs.atomic import atomic_write_text
from appliance.groundlink.client import BudgetExhausted
from appliance.timebase import Clock

log = logging.getLogger("appliance.groundlink")


class RoamingLedger:
    """`groundlink-roaming.json`: {"day": "YYYY-MM-DD", "spent": {"26202": bytes}}."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        self.day = ""
        self.spent: dict[str, int] = {}
        self._load()

    def _today(self) -> str:
        return datetime.fromtimestamp(self.clock.wall(), UTC).strftime("%Y-%m-%d")

    def _load(self) -> None:
        try:
            data: Any = json.loads(self.path.read_text())
            day = data["day"]
            spent = {str(k): int(v) for k, v in data["spent"].items()}
            if not isinstance(day, str):
                raise TypeError("day")
        except FileNotFoundError:
            return
        except (ValueError, TypeError, KeyError, AttributeError) as problem:
            # A damaged ledger must not give a fresh budget away: count today as spent in full.
            log.warning("roaming ledger %s unreadable (%s): today's budget counts as spent", self.path, problem)
            self.day = self._today()
            self.spent = {"*": -1}
            return
        self.day, self.spent = day, spent

    def spent_today(self, operator: str) -> int:
        if self.day != self._today():
            return 0
        if self.spent.get("*") == -1:
            return 1 << 62
        return self.spent.get(operator, 0)

    def add(self, operator: str, nbytes: int) -> None:
        today = self._today()
        if self.day != today:
            self.day, self.spent = today, {}
        if self.spent.get("*") == -1:
            return
        self.spent[operator] = max(0, self.spent.get(operator, 0) + nbytes)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, json.dumps({"day": self.day, "spent": self.spent}, sort_keys=True))

    def snapshot(self) -> dict[str, Any]:
        return {"day": self.day, "spent": dict(self.spent)}


class RoamingMeter:
    """A `Meter` for one operator: refuses an exchange that could take today's spending past the budget."""

    def __init__(self, ledger: RoamingLedger, operator: str, budget: int) -> None:
        self.ledger = ledger
        self.operator = operator
        self.budget = budget

    def remaining(self) -> int:
        return max(0, self.budget - self.ledger.spent_today(self.operator))

    def reserve(self, nbytes: int) -> None:
        if nbytes > self.remaining():
            raise BudgetExhausted(f"roaming on {self.operator}: {self.remaining()} of {self.budget} bytes left today")
        self.ledger.add(self.operator, nbytes)
        self.ledger.save()

    def settle(self, reserved: int, actual: int) -> None:
        # Written with the next reservation; a crash before that keeps the larger (reserved) figure.
        self.ledger.add(self.operator, actual - reserved)
