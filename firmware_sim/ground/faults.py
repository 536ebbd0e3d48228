"""Fault injection for the simulated ground station: error answers (503 ...), slow answers and dropped
connections, for the next N requests or a share of them, optionally only on one path prefix."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any, Literal

FaultKind = Literal["error", "slow", "drop", "drop_after"]
KINDS: tuple[str, ...] = ("error", "slow", "drop", "drop_after")


@dataclass
class FaultRule:
    """`error` answers `status`; `slow` waits `seconds` then answers normally; `drop` closes the connection
    before the request is processed; `drop_after` processes it (an order is accepted) and then closes the
    connection without answering, the case that makes an idempotency key necessary."""

    kind: FaultKind
    count: int | None = None  # how many more requests it hits; None: no limit
    ratio: float = 1.0  # the share of matching requests it hits
    status: int = 503
    seconds: float = 0.0
    path: str = ""  # only requests whose path starts with this

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_rule(body: Any) -> FaultRule:
    """A rule from the control API's JSON. Raises ValueError with a message for the client."""
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    unknown = set(body) - {"kind", "count", "ratio", "status", "seconds", "path"}
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
    kind = body.get("kind")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    count = body.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise ValueError("count must be a positive integer")
    ratio = body.get("ratio", 1.0)
    if not isinstance(ratio, int | float) or isinstance(ratio, bool) or not 0.0 < ratio <= 1.0:
        raise ValueError("ratio must be a number in (0, 1]")
    status = body.get("status", 503)
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        raise ValueError("status must be an HTTP error status (400..599)")
    seconds = body.get("seconds", 0.0)
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0.0 <= seconds <= 3600.0:
        raise ValueError("seconds must be a number in [0, 3600]")
    path = body.get("path", "")
    if not isinstance(path, str):
        raise ValueError("path must be a string")
    if kind == "slow" and seconds == 0.0:
        raise ValueError("a slow fault needs seconds > 0")
    return FaultRule(kind, count, float(ratio), status, float(seconds), path)


class FaultPlan:
    """The active rules, first match wins; a rule with a count is removed once used up."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rules: list[FaultRule] = []
        self.fired: dict[str, int] = dict.fromkeys(KINDS, 0)
        self._rng = rng or random.Random()

    def add(self, rule: FaultRule) -> None:
        self.rules.append(rule)

    def clear(self) -> None:
        self.rules.clear()

    def pick(self, path: str) -> FaultRule | None:
        for rule in self.rules:
            if not path.startswith(rule.path):
                continue
            if rule.ratio < 1.0 and self._rng.random() >= rule.ratio:
                continue
            if rule.count is not None:
                rule.count -= 1
                if rule.count <= 0:
                    self.rules.remove(rule)
            self.fired[rule.kind] += 1
            return rule
        return None

    def state(self) -> dict[str, Any]:
        return {"rules": [r.as_dict() for r in self.rules], "fired": dict(self.fired)}
