"""The 1 Hz flight snapshot: built and serialised ONCE per tick, then handed to every SSE client and to
`/api/v1/flight`.

Each client holds a slot of size one: on a tick it is given the latest frame only if its socket took the
previous one (the transport's write buffer is empty). A client that has not drained for `max_behind` ticks is
dropped. Nothing queues up per client, so a slow phone costs no memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from appliance.metrics import Metrics
from appliance.timebase import Clock

log = logging.getLogger("appliance.portal.stream")

HEARTBEAT_EVERY_TICKS = 15
RETRY_MS = 2000


@dataclass(frozen=True)
class Frame:
    seq: int
    event_id: str
    document: dict[str, Any]  # read-only: the welcome page renders from it
    json: bytes  # the document, for /api/v1/flight
    sse: bytes  # the same bytes as one SSE event (plus a heartbeat comment now and then)


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
    ) -> None:
        self._build = build
        self._clock = clock
        self._metrics = metrics
        self._interval = interval
        self._max_behind = max_behind
        self._max_clients = max_clients
        self._epoch = format(int(clock.wall()), "x")  # ids stay unique across daemon restarts
        self._seq = 0
        self._frame: Frame | None = None
        self._tick_event = asyncio.Event()
        self._clients = 0
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self.dropped = 0

    # --- ticking --------------------------------------------------------------------------------------------

    def tick(self) -> Frame:
        """Build and serialise the snapshot once, and wake every client."""
        self._seq += 1
        event_id = f"{self._epoch}-{self._seq}"
        document = self._build()
        document["seq"] = self._seq
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        heartbeat = b": heartbeat\n" if self._seq % HEARTBEAT_EVERY_TICKS == 0 else b""
        sse = heartbeat + b"id: " + event_id.encode() + b"\nevent: flight\ndata: " + body + b"\n\n"
        self._frame = Frame(self._seq, event_id, document, body, sse)
        event, self._tick_event = self._tick_event, asyncio.Event()
        event.set()
        return self._frame

    def latest(self) -> Frame:
        return self._frame if self._frame is not None else self.tick()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            try:
                self.tick()
            except Exception:  # a bad snapshot must not stop the stream; it is logged and retried next tick
                log.exception("flight snapshot failed")
            next_at += self._interval
            delay = next_at - loop.time()
            if delay < 0:  # fell behind (suspended?): do not burst to catch up
                next_at, delay = loop.time(), 0.0
            await asyncio.sleep(delay)

    def start(self) -> None:
        """Tick every `interval` seconds (an interval <= 0 means ticks are driven by calling `tick()`)."""
        self._stopped = False
        if self._task is None and self._interval > 0:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="portal-sse-ticker")

    async def stop(self) -> None:
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        event, self._tick_event = self._tick_event, asyncio.Event()
        event.set()  # release waiting clients: they see `_stopped` and end

    @property
    def clients(self) -> int:
        return self._clients

    # --- serving --------------------------------------------------------------------------------------------

    async def _next(self, after: int) -> Frame:
        while True:
            frame = self._frame
            if frame is not None and frame.seq > after:
                return frame
            if self._stopped:
                raise ConnectionResetError("stream stopped")
            await self._tick_event.wait()

    def _resume_point(self, last_event_id: str | None) -> int:
        """The seq after which to send: the client's own when it is from this run, else send the latest now."""
        if last_event_id:
            epoch, _, seq = last_event_id.strip().partition("-")
            if epoch == self._epoch and seq.isdigit():
                return min(int(seq), self._seq)
        return 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self._clients >= self._max_clients:
            raise web.HTTPServiceUnavailable(
                text=json.dumps({"error": "too many live-flight clients; poll /api/v1/flight"}),
                content_type="application/json",
                headers={"Retry-After": "5"},
            )
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        after = self._resume_point(request.headers.get("Last-Event-ID"))
        self._clients += 1
        self._metrics.sse_clients.set(self._clients)
        try:
            await response.write(f"retry: {RETRY_MS}\n\n".encode())
            await self._serve(request, response, after)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._clients -= 1
            self._metrics.sse_clients.set(self._clients)
        return response

    async def _serve(self, request: web.Request, response: web.StreamResponse, after: int) -> None:
        behind = 0
        while True:
            frame = await self._next(after)
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            if transport.get_write_buffer_size() > 0:
                behind += 1  # the previous frame is still queued: skip this one; the slot keeps the latest
                if behind > self._max_behind:
                    self.dropped += 1
                    transport.close()
                    return
                after = frame.seq
                continue
            behind = 0
            await response.write(frame.sse)
            after = frame.seq
