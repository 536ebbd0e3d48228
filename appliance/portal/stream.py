"""The 1 Hz flight snapshot: built and serialised ONCE per tick, then handed to every SSE client and to
`/api/v1/flight`.

Each tick the same bytes, already framed as one HTTP/1.1 chunk, are written to every client's transport in one
pass: no task wakes per client, so 1,000 clients cost one loop over 1,000 `transport.write` calls.

Each client holds a slot of size one: it is given the latest frame only if its socket took the previous one
(the transport's write buffer is empty); otherwise the tick is skipped for it and it gets whatever is latest
once it has drained. A client that has not drained for `max_behind` ticks is dropped. Nothing queues up per
client, so a slow phone costs no memory. "Drained" counts the kernel too: each stream's socket gets a small fixed
SO_SNDBUF (no autotuning to megabytes per reader that never reads), and bytes the kernel could not send yet
(SIOCOUTQNSD: the reader's window is shut) at the next tick make it a tick behind, so a reader that stops is
dropped `max_behind` ticks after its window closes, and costs at most its send buffer until then. One address
holds at most `max_per_address` streams.

Every `heartbeat_ticks`-th tick carries a heartbeat comment. While the snapshot builds, an event goes out every
tick anyway, so the comment only marks the stream as alive to whoever reads it raw; it matters when the snapshot
fails: then the comment goes out alone, so idle timeouts of proxies and mini-browsers do not close the stream
while there is nothing to send.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import re
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from appliance.metrics import Metrics
from appliance.portal.metrics import PortalMetrics
from appliance.tasks import cancel_and_wait
from appliance.timebase import Clock

log = logging.getLogger("appliance.portal.stream")

HEARTBEAT_EVERY_TICKS = 15
HEARTBEAT = b": heartbeat\n"
RETRY_MS = 2000
SEQ_RE = re.compile(r"[0-9]{1,18}")  # ASCII digits only: str.isdigit() takes "٣" and int() then differs


@dataclass(frozen=True)
class Frame:
    seq: int
    event_id: str
    document: dict[str, Any]  # read-only: the welcome page renders from it
    json: bytes  # the document, for /api/v1/flight
    chunk: bytes  # the same bytes as one SSE event (a heartbeat comment now and then), as an HTTP/1.1 chunk


@dataclass(eq=False)
class _Client:
    transport: asyncio.Transport
    done: asyncio.Future[None]
    after: int  # the last seq this client was given
    address: str = ""
    fd: int = -1  # the socket, for the kernel's unsent count (-1: unknown, only the transport's buffer counts)
    behind: int = 0  # ticks skipped in a row because its socket had not taken the previous frame


class Broadcaster:
    def __init__(
        self,
        build: Callable[[], dict[str, Any]],
        clock: Clock,
        metrics: Metrics,
        *,
        interval: float = 1.0,
        max_behind: int = 10,
        max_clients: int = 2000,
        heartbeat_ticks: int = HEARTBEAT_EVERY_TICKS,
        max_per_address: int = 4,
        send_buffer: int = 16384,
    ) -> None:
        self._build = build
        self._clock = clock
        self._metrics = metrics.of(PortalMetrics)
        self._interval = interval
        self._max_behind = max_behind
        self._max_clients = max_clients
        self._max_per_address = max_per_address
        self._send_buffer = send_buffer
        self._per_address: dict[str, int] = {}
        self.heartbeat_ticks = max(1, heartbeat_ticks)
        self._epoch = format(int(clock.wall()), "x")  # ids stay unique across daemon restarts
        self._seq = 0
        self._frame: Frame | None = None
        self._failed = False
        self._clients: set[_Client] = set()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    # --- ticking --------------------------------------------------------------------------------------------

    def tick(self) -> Frame:
        """Build and serialise the snapshot once, and give it to every client. If the snapshot fails this raises,
        after sending the heartbeat alone when one is due."""
        self._seq += 1
        event_id = f"{self._epoch}-{self._seq}"
        heartbeat = HEARTBEAT if self._seq % self.heartbeat_ticks == 0 else b""
        try:
            document = self._build()
        except Exception:
            self._frame = None  # the last good document would show its values as current: nobody gets it again
            self._failed = True
            if heartbeat:
                self._beat(heartbeat)
            raise
        self._failed = False
        document["seq"] = self._seq
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        sse = heartbeat + b"id: " + event_id.encode() + b"\nevent: flight\ndata: " + body + b"\n\n"
        self._frame = Frame(self._seq, event_id, document, body, _chunk(sse))
        for client in list(self._clients):
            self._offer(client, self._frame)
        return self._frame

    def _beat(self, comment: bytes) -> None:
        """The comment alone, to every client whose socket has taken what it was given."""
        chunk = _chunk(comment)
        for client in list(self._clients):
            if client.transport.is_closing():
                self._end(client)
            elif client.transport.get_write_buffer_size() == 0:
                client.transport.write(chunk)

    def latest(self) -> Frame:
        """The last tick's frame. SnapshotUnavailable while the last tick failed: requests do not rebuild it (the
        ticker retries at its own pace), and nobody is given the last good one as current."""
        if self._frame is None and not self._failed:  # before the first tick
            try:
                return self.tick()
            except Exception:
                log.exception("flight snapshot failed")
        if self._frame is None:
            raise SnapshotUnavailable("the flight snapshot failed at the last tick")
        return self._frame

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        failures = 0
        while True:
            try:
                self.tick()
            except Exception:  # a bad snapshot must not stop the stream; logged once a run, retried next tick
                failures += 1
                if failures == 1:
                    log.exception("flight snapshot failed (the flight API answers 503 until it is back)")
            else:
                if failures:
                    log.warning("flight snapshot back after %d failed ticks", failures)
                failures = 0
            next_at += self._interval
            delay = next_at - loop.time()
            if delay < 0:  # fell behind (suspended?): do not burst to catch up
                next_at, delay = loop.time(), 0.0
            await asyncio.sleep(delay)

    def start(self) -> None:
        """Tick every `interval` seconds (an interval <= 0 means ticks are driven by calling `tick()`)."""
        if self._task is None and self._interval > 0:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="portal-sse-ticker")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        for client in list(self._clients):
            self._end(client)

    @property
    def clients(self) -> int:
        return len(self._clients)

    def limit_clients(self, connections: int) -> None:
        """No more streams than the listener's connection cap (the descriptor budget may have clamped it)."""
        self._max_clients = min(self._max_clients, connections)

    # --- serving --------------------------------------------------------------------------------------------

    def _offer(self, client: _Client, frame: Frame, kernel: bool = True) -> None:
        """Give `frame` to `client` if its socket took the last one (`kernel`: counting what the kernel still
        holds; not for the first frame, right behind the stream's headers)."""
        if frame.seq <= client.after:
            return
        transport = client.transport
        if transport.is_closing():
            self._end(client)
            return
        if transport.get_write_buffer_size() > 0 or (kernel and _unsent(client.fd) > 0):
            client.behind += 1  # the previous frame is still queued: skip; the slot keeps only the latest
            if client.behind > self._max_behind:
                self.dropped += 1
                self._metrics.portal_sse_dropped.inc()
                transport.close()
                self._end(client)
            return
        client.behind = 0
        transport.write(frame.chunk)
        client.after = frame.seq

    def _end(self, client: _Client) -> None:
        if client in self._clients:
            self._clients.discard(client)
            self._metrics.sse_clients.set(len(self._clients))
            left = self._per_address.get(client.address, 0) - 1
            if left > 0:
                self._per_address[client.address] = left
            else:
                self._per_address.pop(client.address, None)
        if not client.done.done():
            client.done.set_result(None)

    def _resume_point(self, last_event_id: str | None) -> int:
        """The seq after which to send: the client's own when it is from this run, else send the latest now."""
        if last_event_id:
            epoch, _, seq = last_event_id.strip().partition("-")
            if epoch == self._epoch and SEQ_RE.fullmatch(seq):
                return min(int(seq), self._seq)
        return 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The stream (HEAD: its headers only). 503 JSON over the total or the per-address cap, 505 JSON for
        anything but HTTP/1.1 (the frames are HTTP/1.1 chunks)."""
        address = request.remote or ""
        if len(self._clients) >= self._max_clients:
            raise web.HTTPServiceUnavailable(
                text=json.dumps({"error": "too many live-flight clients; poll /api/v1/flight"}),
                content_type="application/json",
                headers={"Retry-After": "5"},
            )
        if self._per_address.get(address, 0) >= self._max_per_address:
            raise web.HTTPServiceUnavailable(
                text=json.dumps({"error": "too many live-flight streams from this device; poll /api/v1/flight"}),
                content_type="application/json",
                headers={"Retry-After": "5"},
            )
        if request.version != (1, 1):
            raise web.HTTPVersionNotSupported(
                text=json.dumps({"error": "the stream needs HTTP/1.1; poll /api/v1/flight"}),
                content_type="application/json",
            )
        headers = {"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        if request.method == "HEAD":  # what a GET would send, without a body (nothing may follow the headers)
            return web.Response(headers=headers)
        response = web.StreamResponse(headers=headers)
        response.enable_chunked_encoding()  # frames are written pre-framed as chunks straight to the transport
        transport = request.transport
        fd = self._bound_send_buffer(transport)
        await response.prepare(request)
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        transport = request.transport
        if transport is None:
            return response
        client = _Client(transport, asyncio.get_running_loop().create_future(),
                         self._resume_point(request.headers.get("Last-Event-ID")), address, fd)
        self._clients.add(client)
        self._per_address[address] = self._per_address.get(address, 0) + 1
        self._metrics.sse_clients.set(len(self._clients))
        try:
            if self._frame is not None:
                self._offer(client, self._frame, kernel=False)  # the latest at once (unless the client already has it)
            await client.done
        finally:
            self._end(client)
        return response


    def _bound_send_buffer(self, transport: asyncio.BaseTransport | None) -> int:
        """A fixed, small kernel send buffer for this stream's socket (no autotuning) and a small write-buffer
        high-water mark; the socket's descriptor (-1 when there is none)."""
        if transport is None:
            return -1
        sock = transport.get_extra_info("socket")
        if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
            return -1
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self._send_buffer)
        if isinstance(transport, asyncio.WriteTransport):
            transport.set_write_buffer_limits(high=self._send_buffer)
        fd: int = sock.fileno()
        return fd


SIOCOUTQNSD = 0x894B  # linux/sockios.h: bytes in the send queue not yet sent (not counting unacknowledged ones)


def _unsent(fd: int) -> int:
    """Bytes the kernel holds for the socket and could not send yet (the reader's window is shut); 0 when
    unknown. Sent and unacknowledged bytes do not count: a delayed ACK is no slow reader."""
    if fd < 0:
        return 0
    try:
        buffer = fcntl.ioctl(fd, SIOCOUTQNSD, b"\0\0\0\0")
    except OSError:
        return 0
    value: int = struct.unpack("i", buffer)[0]
    return value


class SnapshotUnavailable(Exception):
    """The last tick could not build the flight document: there is no current one."""


def _chunk(data: bytes) -> bytes:
    """`data` framed as one HTTP/1.1 chunk (the response is chunked; frames go straight to the transport)."""
    return b"%x\r\n%b\r\n" % (len(data), data)
