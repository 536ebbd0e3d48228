"""The passenger aiohttp application: its routes, each behind the guard. Nothing here reaches maintenance functions."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

from appliance.httpserve import set_server_header
from appliance.portal import api, mine, ordering, payment, welcome
from appliance.portal.captive import PROBE_HOSTS, PROBE_PATHS
from appliance.portal.catalog import resolve_inside
from appliance.portal.i18n import choose
from appliance.portal.openapi import document
from appliance.portal.security import Guard, is_own_host, json_error
from appliance.portal.services import SERVICES, Services, services_of

STATIC = Path(__file__).with_name("static")


@cache
def _index_template() -> str:
    return (STATIC / "index.html").read_text(encoding="utf-8")


async def index(request: web.Request) -> web.Response:
    services = services_of(request)
    lang = choose(request)
    html = _index_template().replace("__LANG__", lang).replace("__PROFILE__", services.config.profile)
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-cache",
                                                                       "Vary": "Accept-Language, Cookie"})


STATIC_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".json": "application/json",
                ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".txt": "text/plain"}


async def static_file(request: web.Request) -> web.StreamResponse:
    """The web app's own files (no directory listing, no traversal, known types only)."""
    path = resolve_inside(STATIC, request.match_info["path"])
    suffix = path.suffix.lower() if path is not None else ""
    if path is None or suffix not in STATIC_TYPES:
        return json_error(404, "not found")
    cache = "public, max-age=86400" if "/vendor/" in path.as_posix() else "no-cache"
    return web.FileResponse(path, headers={"Content-Type": STATIC_TYPES[suffix], "Cache-Control": cache})


#: The service worker's headers: checked for an update on every registration (no-cache; the browser bypasses
#: its HTTP cache for it anyway after 24 h), allowed to control the whole origin from its own path at the root.
SERVICE_WORKER_HEADERS = {"Content-Type": "text/javascript", "Cache-Control": "no-cache",
                          "Service-Worker-Allowed": "/"}


def service_worker(own_hosts: frozenset[str]) -> Handler:
    """`GET /sw.js`: the web app's service worker ("Take it with you": saved readings for after landing). Only
    for the portal's own names: a worker outlives the flight in the passenger's browser, so a rebound DNS name
    (evil.example pointing here) gets a 403 instead of a copy of it under its origin."""

    async def handler(request: web.Request) -> web.StreamResponse:
        if not is_own_host(request, own_hosts):
            return json_error(403, "this server does not answer for that host name")
        return web.FileResponse(STATIC / "sw.js", headers=SERVICE_WORKER_HEADERS)

    return handler


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document(), headers={"Cache-Control": "no-cache"})


def make_app(services: Services) -> web.Application:
    app = web.Application(client_max_size=services.config.max_body_bytes)
    app[SERVICES] = services
    app.on_response_prepare.append(set_server_header)
    config = services.config
    own_hosts = [config.public_host, *config.allowed_hosts, *PROBE_HOSTS]
    guard = Guard(config.max_body_bytes, config.allowed_origins, welcome.client_activity(services), own_hosts,
                  services.https)
    r = app.router
    r.add_get("/", guard(index))
    r.add_get(welcome.WELCOME_PATH, guard(welcome.welcome))
    r.add_post(welcome.ACCEPT_PATH, guard(welcome.accept))
    r.add_get("/captive-portal/api", guard(welcome.captive_api, plain=True))  # answers 404 itself on HTTP
    r.add_get("/api/v1/flight", api.flight)  # bare: the hottest path guards itself (see Guard)
    r.add_get("/api/v1/flight/stream", guard(api.flight_stream))
    r.add_get("/api/v1/flight/track", guard(api.track))
    r.add_get("/api/v1/catalog", guard(api.catalog))
    r.add_post("/api/v1/orders", guard(ordering.orders))
    r.add_post("/api/v1/orders/mine", guard(mine.mine))
    r.add_post("/api/v1/payments", guard(payment.payments))
    r.add_get("/api/v1/payments/key", guard(payment.public_key))
    r.add_get("/api/v1/openapi.json", guard(openapi))
    r.add_get("/content/{path:.+}", guard(api.content_file))
    r.add_get("/static/{path:.+}", guard(static_file))
    r.add_get("/sw.js", guard(service_worker(guard.own)))
    for path in sorted(PROBE_PATHS):
        r.add_get(path, guard(welcome.probe, plain=True))  # the probes stay on plain HTTP
    r.add_route("*", r"/{anything:[\s\S]*}", guard(guard.not_found))  # last: JSON 404 and 405 for the rest
    return app
