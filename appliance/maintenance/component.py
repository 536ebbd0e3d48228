"""The maintenance component: the engineers' listener (health, metrics, status, admin)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from appliance import ports
from appliance.component import Check
from appliance.core.spec import ASSEMBLY
from appliance.maintenance.api import make_app
from appliance.maintenance.auth import load_token
from appliance.maintenance.config import MaintenanceConfig
from appliance.maintenance.documents import MaintenanceView
from appliance.maintenance.system_metrics import SystemCollector
from appliance.systemd import listener_socket

if TYPE_CHECKING:
    from appliance.core.spec import Setup

log = logging.getLogger("appliance.maintenance")


class MaintenanceComponent:
    name = "maintenance"

    def __init__(self, config: MaintenanceConfig, view: MaintenanceView, collector: SystemCollector) -> None:
        self.config = config
        self.view = view
        self._runner: web.AppRunner | None = None
        self._site: web.SockSite | None = None
        self.address = ""
        self._collector = collector

    async def start(self) -> None:
        config = self.config
        token = load_token(Path(config.token_file))  # ConfigError: the daemon refuses to start (exit 78)
        sock = listener_socket("maintenance", config.listen)
        self.view.metrics.registry.register(self._collector)
        self._runner = web.AppRunner(make_app(self.view, config, token), access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        self._site = web.SockSite(self._runner, sock)
        await self._site.start()
        host, port = sock.getsockname()[:2]
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
    return MaintenanceComponent(setup.config, view, collector)
