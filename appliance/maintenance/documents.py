"""The maintenance listener's JSON documents: /health (draft-inadarei-api-health-check) and /api/v1/status.

Each takes what exists in the context: a service nobody built is null, never an error.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from appliance import __version__
from appliance.component import Check, Status
from appliance.lifecycle import component_check, overall

if TYPE_CHECKING:
    from appliance.daemon import Context

log = logging.getLogger("appliance.maintenance")


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _checks(ctx: Context) -> list[tuple[Any, Check]]:
    return [(c, component_check(c, ctx.lifecycle)) for c in ctx.components]


def _alarm_entries(ctx: Context, now: str) -> tuple[Check | None, list[dict[str, Any]]]:
    """The alarms' check and its health+json entries: one per latched alarm (warn while its cause is present,
    pass once cleared and awaiting its acknowledgement), or one "no alarm" entry."""
    if ctx.alarms is None:
        return None, []
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


def health_document(ctx: Context) -> tuple[Status, dict[str, Any]]:
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


def _storage(ctx: Context) -> dict[str, Any]:
    directory = ctx.config.storage.dir
    section: dict[str, Any] = {"dir": directory}
    try:
        usage = shutil.disk_usage(directory)
        section["disk"] = {"total": usage.total, "used": usage.used, "free": usage.free}
    except OSError as error:
        section["disk"] = {"error": str(error)}
    boot = ctx.boot
    if boot is not None:
        section["boot"] = {
            "boot_id": boot.boot_id,
            "previous_shutdown_clean": boot.previous_shutdown_clean,
            "unsafe_shutdowns": boot.unsafe_shutdowns,
            "last_shutdown_reason": boot.last_shutdown_reason,
        }
    else:
        section["boot"] = None
    return section


def status_document(ctx: Context) -> dict[str, Any]:
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
    outbox = ctx.outbox
    flight = ctx.flight
    discretes = ctx.discretes
    modem = ctx.modem
    content = ctx.content
    groundlink = getattr(ctx, "groundlink", None)  # the ground link's GroundLinkControl, where it is built
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
        },
        "components": components,
        "flight": _guard("flight", flight.snapshot) if flight is not None else None,
        "discretes": _guard("discretes", discretes.snapshot) if discretes is not None else None,
        "alarms": _guard("alarms", ctx.alarms.snapshot) if ctx.alarms is not None else None,
        "modem": _guard("modem", modem.snapshot) if modem is not None else None,
        "outbox": _guard(
            "outbox", lambda: {"pending": outbox.counts(), "dead_letters": len(outbox.dead_letters())}
        )
        if outbox is not None
        else None,
        "groundlink": _guard("groundlink", groundlink.snapshot) if groundlink is not None else None,
        "content": _guard("content", lambda: {"active_id": content.active_id()}) if content is not None else None,
        "storage": _guard("storage", lambda: _storage(ctx)),
    }
    for component in ctx.components:  # a component's own section (e.g. "avionics": per label status)
        section = getattr(component, "status_section", None)
        if callable(section) and component.name not in document:
            document[component.name] = _guard(component.name, section)
    return document
