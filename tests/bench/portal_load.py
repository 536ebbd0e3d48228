"""Load generators for bench_portal, run as their own processes (so their CPU is not the daemon's).

    python -m tests.bench.portal_load sse URL CLIENTS SECONDS   -> one JSON line: per event id [first, last, count]
    (URL http:// or https://)
    python -m tests.bench.portal_load bare PORT FILE            -> a bare aiohttp server answering FILE's bytes
                                                                   with the portal's flight headers
    python -m tests.bench.portal_load files PORT ROOT           -> a bare aiohttp server sending ROOT's files at
                                                                   /content/ by the portal's sendfile path
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web
from multidict import CIMultiDict

EVENT_ID = re.compile(rb"(?:^|\n)id: ([0-9a-f]+-[0-9]+)\n")


class _SSEClient(asyncio.Protocol):
    """A raw HTTP/1.1 SSE client: records when each event id arrives (the arrival time is taken in
    data_received, before any parsing, so the client's own cost does not widen the measured spread)."""

    def __init__(self, index: int, request: bytes, sink: Callable[[int, float, bytes], None],
                 lost: asyncio.Future[None]) -> None:
        self.index, self.request, self.sink, self.lost = index, request, sink, lost

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.sink(self.index, time.time(), data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


def _passenger(index: int) -> tuple[str, int]:
    """A loopback source address per client (127.1.x.y), as each phone in the cabin has its own: the portal's
    per-address caps (portal.sse_max_per_address) would otherwise refuse all but a few."""
    return f"127.1.{index // 200}.{index % 200 + 1}", 0


async def sse(url: str, clients: int, seconds: float) -> dict[str, object]:
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    host, port = parts.hostname or "127.0.0.1", parts.port or (443 if secure else 80)
    tls: dict[str, object] = {}
    if secure:  # the benchmark's throwaway certificate: encrypted, not verified (the cost is the same)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        tls = {"ssl": context, "server_hostname": host}
    request = f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/event-stream\r\n\r\n".encode()
    events: dict[str, list[float]] = {}  # id -> [first arrival, last arrival, count]
    per_client: list[list[int]] = [[] for _ in range(clients)]

    def sink(index: int, now: float, data: bytes) -> None:
        for match in EVENT_ID.finditer(data):  # one event is written at once: one read
            event_id = match.group(1).decode()
            entry = events.get(event_id)
            if entry is None:
                events[event_id] = [now, now, 1]
            else:
                entry[0] = min(entry[0], now)
                entry[1] = max(entry[1], now)
                entry[2] += 1
            per_client[index].append(int(event_id.rsplit("-", 1)[1]))

    loop = asyncio.get_running_loop()
    transports: list[asyncio.BaseTransport] = []
    lost: list[asyncio.Future[None]] = []
    for index in range(clients):
        future: asyncio.Future[None] = loop.create_future()
        transport, _ = await loop.create_connection(lambda i=index, f=future: _SSEClient(i, request, sink, f),
                                                    host, port, local_addr=_passenger(index),
                                                    **tls)  # type: ignore[arg-type]
        transports.append(transport)
        lost.append(future)
    await asyncio.sleep(seconds)
    errors = sum(1 for f in lost if f.done())
    for transport in transports:
        transport.close()
    return {"events": events, "seqs": per_client, "errors": errors}


def bare(port: int, body_file: Path) -> None:
    """The same bytes and the same headers as the portal's /api/v1/flight (its Server name included), with none
    of the portal around it: no guard, no connection caps, no header timeout, no Server-header hook."""
    from appliance.httpserve import SERVER_NAME
    from appliance.portal.api import FLIGHT_HEADERS

    body = body_file.read_bytes()
    headers = CIMultiDict(FLIGHT_HEADERS)
    headers["Server"] = SERVER_NAME

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, headers=headers)

    app = web.Application()
    app.router.add_get("/api/v1/flight", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def files(port: int, root: Path) -> None:
    """The portal's file path (BundleDir, OpenFileResponse: open and fstat on the loop, corked sendfile) in a
    bare aiohttp app: no guard, no caps, no content store. What aiohttp's per-request work allows."""
    from appliance.httpserve import SERVER_NAME
    from appliance.portal.files import BundleDir, send_file

    bundle = BundleDir()
    resolved = root.resolve()

    async def handler(request: web.Request) -> web.StreamResponse:
        opened = bundle.open(resolved, request.match_info["path"])
        if opened is None:
            raise web.HTTPNotFound()
        return await send_file(request, opened, {"Content-Type": "video/mp2t", "Cache-Control": "public, max-age=3600",
                                                 "X-Content-Type-Options": "nosniff", "Server": SERVER_NAME})

    app = web.Application()
    app.router.add_get("/content/{path:.+}", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def main(argv: list[str]) -> int:
    if argv[0] == "sse":
        result = asyncio.run(sse(argv[1], int(argv[2]), float(argv[3])))
        print(json.dumps(result))
        return 0
    if argv[0] == "bare":
        bare(int(argv[1]), Path(argv[2]))
        return 0
    if argv[0] == "files":
        files(int(argv[1]), Path(argv[2]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
