"""The maintenance listener's routes (aiohttp). Bearer token on everything but /livez; JSON errors everywhere."""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from appliance.alarms import UnknownAlarm
from appliance.component import Status
from appliance.maintenance.auth import bearer_matches
from appliance.maintenance.documents import health_document, status_document
from appliance.maintenance.outbox_view import DEFAULT_LIMIT, MAX_LIMIT, outbox_document

if TYPE_CHECKING:
    from appliance.daemon import Context

log = logging.getLogger("appliance.maintenance")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC = frozenset({"/livez"})
MAX_BLOCK_SECONDS = 120.0


def error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


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


def make_app(ctx: Context, token: str) -> web.Application:
    networks = ctx.config.maintenance.networks()

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not allowed(request.remote, networks):
            return error(403, "the maintenance listener is not reachable from this network")
        if request.path not in PUBLIC and not bearer_matches(request.headers.get("Authorization"), token):
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
    app.router.add_get("/livez", routes.livez)
    app.router.add_get("/readyz", routes.readyz)
    app.router.add_get("/health", routes.health)
    app.router.add_get("/metrics", routes.metrics)
    app.router.add_get("/api/v1/status", routes.status)
    app.router.add_get("/api/v1/outbox", routes.outbox)
    app.router.add_post("/api/v1/alarms/{name}/ack", routes.ack_alarm)
    app.router.add_put("/api/v1/outputs/{name}", routes.set_output)
    app.router.add_post("/api/v1/groundlink/sync", routes.sync_now)
    if ctx.config.maintenance.debug_hooks:
        app.router.add_post("/api/v1/debug/block-loop", routes.block_loop)
    return app


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(reason="the body is not JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(reason="the body must be a JSON object")
    return body


class Routes:
    def __init__(self, ctx: Context) -> None:
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

    async def outbox(self, request: web.Request) -> web.Response:
        """Pending and dead-lettered items by kind (`?limit=N` items per kind, 1..1000): never personal data."""
        raw = request.query.get("limit", str(DEFAULT_LIMIT))
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
            return error(400, f"limit must be a whole number in 1..{MAX_LIMIT}")
        if self.ctx.outbox is None:
            return error(503, "no outbox (storage is not built)")
        return web.json_response(outbox_document(self.ctx.outbox, self.ctx.clock.wall(), int(raw)))

    async def ack_alarm(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if self.ctx.alarms is None:
            return error(503, "no alarms service")
        try:
            alarm = self.ctx.alarms.ack(name)
        except UnknownAlarm:
            return error(404, f"no active alarm {name!r}")
        log.info("alarm %s acknowledged by maintenance", name)
        return web.json_response({"alarm": alarm.as_dict(), "active": self.ctx.alarms.is_active(name)})

    async def set_output(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = await _json_body(request)
        value = body.get("value")
        if not isinstance(value, bool) or set(body) != {"value"}:
            return error(400, 'expected {"value": true | false}')
        if self.ctx.discretes is None:
            return error(503, "no discretes service")
        try:
            self.ctx.discretes.set_output(name, value, actor="maintenance")
        except KeyError:
            return error(404, f"no discrete signal {name!r}")
        except ValueError as problem:
            return error(409, f"{name} cannot be set: {problem}")
        except Exception as problem:  # the audit line could not be written, the pins are gone: nothing changed
            log.warning("output %s not set: %s", name, problem)
            return error(503, f"{name} not set: {problem}")
        log.info("output %s set to %s by maintenance", name, value)
        return web.json_response({"name": name, "value": value})

    async def sync_now(self, request: web.Request) -> web.Response:
        trigger = self.ctx.sync_trigger or getattr(self.ctx, "groundlink", None)
        if trigger is None:
            return error(503, "no ground link service")
        answer = trigger.request_sync()
        log.info("ground sync requested by maintenance")
        return web.json_response({"requested": True, **(dict(answer) if answer else {})}, status=202)

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
