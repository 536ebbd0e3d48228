"""`appliance status` for a person at a terminal: the maintenance listener's /health, /api/v1/status and
/api/v1/outbox turned into plain sentences. Yes and no instead of True and False, nothing instead of None,
ISO times instead of epoch seconds, "16 min" instead of 980.0 s, each reason said once.

Rendering never raises on a document of another version: a missing section is left out, an unknown value is
shown as text. Anything /health reports as warn or fail (components, the daemon's own checks, alarms and
whatever checks a newer daemon adds) appears with its reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

MARKS = {"pass": "ok  ", "warn": "WARN", "fail": "FAIL"}
WALL_MIN = 1e9  # seconds since the epoch: anything later than 2001 is a wall time, not a duration


def duration(seconds: Any) -> str:
    """ "42 s", "16 min", "3 h 12 min", "2 d 4 h"; "?" when unknown."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return "?"
    s = max(int(seconds), 0)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        hours, minutes = divmod(s // 60, 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(s // 3600, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def iso(value: Any) -> str:
    """A wall time as ISO 8601 UTC (epoch seconds or an ISO string already); "?" when unknown."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= WALL_MIN:
        return datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return "?"


def text(value: Any) -> str:
    """A value for people: yes/no, "none", ISO for wall times, nested values as "k v" pairs."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return iso(value) if value >= WALL_MIN else f"{value:g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {text(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list):
        return ", ".join(text(v) for v in value) or "none"
    return str(value)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _header(health: dict[str, Any], status: dict[str, Any]) -> list[str]:
    daemon = status.get("daemon") or {}
    word = {"pass": "healthy", "warn": "degraded", "fail": "failing"}.get(str(health.get("status")), "unknown")
    state = "stopping" if daemon.get("stopping") else ("ready" if daemon.get("ready") else "not ready")
    up = f", up {duration(daemon['uptime_seconds'])}" if daemon.get("uptime_seconds") is not None else ""
    lines = [f"appliance {status.get('version', '?')}: {word} ({health.get('status', '?')}), {state}{up}"]
    if daemon.get("status"):
        lines.append(f"  {daemon['status']}")
    return lines


def _components(status: dict[str, Any]) -> list[str]:
    lines = ["components:"]
    for component in status.get("components") or []:
        mark = MARKS.get(component.get("status"), str(component.get("status")))
        critical = " (critical)" if component.get("critical") else ""
        reason = f": {component['reason']}" if component.get("reason") else ""
        lines.append(f"  [{mark}] {component.get('name')}{critical}{reason}")
    return lines


def _other_checks(health: dict[str, Any], status: dict[str, Any]) -> list[str]:
    """Every /health check that is not pass and not a component already listed (the daemon's own, alarms...)."""
    listed = {f"{c.get('name')}:health" for c in status.get("components") or []}
    lines = []
    checks = health.get("checks")
    for key, entries in (checks.items() if isinstance(checks, dict) else []):
        if key in listed or not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("status") in ("pass", None):
                continue
            reason = entry.get("output")
            if reason is None and "observedValue" in entry:
                unit = f" {entry['observedUnit']}" if entry.get("observedUnit") else ""
                reason = f"{text(entry['observedValue'])}{unit}"
            detail = f": {reason}" if reason not in (None, "") else ""
            lines.append(f"  [{MARKS.get(entry['status'], entry['status'])}] {key}{detail}")
    return ["checks:", *lines] if lines else []


def _daemon(status: dict[str, Any]) -> list[str]:
    daemon = status.get("daemon") or {}
    lag = daemon.get("loop_lag_seconds")
    lag_text = f"{lag * 1000:.0f} ms" if isinstance(lag, int | float) else "?"
    interval = daemon.get("watchdog_interval_seconds")
    watchdog = f"every {interval:g} s, {daemon.get('watchdog_pings', 0)} pings" if interval else "off"
    if daemon.get("watchdog_withheld"):
        watchdog += f", WITHHELD: {daemon['watchdog_withheld']}"
    lines = [f"event loop lag {lag_text}; watchdog {watchdog}"]
    if daemon.get("reload_error"):
        lines.append(f"last config reload refused: {daemon['reload_error']}")
    return lines


def _alarms(status: dict[str, Any]) -> list[str]:
    alarms = status.get("alarms")
    if alarms is None:
        return []
    if isinstance(alarms, dict) and "error" in alarms:
        return [f"alarms: unknown ({alarms['error']})"]
    if not alarms:
        return ["alarms: none"]
    lines = ["alarms:"]
    for alarm in alarms if isinstance(alarms, list) else []:
        if alarm.get("condition", True):
            state = "active"
        else:
            state = "cause gone, acknowledged" if alarm.get("acked") else "cause gone, awaiting acknowledgement"
        raised = f", raised {iso(alarm['raised'])}" if alarm.get("raised") is not None else ""
        reason = f": {alarm['reason']}" if alarm.get("reason") and alarm.get("reason") != alarm.get("name") else ""
        lines.append(f"  {alarm.get('name')}{reason} ({state}{raised})")
    return lines


def _flight(status: dict[str, Any]) -> list[str]:
    flight = status.get("flight")
    if not isinstance(flight, dict) or "phase" not in flight:
        return []
    info = flight.get("flight") or {}
    route = f" {info.get('origin') or '?'}-{info.get('destination') or '?'}" if info else ""
    return [f"flight: {flight.get('phase')}{route} {info.get('flight_number') or ''}".rstrip()]


def _modem(status: dict[str, Any]) -> list[str]:
    modem = status.get("modem")
    if not isinstance(modem, dict) or "state" not in modem:
        return []
    state = str(modem.get("state"))
    reason = modem.get("reason")
    said_below = ("home", "roaming") if modem.get("registered") else ()
    parts = [f"{state} ({reason})" if reason and reason != state and reason not in said_below else state]
    if modem.get("registered"):
        parts.append("roaming" if modem.get("roaming") else "home network")
        if modem.get("operator"):
            parts.append(f"operator {modem['operator']}")
        if modem.get("technology"):
            parts.append(str(modem["technology"]).upper())
    signal = modem.get("signal_dbm")
    parts.append(f"signal {signal:g} dBm" if isinstance(signal, int | float) else "no signal reading")
    if modem.get("sim") not in (None, "READY"):
        parts.append(f"SIM {modem['sim']}")
    return ["modem: " + ", ".join(parts)]


def _groundlink(status: dict[str, Any]) -> list[str]:
    ground = status.get("groundlink")
    if not isinstance(ground, dict) or "window" not in ground:
        return []
    window, reason = str(ground["window"]), str(ground.get("reason") or "")
    said = f"window {reason}" if reason.startswith(window) else f"window {window}" + (f": {reason}" if reason else "")
    parts = [said, _plural(int(ground.get("errors") or 0), "error")]
    if ground.get("last_success") is not None:
        parts.append(f"last success {iso(ground['last_success'])}")
    if ground.get("last_error"):
        parts.append(f"last error: {ground['last_error']}")
    return ["ground link: " + "; ".join(parts)]


def _kinds(section: dict[str, Any]) -> str:
    parts = []
    for kind, group in sorted(section.items()):
        oldest = group.get("oldest_age_seconds")
        parts.append(f"{kind} {group.get('count', 0)}" + (f", oldest {duration(oldest)}" if oldest is not None else ""))
    return "; ".join(parts)


def _outbox(status: dict[str, Any], outbox: dict[str, Any] | None) -> list[str]:
    """From /api/v1/outbox when the daemon has it, else from the status document's counts."""
    if isinstance(outbox, dict) and isinstance(outbox.get("pending"), dict):
        pending, dead = outbox["pending"], outbox.get("dead") or {}
        total = sum(int(g.get("count", 0)) for g in pending.values())
        dead_total = sum(int(g.get("count", 0)) for g in dead.values())
        lines = [
            f"outbox: {total} pending" + (f" ({_kinds(pending)})" if pending else "")
            + f"; {_plural(dead_total, 'dead letter')}" + (f" ({_kinds(dead)})" if dead else "")
        ]
        for kind, group in sorted(dead.items()):
            items = group.get("items") or []
            if items:
                last = items[-1]
                lines.append(f"    latest {kind}: {last.get('reason') or last.get('last_error') or 'no reason'}")
        for kind, group in sorted(pending.items()):
            failing = [i for i in group.get("items") or [] if i.get("last_error")]
            if failing:
                lines.append(f"  {kind} retrying ({_plural(len(failing), 'item')}): {failing[-1]['last_error']}")
        return lines
    section = status.get("outbox")
    if not isinstance(section, dict) or "pending" not in section:
        return []
    counts = section.get("pending") or {}
    detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v) or "none"
    return [f"outbox: pending {detail}; {_plural(int(section.get('dead_letters') or 0), 'dead letter')}"]


def _content_and_storage(status: dict[str, Any]) -> list[str]:
    lines = []
    content = status.get("content")
    if isinstance(content, dict) and "active_id" in content:
        lines.append(f"content: active bundle {content.get('active_id') or 'none'}")
    storage = status.get("storage")
    if isinstance(storage, dict) and "dir" in storage:
        disk = storage.get("disk") or {}
        parts = [str(storage.get("dir"))]
        if isinstance(disk.get("free"), int | float):
            parts.append(f"{disk['free'] / 1e9:.1f} GB free")
        boot = storage.get("boot") or {}
        if "unsafe_shutdowns" in boot:
            parts.append(_plural(int(boot["unsafe_shutdowns"]), "unsafe shutdown"))
        if boot.get("last_shutdown_reason"):
            parts.append(f"last shutdown: {boot['last_shutdown_reason']}")
        lines.append("storage: " + ", ".join(parts))
    return lines


def render(health: dict[str, Any], status: dict[str, Any], outbox: dict[str, Any] | None = None) -> str:
    """The terminal summary."""
    lines = _header(health, status) + _components(status) + _other_checks(health, status) + _daemon(status)
    for section in (_alarms, _flight, _modem, _groundlink):
        lines += section(status)
    lines += _outbox(status, outbox) + _content_and_storage(status)
    return "\n".join(lines)
