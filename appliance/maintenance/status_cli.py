"""`appliance status [--json] [--config PATH] [--url URL] [--token-file PATH]`: ask the running daemon's
maintenance listener and print a summary for an engineer at a terminal (appliance.maintenance.status_text), or
with --json the listener's documents as they are ({"health", "status", "outbox"}) for machines.

Exit status: 0 healthy, 1 degraded (warn or fail, not ready, or an alarm whose cause is present), 2 unreachable
(no answer, or refused the token).
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
from appliance.maintenance.status_text import render
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
        code, outbox = _get(f"{url}/api/v1/outbox", token)
    except Unreachable as problem:
        print(f"appliance status: unreachable: {problem}", file=sys.stderr)
        return EXIT_UNREACHABLE
    if code != 200 or not isinstance(outbox, dict):
        outbox = None  # a daemon without the route (or without storage): the status document's counts
    healthy = health.get("status") == "pass" and bool((status.get("daemon") or {}).get("ready"))
    alarms = status.get("alarms")
    if isinstance(alarms, list) and any(isinstance(a, dict) and a.get("condition", True) for a in alarms):
        healthy = False  # an alarm whose cause is present is degraded, whatever this daemon's /health says
    if args.json:
        print(json.dumps({"health": health, "status": status, "outbox": outbox}, indent=2, sort_keys=True))
    else:
        print(render(health, status, outbox))
    return EXIT_HEALTHY if healthy else EXIT_DEGRADED
