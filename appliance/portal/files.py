"""Sending a bundle file: the plain GET that video players make hundreds of times a minute takes a fast path.

aiohttp's FileResponse opens and stats every file in a worker thread and closes it in another hop; for ~1 MB
HLS segments those hand-offs cost a third of the throughput (bench_portal). The fast path opens and stats on the
event loop, as nginx's single worker does (the bundle's metadata is in the page cache after the boot check), and
hands the descriptor to the kernel when aiohttp prepares the response, after the guard (so the security headers
apply, and a passenger who stops a video mid-segment is a quiet disconnect, as with FileResponse): corked behind
its headers, with one sendfile straight away, the loop's sendfile only for what a full socket leaves over.
Either alone did not help (corked around the loop's sendfile: 0.7x nginx; uncorked: ~0.78x; both: 0.82-0.96x).
Anything else (HEAD, Range, conditional requests) goes to FileResponse, which implements those parts of HTTP;
both send the same validators, so caches see one file.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import io
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.web_request import BaseRequest

from appliance.portal.security import json_error

CORK = getattr(socket, "TCP_CORK", None)  # Linux's; elsewhere the headers go on their own
GONE = frozenset({errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN})
# a request carrying any of these needs FileResponse's handling of ranges and preconditions
NEEDS_FULL_HTTP = (hdrs.RANGE, hdrs.IF_MATCH, hdrs.IF_NONE_MATCH, hdrs.IF_MODIFIED_SINCE,
                   hdrs.IF_UNMODIFIED_SINCE, hdrs.IF_RANGE)


class OpenFileResponse(web.StreamResponse):
    """A whole regular file already open: headers from its fstat, the bytes by sendfile at prepare()."""

    def __init__(self, file: io.FileIO, info: os.stat_result, headers: dict[str, str]) -> None:
        super().__init__(headers=headers)
        self._file = file
        self.content_length = info.st_size
        self.last_modified = info.st_mtime
        self.etag = f"{info.st_mtime_ns:x}-{info.st_size:x}"  # the same validator FileResponse sends
        self.headers[hdrs.ACCEPT_RANGES] = "bytes"

    async def prepare(self, request: BaseRequest) -> AbstractStreamWriter | None:
        try:
            with _corked(request.transport):
                writer = await super().prepare(request)  # the headers, held by the cork until the file follows
                transport = request.transport
                if transport is None:
                    raise ConnectionResetError("connection lost")
                size = self.content_length or 0
                sent = _send_now(transport, self._file.fileno(), size)
                if sent < size:  # the socket is full: the loop finishes when it drains
                    await asyncio.get_running_loop().sendfile(transport, self._file, sent, size - sent)
            await super().write_eof()
            return writer
        finally:
            self._file.close()


@contextlib.contextmanager
def _corked(transport: asyncio.BaseTransport | None) -> Iterator[None]:
    """Headers and file leave in full segments, as with nginx's `tcp_nopush` (TCP_CORK).

    Headers sent alone ahead of the file made the client's side of every segment twice as costly (bench_portal:
    wrk's CPU per 1 MB segment ~390 us against nginx's ~200 us; corked, ~190 us)."""
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6) or CORK is None:
        yield
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, CORK, 1)
    except OSError:  # already closed: whatever follows fails on its own
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError):  # the passenger may have gone already
            sock.setsockopt(socket.IPPROTO_TCP, CORK, 0)


def _send_now(transport: asyncio.BaseTransport, file_fd: int, size: int) -> int:
    """As many of the file's bytes as the socket takes without waiting (all of a segment, usually).

    Only behind an empty write buffer, so nothing overtakes the headers; the loop's own sendfile would first
    stop reading, wait on a future, and register the socket again, at every request."""
    if not isinstance(transport, asyncio.WriteTransport) or transport.get_write_buffer_size():
        return 0
    sock = transport.get_extra_info("socket")
    if sock is None:
        return 0
    sent = 0
    while sent < size:
        try:
            count = os.sendfile(sock.fileno(), file_fd, sent, size - sent)
        except (BlockingIOError, InterruptedError):
            break
        except OSError as error:
            if error.errno in GONE:  # a passenger who left: a quiet disconnect
                raise ConnectionResetError(str(error)) from error
            break  # anything else: the loop's sendfile tries (and falls back to read and write, or reports)
        if count == 0:
            break
        sent += count
    return sent


async def send_file(request: web.Request, path: Path, headers: dict[str, str]) -> web.StreamResponse:
    """The file at `path` (already resolved inside the bundle) with `headers` added."""
    if request.method != hdrs.METH_GET or any(name in request.headers for name in NEEDS_FULL_HTTP):
        return web.FileResponse(path, headers=headers)
    try:
        file = open(path, "rb", buffering=0)  # noqa: ASYNC230, SIM115 - on the loop on purpose; closed at prepare()
    except OSError:  # quarantined or replaced since the path was resolved
        return json_error(404, "not found")
    info = os.fstat(file.fileno())
    if not stat.S_ISREG(info.st_mode):
        file.close()
        return json_error(404, "not found")
    return OpenFileResponse(file, info, headers)
