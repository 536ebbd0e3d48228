"""Serving HTTP to hostile clients: what both listeners (portal, maintenance) put around aiohttp's server.

aiohttp's defaults suit a server behind a reverse proxy: a keep-alive timeout of an hour, no limit on connections
(per client or in total), parser errors as text/plain echoing the bytes and logged at ERROR with the client's
address, `Server: Python/... aiohttp/...`. Here the passengers reach the daemon directly, so:

- `GuardedSite` serves a listening socket with `GuardedHandler`, aiohttp's own request handler plus
  connection caps per client address and in total (refused at once with a 503 JSON and closed), a header
  timeout (a request's head must be complete within `header_timeout` of its first byte, and the first request
  within `header_timeout` of the connect: slowloris), parser-level errors as a JSON body that echoes nothing,
  counted and logged at INFO once per episode without the client's address, and every other non-JSON error
  (router 404/405, `OPTIONS *`, `CONNECT`) turned into a JSON body.
- `accept()` failures (out of descriptors) are counted and logged once per episode instead of one traceback
  per attempt (asyncio's default).
- `appliance.descriptors.plan_descriptors` checks at start that RLIMIT_NOFILE covers every listener's caps;
  `appliance.jsonhttp.parse_json` limits a request body's nesting.

Failure semantics: nothing here raises into aiohttp; a connection over a cap costs one accept, one write and one
close. The accept-error handler passes every other loop exception to the handler that was there before.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, ClassVar

from aiohttp import hdrs, web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

log = logging.getLogger("appliance.http")

SERVER_NAME = "appliance"  # the Server header of both listeners: no software or version for a prober to look up
JSON_TYPES = ("application/json", "application/health+json", "application/captive+json")


@dataclass(frozen=True)
class ConnectionLimits:
    """Caps of one listener. `max_connections` counts every open connection (SSE streams included)."""

    max_connections: int
    max_per_address: int
    header_timeout: float
    keepalive_timeout: float


class EpisodeLog:
    """Logs the first event of an episode, then stays quiet until `quiet` seconds pass without one; the next
    event starts a new episode and its line says how many the previous one had."""

    def __init__(self, logger: logging.Logger, level: int, quiet: float = 60.0) -> None:
        self._log = logger
        self._level = level
        self._quiet = quiet
        self._last = -1e18
        self.count = 0  # events in the current episode
        self.total = 0

    @property
    def active(self) -> bool:
        return time.monotonic() - self._last <= self._quiet

    def note(self, message: str, *args: object) -> None:
        now = time.monotonic()
        self.total += 1
        if now - self._last > self._quiet:
            previous = self.count
            self.count = 0
            suffix = f" (the previous episode had {previous})" if previous > 1 else ""
            self._log.log(self._level, message + "; further ones are counted, not logged" + suffix, *args)
        self.count += 1
        self._last = now


def peer_address(transport: asyncio.BaseTransport) -> str:
    """The client's address without port ("" for a Unix socket or a peer already gone)."""
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return ""


def json_body(status: int, message: str) -> bytes:
    return json.dumps({"error": message}).encode()


def raw_refusal(status: int, reason: str, message: str, retry_after: int | None = None) -> bytes:
    """A whole HTTP/1.1 response written straight to a transport (before any request was read)."""
    body = json_body(status, message)
    retry = f"Retry-After: {retry_after}\r\n" if retry_after is not None else ""
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Cache-Control: no-store\r\n{retry}Server: {SERVER_NAME}\r\nConnection: close\r\n\r\n").encode() + body


class ConnectionGuard:
    """Counts one listener's connections per client address and in total; counts and logs what it refuses."""

    def __init__(self, name: str, limits: ConnectionLimits, metrics: Any | None = None) -> None:
        self.name = name
        self.limits = limits
        self._metrics = metrics
        self._by_address: dict[str, int] = {}
        self.total = 0
        self.refused: dict[str, int] = {}
        self._refusals = EpisodeLog(log, logging.WARNING)
        self.accept_errors = 0
        self._accept_episode = EpisodeLog(log, logging.ERROR)
        self._accept_failing_since: float | None = None

    def admit(self, address: str) -> str | None:
        """Take a slot for a new connection from `address`; the reason when there is none ("total",
        "per_address")."""
        reason: str | None = None
        if self.total >= self.limits.max_connections:
            reason = "total"
        elif address and self._by_address.get(address, 0) >= self.limits.max_per_address:
            reason = "per_address"
        if reason is not None:
            self.count_refusal(reason)
            return reason
        self.total += 1
        if address:
            self._by_address[address] = self._by_address.get(address, 0) + 1
        self._gauge()
        if self._accept_failing_since is not None:
            log.warning("%s: accept() works again after %d failures", self.name, self._accept_episode.count)
            self._accept_failing_since = None
        return None

    def release(self, address: str) -> None:
        self.total = max(0, self.total - 1)
        if address:
            left = self._by_address.get(address, 0) - 1
            if left > 0:
                self._by_address[address] = left
            else:
                self._by_address.pop(address, None)
        self._gauge()

    def open_from(self, address: str) -> int:
        return self._by_address.get(address, 0)

    def count_refusal(self, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1
        if self._metrics is not None:
            self._metrics.http_connections_refused.labels(listener=self.name, reason=reason).inc()
        self._refusals.note("%s: connections refused or closed (%s; %d open)", self.name, reason, self.total)

    def accept_failed(self, error: BaseException | None) -> None:
        self.accept_errors += 1
        if self._metrics is not None:
            self._metrics.http_accept_errors.labels(listener=self.name).inc()
        if self._accept_failing_since is None:
            self._accept_failing_since = time.monotonic()
        code = errno.errorcode.get(getattr(error, "errno", None) or 0, "?")
        self._accept_episode.note("%s: accept() failing (%s: %s) with %d connections open", self.name, code,
                                  error, self.total)

    def bad_request(self, status: int) -> None:
        if self._metrics is not None:
            self._metrics.http_bad_requests.labels(listener=self.name).inc()
        _bad_requests.note("%s: malformed HTTP requests answered %d", self.name, status)

    def _gauge(self) -> None:
        if self._metrics is not None:
            self._metrics.http_connections.labels(listener=self.name).set(self.total)


_bad_requests = EpisodeLog(log, logging.INFO)


class GuardedHandler(RequestHandler):
    """aiohttp's request handler with the guard's caps and header timeout, and JSON for every error."""

    def __init__(self, manager: Any, *, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = guard
        self._address = ""
        self._admitted = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_count = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._address = peer_address(transport)
        reason = self._guard.admit(self._address)
        if reason is not None:
            assert isinstance(transport, asyncio.Transport)
            message = ("too many connections from this device" if reason == "per_address"
                       else "the server is busy; try again shortly")
            transport.write(raw_refusal(503, "Service Unavailable", message, retry_after=5))
            transport.close()
            return
        self._admitted = True
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self._admitted:
            return
        self._admitted = False
        self._disarm_head_timer()
        self._guard.release(self._address)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return
        before = self._request_count
        super().data_received(data)
        if self._request_count != before:  # a request's head is complete
            self._disarm_head_timer()
        elif data and self._head_timer is None and not self._request_in_progress and not self._messages:
            self._arm_head_timer()  # the first bytes of a new request's head (not a body being read)

    def _arm_head_timer(self) -> None:
        self._head_count = self._request_count
        self._head_timer = self._loop.call_later(self._guard.limits.header_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._request_count == self._head_count and not self._request_in_progress and self.transport:
            self._guard.count_refusal("header_timeout")
            self.force_close()

    # _handle_request and finish_response hand aiohttp's own coroutine back rather than awaiting it inside one
    # of their own: one coroutine less per request on the listeners' hottest path.
    def _handle_request(self, request: BaseRequest, start_time: float | None,
                        request_handler: Callable[[BaseRequest], Awaitable[StreamResponse]],
                        ) -> Coroutine[Any, Any, tuple[StreamResponse, bool]]:
        if request.version not in HTTP_1:  # "HTTP/2.0" in a request line: nothing here speaks it that way
            request_handler = _version_not_supported
        return super()._handle_request(request, start_time, request_handler)

    def handle_error(self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> StreamResponse:
        """A request aiohttp could not parse or handle: a JSON reason that echoes none of its bytes, the
        connection closed. Parser errors are counted and logged once per episode (at INFO, no address); an
        unhandled handler exception is a bug and logged with its traceback."""
        if status == 500:
            log.error("%s: unhandled error in a request handler", self._guard.name, exc_info=exc)
            text = "internal error"
        else:
            self._guard.bad_request(status)
            text = "malformed request" if status == 400 else "request refused"
        if request.writer.output_size > 0:
            raise ConnectionError("the response was already started")
        response = web.Response(status=status, body=json_body(status, text), content_type="application/json",
                                headers={hdrs.SERVER: SERVER_NAME, "Cache-Control": "no-store"})
        response.force_close()
        return response

    def finish_response(self, request: BaseRequest, resp: StreamResponse,
                        start_time: float | None) -> Coroutine[Any, Any, tuple[StreamResponse, bool]]:
        if isinstance(resp, web.HTTPException) and resp.status >= 400 and not resp.prepared \
                and (resp.content_type or "") not in JSON_TYPES:
            resp = _as_json(resp)
        return super().finish_response(request, resp, start_time)


HTTP_1 = ((1, 1), (1, 0))


async def _version_not_supported(request: BaseRequest) -> StreamResponse:
    response = web.Response(status=505, body=json_body(505, "HTTP/1.1 only"), content_type="application/json",
                            headers={hdrs.SERVER: SERVER_NAME, "Cache-Control": "no-store"})
    response.force_close()
    return response


def _as_json(exc: web.HTTPException) -> web.Response:
    """aiohttp's own text/plain error (no route for `OPTIONS *`, `CONNECT`, a bad method...) as JSON."""
    headers = {k: v for k, v in exc.headers.items() if k in (hdrs.ALLOW, hdrs.RETRY_AFTER)}
    headers[hdrs.SERVER] = SERVER_NAME
    headers["Cache-Control"] = "no-store"
    return web.Response(status=exc.status, body=json_body(exc.status, (exc.reason or "error").lower()),
                        content_type="application/json", headers=headers)


async def set_server_header(request: web.Request, response: StreamResponse) -> None:
    """`on_response_prepare`: the Server header names nothing a prober could look up."""
    response.headers[hdrs.SERVER] = SERVER_NAME


class GuardedSite(web.SockSite):
    """A SockSite whose connections are GuardedHandlers (aiohttp's handler with the guard around it)."""

    def __init__(self, runner: web.BaseRunner, sock: socket.socket, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(runner, sock, **kwargs)
        self.guard = guard
        self._sock_fd = sock.fileno()

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers with the runner
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        guard = self.guard
        options: dict[str, Any] = dict(server._kwargs)  # what the runner was given (keepalive_timeout, ...)

        def factory() -> GuardedHandler:
            return GuardedHandler(server, guard=guard, loop=loop, **options)

        _AcceptErrors.install(loop).watch(self._sock_fd, guard)
        # TLS: a handshake must finish within the header timeout too (a slow handshake is slowloris as well)
        tls: dict[str, Any] = {} if self._ssl_context is None else {
            "ssl": self._ssl_context, "ssl_handshake_timeout": guard.limits.header_timeout}
        self._server = await loop.create_server(factory, sock=self._sock, backlog=self._backlog, **tls)

    async def stop(self) -> None:
        _AcceptErrors.install(asyncio.get_running_loop()).unwatch(self._sock_fd)
        await super().stop()


class _AcceptErrors:
    """The loop's exception handler for "socket.accept() out of system resource": counted on the listener's
    guard and logged once per episode, where asyncio would log a traceback at every retry."""

    _by_loop: ClassVar[dict[int, _AcceptErrors]] = {}

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._previous: Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object] | None = \
            loop.get_exception_handler()
        self._guards: dict[int, ConnectionGuard] = {}
        loop.set_exception_handler(self._handle)

    @classmethod
    def install(cls, loop: asyncio.AbstractEventLoop) -> _AcceptErrors:
        found = cls._by_loop.get(id(loop))
        if found is None or found._loop is not loop:
            found = cls._by_loop[id(loop)] = cls(loop)
        return found

    def watch(self, fd: int, guard: ConnectionGuard) -> None:
        self._guards[fd] = guard

    def unwatch(self, fd: int) -> None:
        self._guards.pop(fd, None)
        if not self._guards:
            if self._loop.get_exception_handler() == self._handle:
                self._loop.set_exception_handler(self._previous)
            self._by_loop.pop(id(self._loop), None)

    def _handle(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        sock = context.get("socket")
        guard = None
        if message.startswith("socket.accept() out of system resource") and sock is not None:
            try:
                guard = self._guards.get(sock.fileno())
            except (OSError, ValueError):
                guard = None
        if guard is not None:
            guard.accept_failed(context.get("exception"))
            return
        if self._previous is not None:
            self._previous(loop, context)
        else:
            loop.default_exception_handler(context)


# --- descriptors ------------------------------------------------------------------------------------------
