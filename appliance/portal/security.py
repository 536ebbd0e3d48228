"""Middleware for the passenger listener: JSON errors (never a bare 500), body limits, Origin checks on
state-changing requests, security headers, and an access log without passenger data."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, MutableMapping
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler, Middleware

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


def _same_origin(origin: str, host: str, allowed: Iterable[str]) -> bool:
    if origin in allowed:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and bool(host) and parts.netloc.lower() == host.lower()


Hook = Callable[[web.Request], web.StreamResponse | None]


def middleware(max_body: int, allowed_origins: Iterable[str], hook: Hook | None = None,
               self_contained: Collection[Handler] = ()) -> Middleware:
    """One middleware (each layer costs a coroutine per request): `hook` first (the captive-portal probes),
    then the Origin and body-size checks, the handler, JSON errors, security headers.

    A GET to a `self_contained` handler (one that sets every header itself and never raises: the flight
    document polled by every mini-browser) is handed straight to it, without this layer's own coroutine."""
    allowed = frozenset(allowed_origins)
    direct = frozenset(self_contained)

    def portal(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
        if hook is not None:
            early = hook(request)
            if early is not None:
                return _ready(early)
        if request.method in STATE_CHANGING:
            refusal = _refusal(request, allowed, max_body)
            if refusal is not None:
                return _ready(refusal)
        elif request.match_info.handler in direct:
            return handler(request)  # the route's handler itself: this middleware is the innermost layer
        return _guarded(request, handler)

    return web.middleware(portal)


async def _ready(response: web.StreamResponse) -> web.StreamResponse:
    return response


def _refusal(request: web.Request, allowed: frozenset[str], max_body: int) -> web.Response | None:
    """Origin and body-size checks of a state-changing request."""
    origin = request.headers.get("Origin")
    if origin is not None and not _same_origin(origin, request.host, allowed):
        return json_error(403, "cross-origin request refused")
    if origin is None and request.headers.get("Sec-Fetch-Site") == "cross-site":
        return json_error(403, "cross-origin request refused")
    length = request.content_length
    if length is not None and length > max_body:
        return json_error(413, f"request body too large (limit {max_body} bytes)")
    return None


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The handler, its errors as JSON (never a bare 500), the security headers."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        reason = exc.reason if exc.status != 413 else "request body too large"
        response = json_error(exc.status, reason.lower(),
                              {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")})
    except (ConnectionResetError, TimeoutError):
        raise
    except Exception:
        log.exception("portal handler failed: %s %s", request.method, request.path)
        response = json_error(500, "internal error")
    if not response.prepared:  # a response already sent (files.send_file) added these itself
        add_security_headers(request, response.headers)
    return response


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
