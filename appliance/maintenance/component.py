"""The maintenance component: the engineers' listener (health, metrics, status, admin)."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from appliance.component import Check
from appliance.config import ConfigError
from appliance.httpserve import ConnectionGuard, ConnectionLimits, GuardedSite
from appliance.maintenance.api import make_app
from appliance.maintenance.auth import load_token
from appliance.maintenance.config import is_loopback_host
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
        self._site: GuardedSite | None = None
        self.address = ""
        self._collector = SystemCollector(Path(ctx.config.storage.dir), lambda: list(ctx.components), ctx.lifecycle)

    async def start(self) -> None:
        config = self.ctx.config.maintenance
        token = load_token(Path(config.token_file))  # ConfigError: the daemon refuses to start (exit 78)
        sock = listener_socket("maintenance", config.listen)
        host, port = sock.getsockname()[:2] if sock.family != socket.AF_UNIX else ("", 0)
        if sock.family != socket.AF_UNIX and not config.allow_from and not config.allow_any \
                and not is_loopback_host(str(host)):
            sock.close()  # e.g. a socket unit listening on every address while the config names no network
            raise ConfigError(self.ctx.config_path.as_posix() if self.ctx.config_path else "<config>",
                              "maintenance.allow_from", f"is empty while the listener is on {host}:{port}, "
                              "reachable from other networks: name the maintenance networks, or set "
                              "maintenance.allow_any = true")
        self.ctx.metrics.registry.register(self._collector)
        self._runner = web.AppRunner(make_app(self.ctx, token), access_log=None, shutdown_timeout=2.0,
                                     keepalive_timeout=30.0)
        await self._runner.setup()
        limits = ConnectionLimits(config.max_connections, config.max_connections_per_address,
                                  header_timeout=10.0, keepalive_timeout=30.0)
        self._site = GuardedSite(self._runner, sock, ConnectionGuard("maintenance", limits, self.ctx.metrics))
        await self._site.start()
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
