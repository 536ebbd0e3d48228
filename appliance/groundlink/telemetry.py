"""Priority 2 of the window: one telemetry summary per full cycle, POSTed like an order (with an idempotency key
so a retry is not counted twice). Metrics proper are scraped by Prometheus over the VPN; this summary is what
the fleet desk reads without it: every component's health, the outbox backlog and dead letters, the link's
counters, the clock's skew, and the warnings and errors logged since the last summary."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from appliance import __version__
from appliance.component import Component
from appliance.ports import Outbox


def summary(
    *,
    boot_id: str,
    number: int,
    wall: float,
    components: Callable[[], list[Component]],
    outbox: Outbox | None,
    link: dict[str, Any],
    logs: list[dict[str, Any]],
    trust: dict[str, Any] | None = None,
    release: dict[str, Any] | None = None,
) -> dict[str, Any]:
    health: dict[str, Any] = {}
    for component in components():
        try:
            check = component.health()
            health[component.name] = {"status": str(check.status), "reason": check.reason}
        except Exception as problem:  # a component's bug must not stop the report
            health[component.name] = {"status": "fail", "reason": f"health() raised {problem!r}"}
    return {
        "version": __version__,
        "boot_id": boot_id,
        "number": number,
        "wall": wall,
        "components": health,
        "outbox": {
            "pending": outbox.counts() if outbox is not None else {},
            "dead_letters": outbox.dead_count() if outbox is not None else 0,
        },
        "groundlink": link,
        "logs": logs,  # warnings and errors since the last summary the station confirmed
        "release": release,  # the updater's current, committed, trial and refused releases (with reasons)
        "trust": trust,  # TUF metadata versions in use, the refusal being reported (`refusing`), counts by reason
    }


def encode(report: dict[str, Any]) -> bytes:
    return json.dumps(report, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")
