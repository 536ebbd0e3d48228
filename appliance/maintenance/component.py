"""The maintenance component: the engineers' listener (health, metrics, status, admin, the components' routes)."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from appliance import ports
from appliance.component import Check
from appliance.config import ConfigError
from appliance.core.spec import ASSEMBLY
from appliance.httpserve import ConnectionGuard, ConnectionLimits, GuardedSite
from appliance.maintenance.api import make_app
from appliance.maintenance.auth import load_token
from appliance.maintenance.config import MaintenanceConfig, is_loopback_host
from appliance.maintenance.documents import MaintenanceView
from appliance.maintenance.system_metrics import SystemCollector
from appliance.systemd import listener_socket

if TYPE_CHECKING:
    from appliance.core.spec import Setup

log = logging.getLogger("appliance.maintenance")


class MaintenanceComponent:
    name = "maintenance"

    def __init__(self, config: MaintenanceConfig, view: MaintenanceView, collector: SystemCollector,
                 config_source: str = "<config>") -> None:
        self.config = config
        self.view = view
        self.config_source = config_source
        self._runner: web.AppRunner | None = None
        self._site: GuardedSite | None = None
        self.address = ""
        self._collector = collector

    async def start(self) -> None:
        config = self.config
        token = load_token(Path(config.token_file))  # ConfigError: the daemon refuses to start (exit 78)
        sock = listener_socket("maintenance", config.listen)
        host, port = sock.getsockname()[:2] if sock.family != socket.AF_UNIX else ("", 0)
        if sock.family != socket.AF_UNIX and not config.allow_from and not config.allow_any \
                and not is_loopback_host(str(host)):
            sock.close()  # e.g. a socket unit listening on every address while the config names no network
            raise ConfigError(self.config_source, "maintenance.allow_from",
                              f"is empty while the listener is on {host}:{port}, reachable from other networks: "
                              "name the maintenance networks, or set maintenance.allow_any = true")
        self.view.metrics.registry.register(self._collector)
        self._runner = web.AppRunner(make_app(self.view, config, token), access_log=None, shutdown_timeout=2.0,
                                     keepalive_timeout=30.0)
        await self._runner.setup()
        limits = ConnectionLimits(config.max_connections, config.max_connections_per_address,
                                  header_timeout=10.0, keepalive_timeout=30.0)
        self._site = GuardedSite(self._runner, sock, ConnectionGuard("maintenance", limits, self.view.metrics))
        await self._site.start()
        self.address = f"{host}:{port}"
        log.info("maintenance listener on %s", self.address)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self.view.metrics.registry.unregister(self._collector)

    def alive(self) -> bool:
        return self._runner is not None and self._site is not None

    def health(self) -> Check:
        if self._runner is None:
            return Check.failing("listener not running")
        return Check.passing(f"listening on {self.address}")


def build(setup: Setup[MaintenanceConfig]) -> MaintenanceComponent:
    assembly = setup.require(ASSEMBLY)
    view = MaintenanceView(assembly, setup.alarms, setup.metrics, setup.clock, boot=setup.use(ports.BOOT))
    state_dir = setup.use(ports.STATE_DIR)
    collector = SystemCollector(state_dir.path if state_dir is not None else None, assembly.components,
                                assembly.lifecycle)
    setup.reserve_descriptors(setup.config.max_connections)  # the portal's budget keeps room for these
    return MaintenanceComponent(setup.config, view, collector, setup.config_source)
