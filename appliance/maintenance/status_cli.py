"""`appliance status [--json] [--config PATH] [--url URL] [--token-file PATH]`: ask the running daemon's
maintenance listener and print a summary for an engineer at a terminal.

Exit status: 0 healthy, 1 degraded (warn or fail, or not ready), 2 unreachable (no answer, or refused the token).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from appliance.config import ConfigError
from appliance.simdiscovery import Ambiguous

EXIT_HEALTHY, EXIT_DEGRADED, EXIT_UNREACHABLE = 0, 1, 2
TIMEOUT = 5.0


class Unreachable(Exception):
    pass


def _endpoint(args: argparse.Namespace) -> tuple[str, Path]:
    """The listener's base URL and the token file: from the flags, else from the config (--config, else
    /etc/appliance/appliance.toml), else from a running `appliance run --sim` (appliance.simdiscovery), else
    the defaults. Raises ConfigError (a bad config) or simdiscovery.Ambiguous (several simulated daemons)."""
    from appliance import simdiscovery
    from appliance.appconfig import DEFAULT_PATH
    from appliance.config import read_toml
    from appliance.maintenance.config import MaintenanceConfig

    defaults = MaintenanceConfig()
    listen, token_file = defaults.listen, defaults.token_file
    config_path: Path | None = args.config or (DEFAULT_PATH if DEFAULT_PATH.exists() else None)
    if config_path is not None:
        section = read_toml(config_path).get("maintenance", {})
        listen = str(section.get("listen", listen))
        token_file = str(section.get("token_file", token_file))
    elif args.url is None:
        sim = simdiscovery.find()
        if sim is not None:
            listen, token_file = sim.maintenance_listen, sim.token_file
    url = args.url or simdiscovery.listen_url(listen)
    return url.rstrip("/"), args.token_file or Path(token_file)


def _get(url: str, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as http:
        if http.code == 401:
            raise Unreachable(f"{url}: the listener refused the token (401)") from None
        if http.code == 403:
            raise Unreachable(f"{url}: not allowed from this network (403: maintenance.allow_from)") from None
        try:
            return http.code, json.loads(http.read())
        except ValueError:
            raise Unreachable(f"{url}: HTTP {http.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as problem:
        reason = getattr(problem, "reason", problem)
        raise Unreachable(f"{url}: {reason}") from None


def _yesno(value: Any) -> str:
    return "yes" if value else "no"


def render(health: dict[str, Any], status: dict[str, Any]) -> str:
    """The terminal summary."""
    daemon = status.get("daemon") or {}
    lines = [
        f"appliance {status.get('version', '?')}: {health.get('status', '?').upper()}"
        f"  (ready {_yesno(daemon.get('ready'))}, up {daemon.get('uptime_seconds')} s)",
    ]
    if daemon.get("status"):
        lines.append(f"  {daemon['status']}")
    lines.append("components:")
    for component in status.get("components", []):
        mark = {"pass": "ok  ", "warn": "WARN", "fail": "FAIL"}.get(component["status"], component["status"])
        critical = " (critical)" if component.get("critical") else ""
        reason = f": {component['reason']}" if component.get("reason") else ""
        lines.append(f"  [{mark}] {component['name']}{critical}{reason}")
    lines.append(
        f"loop lag {daemon.get('loop_lag_seconds')} s; watchdog "
        + (
            f"every {daemon['watchdog_interval_seconds']} s, {daemon.get('watchdog_pings')} pings"
            if daemon.get("watchdog_interval_seconds")
            else "off"
        )
        + (f", WITHHELD: {daemon['watchdog_withheld']}" if daemon.get("watchdog_withheld") else "")
    )
    if daemon.get("reload_error"):
        lines.append(f"last config reload refused: {daemon['reload_error']}")
    flight = status.get("flight")
    if isinstance(flight, dict) and "phase" in flight:
        info = flight.get("flight") or {}
        route = f" {info.get('origin') or '?'}-{info.get('destination') or '?'}" if info else ""
        lines.append(f"flight: {flight.get('phase')}{route} {info.get('flight_number') or ''}".rstrip())
    alarms = status.get("alarms")
    if alarms:
        lines.append("alarms:")
        for alarm in alarms:
            state = "active" if alarm.get("condition") else "cleared, awaiting ack"
            lines.append(f"  {alarm['name']}: {alarm.get('reason', '')} ({state})")
    elif alarms is not None:
        lines.append("alarms: none")
    modem = status.get("modem")
    if isinstance(modem, dict):
        scalars = [f"{k} {v}" for k, v in modem.items() if not isinstance(v, dict | list)]
        lines.append("modem: " + ", ".join(scalars[:8]))
    ground = status.get("groundlink")
    if isinstance(ground, dict) and "window" in ground:
        lines.append(f"ground link: window {ground['window']} ({ground.get('reason', '')}), "
                     f"errors {ground.get('errors', 0)}, dead letters {ground.get('dead_letters', 0)}")  # fmt: skip
    outbox = status.get("outbox")
    if isinstance(outbox, dict) and "pending" in outbox:
        pending = outbox["pending"] or {}
        detail = ", ".join(f"{k} {v}" for k, v in sorted(pending.items())) or "none"
        lines.append(f"outbox: pending {detail}; dead letters {outbox.get('dead_letters', 0)}")
    content = status.get("content")
    if isinstance(content, dict):
        lines.append(f"content: active bundle {content.get('active_id')}")
    storage = status.get("storage")
    if isinstance(storage, dict):
        disk = storage.get("disk") or {}
        free = f", {disk['free'] / 1e9:.1f} GB free" if "free" in disk else ""
        boot = storage.get("boot") or {}
        unsafe = f", {boot['unsafe_shutdowns']} unsafe shutdowns" if "unsafe_shutdowns" in boot else ""
        lines.append(f"storage: {storage.get('dir')}{free}{unsafe}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    try:
        url, token_file = _endpoint(args)
    except (ConfigError, Ambiguous) as error:
        print(f"appliance status: {error}", file=sys.stderr)
        return EXIT_UNREACHABLE
    try:
        token = token_file.read_text(encoding="utf-8").strip()
    except OSError as error:
        print(f"appliance status: cannot read the token file {token_file}: {error.strerror}", file=sys.stderr)
        return EXIT_UNREACHABLE
    try:
        _, health = _get(f"{url}/health", token)
        _, status = _get(f"{url}/api/v1/status", token)
    except Unreachable as problem:
        print(f"appliance status: unreachable: {problem}", file=sys.stderr)
        return EXIT_UNREACHABLE
    healthy = health.get("status") == "pass" and bool((status.get("daemon") or {}).get("ready"))
    if args.json:
        print(json.dumps({"health": health, "status": status}, indent=2, sort_keys=True))
    else:
        print(render(health, status))
    return EXIT_HEALTHY if healthy else EXIT_DEGRADED
