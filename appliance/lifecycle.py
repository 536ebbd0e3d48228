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

#: `appliance run`'s exit status after a power-fail stop (EX_TEMPFAIL: everything was flushed and the daemon
#: stopped in order because the power did not come back; try again). Not 0: with the unit's Restart=on-failure a
#: box that survives a long brown-out must get its daemon back. The unit lists it in SuccessExitStatus= (it is
#: not a failure of the daemon) and RestartForceExitStatus= (restarted whatever Restart= says).
EX_POWER_FAIL = 75


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
    restart_needed: list[str] = field(default_factory=list)  # keys the last reload could not apply live
    status_line: str = ""
    stop_reason: str = ""  # why the daemon is stopping (first request wins)
    shutdown_reason: str = "orderly stop"  # what the clean-shutdown marker records (storage writes it last)
    exit_status: int = 0  # what `appliance run` exits with after an orderly stop (EX_POWER_FAIL after a power fail)

    def power_fail_stop(self, reason: str) -> None:
        """The power did not come back: the stop is recorded as a power fail and exits EX_POWER_FAIL."""
        self.shutdown_reason = reason if reason.startswith("power fail") else f"power fail: {reason}"
        self.exit_status = EX_POWER_FAIL


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
