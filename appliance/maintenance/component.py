"""The maintenance component: the engineers' listener (health, metrics, status, admin)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from appliance.component import Check
from appliance.maintenance.api import make_app
from appliance.maintenance.auth import load_token
from appliance.maintenance.system_metrics import SystemCollector
from appliance.systemd import listener_socket

if TYPE_CHECKING:
    from appliance.daemon import Context

log = logging.getLogger("appliance.maintenance")


class MaintenanceComponent:
    name = "maintenance"
    critical = True  # engineers must be able to see the aircraft's server: a dead listener is worth a restart

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._runner: web.AppRunner | None = None
        self._site: web.SockSite | None = None
        self.address = ""
        self._collector = SystemCollector(Path(ctx.config.storage.dir), lambda: list(ctx.components), ctx.lifecycle)

    async def start(self) -> None:
        config = self.ctx.config.maintenance
        token = load_token(Path(config.token_file))  # ConfigError: the daemon refuses to start (exit 78)
        sock = listener_socket("maintenance", config.listen)
        self.ctx.metrics.registry.register(self._collector)
        self._runner = web.AppRunner(make_app(self.ctx, token), access_log=None, shutdown_timeout=2.0)
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
            self.ctx.metrics.registry.unregister(self._collector)

    def alive(self) -> bool:
        return self._runner is not None and self._site is not None

    def health(self) -> Check:
        if self._runner is None:
            return Check.failing("listener not running")
        return Check.passing(f"listening on {self.address}")


def build(ctx: Context) -> MaintenanceComponent:
    return MaintenanceComponent(ctx)
