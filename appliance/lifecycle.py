"""The daemon's own state (ready, stopping, loop lag, watchdog) and the health of its components.

The daemon writes it; the maintenance listener and `STATUS=` read it. One place decides what "alive",
"degraded" and the overall health mean, so systemd, /health and `appliance status` never disagree.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from appliance.component import Check, Component, Status, worst

log = logging.getLogger("appliance.lifecycle")


@dataclass
class Lifecycle:
    started_monotonic: float = 0.0
    ready: bool = False
    stopping: bool = False
    reloading: bool = False
    loop_lag: float = 0.0  # seconds the event loop's periodic timer fired late, last measurement
    max_loop_lag: float = 1.0  # above this, the watchdog is not fed
    watchdog_interval: float | None = None
    watchdog_pings: int = 0
    watchdog_withheld: str = ""  # why the last ping was not sent ("" when it was)
    start_failures: dict[str, str] = field(default_factory=dict)
    start_seconds: dict[str, float] = field(default_factory=dict)  # how long each component's start() took
    reload_error: str = ""  # the last refused config reload, "" after a good one
    status_line: str = ""


def component_check(component: Component, lifecycle: Lifecycle | None = None) -> Check:
    """A component's health; a start failure or a health() that raises is a fail, never an exception."""
    if lifecycle is not None and component.name in lifecycle.start_failures:
        return Check.failing(f"did not start: {lifecycle.start_failures[component.name]}")
    try:
        return component.health()
    except Exception as error:
        log.exception("health() of %s raised", component.name)
        return Check.failing(f"health check raised {type(error).__name__}: {error}")


def is_alive(component: Component, lifecycle: Lifecycle | None = None) -> bool:
    """A component's optional `alive` (a method or a bool property) if it has one, else: its health is not fail."""
    if lifecycle is not None and component.name in lifecycle.start_failures:
        return False
    try:
        alive = getattr(component, "alive", None)
        if callable(alive):
            return bool(alive())
        if isinstance(alive, bool):
            return alive
    except Exception:
        log.exception("alive of %s raised", component.name)
        return False
    return component_check(component).status is not Status.FAIL


def overall(checks: Iterable[tuple[Component, Check]], daemon_checks: Iterable[Check] = ()) -> Status:
    """The daemon's health: the worst of its components', where a non-critical component's fail counts as warn
    (the daemon serves, degraded: a missing modem does not make the cabin server unhealthy), and of the
    daemon-wide `daemon_checks` (the alarms' check: an active alarm warns), taken as they are."""
    statuses = [check.status for check in daemon_checks]
    for component, check in checks:
        status = check.status
        if status is Status.FAIL and not component.critical:
            status = Status.WARN
        statuses.append(status)
    return worst(statuses)


def degraded(checks: Iterable[tuple[Component, Check]]) -> list[str]:
    """Names of components whose health is not pass, with the reason: "modem: no SIM"."""
    return [f"{c.name}: {check.reason or check.status.value}" for c, check in checks if check.status is not Status.PASS]
