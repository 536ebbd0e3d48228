"""The maintenance listener's routes (aiohttp). Bearer token on everything but /livez; JSON errors everywhere."""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from appliance.alarms import UnknownAlarm
from appliance.component import Status
from appliance.httpserve import set_server_header
from appliance.jsonhttp import error
from appliance.maintenance.auth import FailedAuthLimit, bearer_matches
from appliance.maintenance.config import MaintenanceConfig
from appliance.maintenance.documents import MaintenanceView, health_document, status_document
from appliance.maintenance.metrics import MaintenanceMetrics

log = logging.getLogger("appliance.maintenance")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC = frozenset({"/livez"})
MAX_BLOCK_SECONDS = 120.0


def allowed(remote: str | None, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    """Whether a peer may reach the listener: inside one of `networks` (none configured: every peer), or the
    box itself (loopback, a Unix socket: `appliance status` on the server)."""
    if not networks:
        return True
    if remote is None:  # the peer could not be read (gone already): no
        return False
    if remote == "":  # a Unix socket
        return True
    try:
        address = ipaddress.ip_address(remote.split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or any(address in network for network in networks)


def make_app(ctx: MaintenanceView, config: MaintenanceConfig, token: str) -> web.Application:
    """The listener's app: its own routes, then each built component's (its spec's `routes`), all behind the
    network check and the bearer token."""
    networks = config.networks()
    failures = FailedAuthLimit(ctx.clock, config.auth_failures_per_minute, config.auth_failures_burst)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not allowed(request.remote, networks):
            return error(403, "the maintenance listener is not reachable from this network")
        if request.path not in PUBLIC:
            address = request.remote or ""
            wait = failures.wait(address)
            if wait > 0:  # refused before the token is compared: guessing costs the guesser time
                return error(429, "too many failed authentications from this address; try again later",
                             retry_after=max(1, round(wait)))
            presented = request.headers.get("Authorization")
            if not bearer_matches(presented, token):
                if presented is not None:  # a guess (no header at all is no guess: a scraper without config)
                    count = failures.failed(address)
                    ctx.metrics.of(MaintenanceMetrics).maintenance_auth_failures.inc()
                    if count in {1, config.auth_failures_burst}:
                        log.warning("maintenance: %d failed authentication(s) from %s%s", count, address,
                                    "; refused for a while" if count >= config.auth_failures_burst else "")
                response = error(401, "a maintenance bearer token is required")
                response.headers["WWW-Authenticate"] = 'Bearer realm="appliance-maintenance"'
                return response
        try:
            return await handler(request)
        except web.HTTPException as http:
            if http.status < 400:
                raise
            return error(http.status, http.reason)
        except Exception:
            log.exception("maintenance %s %s failed", request.method, request.path)
            return error(500, "internal error (logged)")

    routes = Routes(ctx)
    app = web.Application(middlewares=[guard], client_max_size=64 * 1024)
    app.on_response_prepare.append(set_server_header)
    app.router.add_get("/livez", routes.livez)
    app.router.add_get("/readyz", routes.readyz)
    app.router.add_get("/health", routes.health)
    app.router.add_get("/metrics", routes.metrics)
    app.router.add_get("/api/v1/status", routes.status)
    app.router.add_post("/api/v1/alarms/{name}/ack", routes.ack_alarm)
    for installed in ctx.assembly.installed:
        if installed.spec.routes is not None:
            app.router.add_routes(installed.spec.routes(installed.component))
    if config.debug_hooks:
        app.router.add_post("/api/v1/debug/block-loop", routes.block_loop)
    return app


class Routes:
    def __init__(self, ctx: MaintenanceView) -> None:
        self.ctx = ctx

    async def livez(self, request: web.Request) -> web.Response:
        """The event loop answered: nothing else is checked."""
        return web.json_response({"status": "alive"})

    async def readyz(self, request: web.Request) -> web.Response:
        lifecycle = self.ctx.lifecycle
        if lifecycle.ready and not lifecycle.stopping:
            return web.json_response({"ready": True})
        state = "stopping" if lifecycle.stopping else "starting"
        return web.json_response({"ready": False, "state": state}, status=503)

    async def health(self, request: web.Request) -> web.Response:
        status, body = health_document(self.ctx)
        return web.json_response(
            body, status=503 if status is Status.FAIL else 200, content_type="application/health+json"
        )

    async def metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.ctx.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response(status_document(self.ctx))

    async def ack_alarm(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        try:
            alarm = self.ctx.alarms.ack(name)
        except UnknownAlarm:
            return error(404, f"no active alarm {name!r}")
        log.info("alarm %s acknowledged by maintenance", name)
        return web.json_response({"alarm": alarm.as_dict(), "active": self.ctx.alarms.is_active(name)})

    async def block_loop(self, request: web.Request) -> web.Response:
        """An engineer's test hook: block the event loop on purpose for `seconds`, to see the systemd watchdog
        stop being fed (and systemd restart the daemon when the block outlasts WatchdogSec)."""
        raw = request.query.get("seconds", "")
        try:
            seconds = float(raw)
        except ValueError:
            return error(400, "seconds must be a number")
        if not 0 < seconds <= MAX_BLOCK_SECONDS:
            return error(400, f"seconds must be in (0, {MAX_BLOCK_SECONDS:g}]")
        log.warning("blocking the event loop for %.1f s on an engineer's request", seconds)
        time.sleep(seconds)  # noqa: ASYNC251 - deliberately blocking: that is the point of this hook
        return web.json_response({"blocked_seconds": seconds})
