"""The passenger listener's guard around every route: JSON errors (never a bare 500), body limits, Origin checks
on state-changing requests, security headers; and an access log without passenger data."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, MutableMapping
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler

from appliance.portal.https import Https, redirect_to_https

log = logging.getLogger("appliance.portal")
access_log = logging.getLogger("appliance.portal.access")

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
APP_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; worker-src 'self' blob:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
DOCUMENT_TYPES = ("text/html", "image/svg+xml", "application/pdf")
CONTENT_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps({"error": message}),
        content_type="application/json",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def host_name(host: str) -> str:
    """A Host header (or an Origin's netloc) without port, lower case, IPv6 without brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def local_address(request: web.BaseRequest) -> str:
    """The portal's own address that this client reached (the listener may listen on all of them)."""
    transport = request.transport
    name = transport.get_extra_info("sockname") if transport is not None else None
    return str(name[0]).lower() if isinstance(name, tuple) and name else ""


def is_own_host(request: web.BaseRequest, own: frozenset[str]) -> bool:
    """Whether the request's Host names the portal: one of `own` (public_host, allowed_hosts, the captive probe
    hosts) or the address the client reached. A rebound DNS name (evil.example) is not."""
    name = host_name(request.host or "")
    return bool(name) and (name in own or name == local_address(request))


def _same_origin(origin: str, request: web.BaseRequest, allowed: Iterable[str], own: frozenset[str]) -> bool:
    """An allowed Origin, or exactly the request's own Host when that Host is one of the portal's names."""
    if origin in allowed:
        return True
    parts = urlsplit(origin)
    host = request.host or ""
    return (parts.scheme in ("http", "https") and bool(host) and parts.netloc.lower() == host.lower()
            and is_own_host(request, own))


Hook = Callable[[web.Request], None]


class Guard:
    """What every passenger request goes through, wrapped around each route's handler: `hook` first (client
    activity, for the captive portal), then the Origin and body-size checks of state-changing requests,
    the handler, its errors as JSON (never a bare 500), the security headers.

    Not an aiohttp middleware on purpose: with any middleware aiohttp adds a layer of its own to every request,
    about 7% of the rate of the flight document that every mini-browser polls. That handler is registered
    bare: it touches the client itself, sets every header and never raises."""

    def __init__(self, max_body: int, allowed_origins: Iterable[str], hook: Hook | None = None,
                 own_hosts: Iterable[str] = (), https: Https | None = None) -> None:
        self.https = https  # while it serves, plain-HTTP requests are redirected to it (but `plain=True` routes)
        self.max_body = max_body
        self.allowed = frozenset(allowed_origins)
        self.hook = hook
        self.own = frozenset(host_name(h) for h in own_hosts if h)

    def __call__(self, handler: Handler, plain: bool = False) -> Handler:
        """`handler` guarded; `plain`: it also answers over plain HTTP while HTTPS serves (the OS probes)."""
        hook, allowed, max_body, own = self.hook, self.allowed, self.max_body, self.own
        https = None if plain else self.https

        async def guarded(request: web.Request) -> web.StreamResponse:
            if hook is not None:
                hook(request)
            response: web.StreamResponse | None = None
            if https is not None and https.active and not request.secure:
                response = redirect_to_https(request, https)
            elif request.method in STATE_CHANGING:
                response = _refusal(request, allowed, max_body, own)
            if response is None:
                response = await _answer(request, handler)
            if not response.prepared:  # a stream (SSE) sent its own headers long ago
                add_security_headers(request, response.headers)
            return response

        return guarded

    async def not_found(self, request: web.Request) -> web.StreamResponse:
        """The last route, for every path no other route takes: 404, or 405 where only the method is wrong."""
        allowed: set[str] = set()
        for resource in request.app.router.resources():
            if resource is request.match_info.route.resource:
                continue
            match, methods = await resource.resolve(request)
            if match is None:
                allowed |= methods
        if allowed:
            return json_error(405, "method not allowed", {"Allow": ",".join(sorted(allowed))})
        if wants_html(request):
            return web.Response(status=404, text=NOT_FOUND_PAGE, content_type="text/html",
                                headers={"Cache-Control": "no-store"})
        return json_error(404, "not found")


NOT_FOUND_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Page not found</title><link rel="stylesheet" href="/static/welcome.css"></head>
<body><main class="welcome"><h1>Page not found</h1>
<p>This page is not on the on-board server.</p><p><a href="/">Back to the flight portal</a></p></main></body></html>
"""


def wants_html(request: web.BaseRequest) -> bool:
    """A browser navigating (not /api/, and it asks for HTML): it gets a page, everything else JSON."""
    return not request.path.startswith("/api/") and "text/html" in request.headers.get("Accept", "")


def _refusal(request: web.Request, allowed: frozenset[str], max_body: int,
             own: frozenset[str] = frozenset()) -> web.Response | None:
    """Host, Origin and body-size checks of a state-changing request."""
    origin = request.headers.get("Origin")
    if origin is not None and not _same_origin(origin, request, allowed, own):
        return json_error(403, "cross-origin request refused")
    if origin is None and not is_own_host(request, own):
        return json_error(403, "this server does not answer for that host name")
    if origin is None and request.headers.get("Sec-Fetch-Site") == "cross-site":
        return json_error(403, "cross-origin request refused")
    length = request.content_length
    if length is not None and length > max_body:
        return json_error(413, f"request body too large (limit {max_body} bytes)")
    return None


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The handler's response, or its error as JSON."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        reason = exc.reason if exc.status != 413 else "request body too large"
        return json_error(exc.status, reason.lower(),
                          {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")})
    except (ConnectionResetError, TimeoutError):
        raise
    except Exception:
        log.exception("portal handler failed: %s %s", request.method, request.path)
        return json_error(500, "internal error")


def add_security_headers(request: web.BaseRequest, headers: MutableMapping[str, str]) -> None:
    """What every passenger response carries."""
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if headers.get("Content-Type", "").startswith(DOCUMENT_TYPES):  # policies only matter for documents
        headers.setdefault("Referrer-Policy", "same-origin")  # no-referrer makes form posts' Origin "null"
        headers.setdefault("Content-Security-Policy",
                           CONTENT_CSP if request.path.startswith("/content/") else APP_CSP)


class AccessLogger(AbstractAccessLogger):
    """Method, path (no query string), status, size, time: no client address, no body, no cookies."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug(
                "%s %s %d %d %.1fms",
                request.method,
                request.path[:200],
                response.status,
                response.body_length,
                time * 1000,
            )
