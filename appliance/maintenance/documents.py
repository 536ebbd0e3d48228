"""The maintenance listener's JSON documents: /health (draft-inadarei-api-health-check) and /api/v1/status.

/api/v1/status has the daemon's own sections and, for each built component, the sections its spec's `status`
names (e.g. storage: "storage" and "outbox"); a section whose reader raises becomes {"error": ...} on its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from appliance import __version__
from appliance.alarms import Alarms
from appliance.component import Check, Status
from appliance.core.spec import Assembly
from appliance.lifecycle import overall
from appliance.metrics import Metrics
from appliance.ports import BootInfo
from appliance.timebase import Clock

log = logging.getLogger("appliance.maintenance")


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class MaintenanceView:
    """What the maintenance listener reports on: every built component (with its spec), the alarms, the
    metrics registry, the clock, and the boot id (the health document's serviceId)."""

    assembly: Assembly
    alarms: Alarms
    metrics: Metrics
    clock: Clock
    boot: BootInfo | None = None

    @property
    def lifecycle(self) -> Any:
        return self.assembly.lifecycle


def _checks(ctx: MaintenanceView) -> list[tuple[Any, Check]]:
    return ctx.assembly.checks()


def _alarm_entries(ctx: MaintenanceView, now: str) -> tuple[Check | None, list[dict[str, Any]]]:
    """The alarms' check and its health+json entries: one per latched alarm (warn while its cause is present,
    pass once cleared and awaiting its acknowledgement), or one "no alarm" entry."""
    check = ctx.alarms.check()
    entries = [
        {
            "componentId": record["name"],
            "componentType": "alarm",
            "status": (Status.WARN if record["active"] else Status.PASS).value,
            "observedValue": record["active"],
            "output": record["reason"] if record["active"] else f"cleared at {record['cleared']}, not acknowledged",
            "time": record["raised"] or now,
        }
        for record in ctx.alarms.snapshot()
    ]
    if not entries:
        entries = [{"componentId": "alarms", "componentType": "system", "status": check.status.value,
                    "output": check.reason, "time": now}]
    return check, entries


def health_document(ctx: MaintenanceView) -> tuple[Status, dict[str, Any]]:
    """The overall status and the application/health+json body: one check per component, the alarms (an active
    one warns), plus the daemon's own readiness and event-loop lag."""
    now = _iso(ctx.clock.wall())
    pairs = _checks(ctx)
    alarm_check, alarm_entries = _alarm_entries(ctx, now)
    lifecycle = ctx.lifecycle
    checks: dict[str, list[dict[str, Any]]] = {}
    for component, check in pairs:
        entry: dict[str, Any] = {
            "componentId": component.name,
            "componentType": "component",
            "status": check.status.value,
            "critical": component.critical,
            "time": now,
        }
        if check.reason:
            entry["output"] = check.reason
        if check.details:
            entry["details"] = dict(check.details)
        checks[f"{component.name}:health"] = [entry]
    if alarm_entries:
        checks["alarms:active"] = alarm_entries
    lag_status = Status.PASS if lifecycle.loop_lag <= lifecycle.max_loop_lag else Status.WARN
    checks["daemon:loopLag"] = [
        {
            "componentId": "daemon",
            "componentType": "system",
            "observedValue": round(lifecycle.loop_lag, 4),
            "observedUnit": "s",
            "status": lag_status.value,
            "time": now,
        }
    ]
    ready_status = Status.PASS if lifecycle.ready else Status.FAIL
    checks["daemon:ready"] = [
        {
            "componentId": "daemon",
            "componentType": "system",
            "observedValue": lifecycle.ready,
            "status": ready_status.value,
            "time": now,
            **({"output": "stopping"} if lifecycle.stopping else {}),
        }
    ]
    status = overall(pairs, [alarm_check] if alarm_check is not None else [])
    if not lifecycle.ready and status is Status.PASS:
        status = Status.WARN  # starting or stopping: alive, not yet (or no longer) serving
    body: dict[str, Any] = {
        "status": status.value,
        "version": __version__.split(".")[0],
        "releaseId": __version__,
        "serviceId": ctx.boot.boot_id if ctx.boot is not None else "appliance",
        "description": "cabin server in-flight entertainment daemon",
        "checks": checks,
    }
    if lifecycle.status_line:
        body["output"] = lifecycle.status_line
    return status, body


def _guard(name: str, read: Callable[[], Any]) -> Any:
    """A section of the status document; a service that raises gives {"error": ...} for its section only."""
    try:
        return read()
    except Exception as error:
        log.exception("status section %s failed", name)
        return {"error": f"{type(error).__name__}: {error}"}


def status_document(ctx: MaintenanceView) -> dict[str, Any]:
    lifecycle = ctx.lifecycle
    status, _ = health_document(ctx)
    components = [
        {
            "name": c.name,
            "critical": c.critical,
            "status": check.status.value,
            "reason": check.reason,
            "details": dict(check.details),
        }
        for c, check in _checks(ctx)
    ]
    document: dict[str, Any] = {
        "status": status.value,
        "version": __version__,
        "daemon": {
            "ready": lifecycle.ready,
            "stopping": lifecycle.stopping,
            "status": lifecycle.status_line,
            "uptime_seconds": round(time.monotonic() - lifecycle.started_monotonic, 1)
            if lifecycle.started_monotonic
            else None,
            "start_seconds": dict(lifecycle.start_seconds),
            "loop_lag_seconds": round(lifecycle.loop_lag, 4),
            "watchdog_interval_seconds": lifecycle.watchdog_interval,
            "watchdog_pings": lifecycle.watchdog_pings,
            "watchdog_withheld": lifecycle.watchdog_withheld or None,
            "reload_error": lifecycle.reload_error or None,
            "restart_needed": list(lifecycle.restart_needed),
        },
        "components": components,
        "alarms": _guard("alarms", ctx.alarms.snapshot),
    }
    for installed in ctx.assembly.installed:
        for section, read in installed.spec.status.items():
            component = installed.component
            document[section] = _guard(section, lambda: read(component))  # noqa: B023 - called at once
    return document
