"""The maintenance component: the engineers' listener (health, metrics, status, admin, the components'
routes). Its CLI: `appliance status`."""

from __future__ import annotations

import argparse
from pathlib import Path

from appliance import ports
from appliance.core.spec import ASSEMBLY, ComponentSpec, deferred, lazy
from appliance.maintenance.config import MaintenanceConfig


def _cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = sub.add_parser("status", help="ask the running daemon for a summary")
    status.add_argument("--json", action="store_true")
    status.add_argument("--config", type=Path, default=None)
    status.add_argument("--url", default=None, help="maintenance listener URL (default: from the config)")
    status.add_argument("--token-file", type=Path, default=None)
    status.set_defaults(func=lazy("appliance.maintenance.status_cli:main"))


COMPONENT = ComponentSpec(
    name="maintenance",
    config=MaintenanceConfig,
    build=deferred("appliance.maintenance.component:build"),
    requires=(ASSEMBLY,),
    # it reports on every component: ordered after those that provide what it shows, so it starts last
    uses=(ports.BOOT, ports.STATE_DIR, ports.OUTBOX, ports.FLIGHT, ports.DISCRETES, ports.MODEM, ports.CONTENT,
          ports.GROUNDLINK),
    critical=True,  # engineers must be able to see the aircraft's server: a dead listener is worth a restart
    cli=_cli,
)
