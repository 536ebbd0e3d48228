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

Files are opened by `BundleDir`: relative to the active bundle's directory descriptor, one path component at a
time with O_NOFOLLOW, so a symlink swapped in anywhere (a file, a directory) is never followed and nothing
outside the bundle can be served, whatever changes on disk after a first request. FileResponse is given the
open descriptor's /proc/self/fd path (the inode already opened), never the name. A Range in another unit than
bytes is ignored (RFC 9110 14.2); 412 and 416 carry a JSON reason.
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
from typing import Any

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.web_request import BaseRequest

from appliance.httpserve import json_body
from appliance.portal.catalog import safe_relative
from appliance.portal.security import json_error

CORK = getattr(socket, "TCP_CORK", None)  # Linux's; elsewhere the headers go on their own
TLS_CHUNK = 256 * 1024  # bytes read and encrypted per write over TLS (docs/tls.md)
GONE = frozenset({errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN})
# a request carrying any of these needs FileResponse's handling of preconditions (a bytes Range too)
CONDITIONAL = (hdrs.IF_MATCH, hdrs.IF_NONE_MATCH, hdrs.IF_MODIFIED_SINCE, hdrs.IF_UNMODIFIED_SINCE, hdrs.IF_RANGE)
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class BundleDir:
    """The active bundle's directory held open; its files opened relative to it, never through a symlink.

    Failure semantics: `open` answers None for anything that is not a regular file reached through real
    directories inside the bundle (missing, a symlink anywhere on the way, a device, a FIFO, a bad path)."""

    def __init__(self) -> None:
        self._root: Path | None = None
        self._fd = -1

    def open(self, root: Path, relative: str) -> tuple[io.FileIO, os.stat_result] | None:
        clean = safe_relative(relative)
        if clean is None:
            return None
        try:
            directory = self._directory(root)
        except OSError:
            return None
        parts = clean.split("/")
        opened: list[int] = []
        try:
            for part in parts[:-1]:
                directory = os.open(part, DIR_FLAGS, dir_fd=directory)
                opened.append(directory)
            fd = os.open(parts[-1], FILE_FLAGS, dir_fd=directory)
        except OSError:  # ELOOP for a symlink, ENOTDIR, ENOENT (quarantined or replaced)
            return None
        finally:
            for fd_ in opened:
                os.close(fd_)
        file = io.FileIO(fd, "rb", closefd=True)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            file.close()
            return None
        return file, info

    def _directory(self, root: Path) -> int:
        """The root's descriptor, reopened when the active bundle changed (`root` is already resolved)."""
        if root != self._root or self._fd < 0:
            fd = os.open(root, DIR_FLAGS)
            self.close()
            self._root, self._fd = root, fd
        return self._fd

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self._root, self._fd = None, -1


class BundleFileResponse(web.FileResponse):
    """FileResponse (HEAD, Range, preconditions) on a file already opened by BundleDir: it reopens the same
    inode through /proc/self/fd, never a name on disk. A Range in another unit is ignored; 412 is JSON."""

    def __init__(self, file: io.FileIO, headers: dict[str, str], ignore_range: bool) -> None:
        super().__init__(Path(f"/proc/self/fd/{file.fileno()}"), headers=headers)
        self._file = file
        self._ignore_range = ignore_range

    async def prepare(self, request: BaseRequest) -> AbstractStreamWriter | None:
        try:
            if self._ignore_range:
                request = request.clone(headers=[(k, v) for k, v in request.headers.items()
                                                 if k.lower() not in ("range", "if-range")])
            return await super().prepare(request)
        finally:
            self._file.close()

    async def _precondition_failed(self, request: BaseRequest) -> AbstractStreamWriter | None:
        body = json_body(412, "precondition failed")
        self.set_status(412)
        self.content_type = "application/json"
        self.content_length = len(body)
        writer = await web.StreamResponse.prepare(self, request)
        if request.method != hdrs.METH_HEAD:
            await self.write(body)
        return writer


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
            if request.transport is not None and request.transport.get_extra_info("sslcontext") is not None:
                return await self._through_tls(request)
            transport = request.transport
            with _corked(transport) as sock:
                writer = await super().prepare(request)  # the headers, held by the cork until the file follows
                if transport is None or request.transport is None:
                    raise ConnectionResetError("connection lost")
                size = self.content_length or 0
                sent = _send_now(transport, sock, self._file.fileno(), size)
                if sent < size:  # the socket is full: the loop finishes when it drains
                    await asyncio.get_running_loop().sendfile(transport, self._file, sent, size - sent)
            await super().write_eof()
            return writer
        finally:
            self._file.close()

    async def _through_tls(self, request: BaseRequest) -> AbstractStreamWriter | None:
        """Over TLS the bytes must go through OpenSSL: never sendfile to the raw socket under it (that would
        put plaintext into the TLS stream). Read on the loop (the bundle is in the page cache) in chunks, each
        written once the transport has drained the previous one."""
        writer = await super().prepare(request)
        size, offset, fd = self.content_length or 0, 0, self._file.fileno()
        while offset < size:
            chunk = os.pread(fd, min(TLS_CHUNK, size - offset), offset)
            if not chunk:
                raise ConnectionResetError("the file shrank while it was being sent")
            await super().write(chunk)
            offset += len(chunk)
        await super().write_eof()
        return writer


@contextlib.contextmanager
def _corked(transport: asyncio.BaseTransport | None) -> Iterator[Any]:
    """Headers and file leave in full segments, as with nginx's `tcp_nopush` (TCP_CORK); gives the transport's
    socket (None without one), looked up once per response.

    Headers sent alone ahead of the file made the client's side of every segment twice as costly (bench_portal:
    wrk's CPU per 1 MB segment ~390 us against nginx's ~200 us; corked, ~190 us). A socket that is not TCP (a
    Unix socket) refuses the option: then the headers go on their own (no family check: that property builds
    an enum at every call)."""
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None or CORK is None:
        yield sock
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, CORK, 1)
    except OSError:  # not TCP, or already closed: whatever follows fails on its own
        yield sock
        return
    try:
        yield sock
    finally:
        with contextlib.suppress(OSError):  # the passenger may have gone already
            sock.setsockopt(socket.IPPROTO_TCP, CORK, 0)


def _send_now(transport: asyncio.BaseTransport, sock: Any, file_fd: int, size: int) -> int:
    """As many of the file's bytes as the socket takes without waiting (all of a segment, usually).

    Only behind an empty write buffer, so nothing overtakes the headers; the loop's own sendfile would first
    stop reading, wait on a future, and register the socket again, at every request."""
    if sock is None or not isinstance(transport, asyncio.WriteTransport) or transport.get_write_buffer_size():
        return 0
    sent, out_fd = 0, sock.fileno()
    while sent < size:
        try:
            count = os.sendfile(out_fd, file_fd, sent, size - sent)
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


def _range(request: web.Request, size: int) -> str:
    """What to do with the request's Range: "none", "ignore" (another unit than bytes), "serve", "refuse"
    (malformed or starting past the end: 416)."""
    header = request.headers.get(hdrs.RANGE)
    if header is None:
        return "none"
    if header.partition("=")[0].strip().lower() != "bytes":
        return "ignore"
    if hdrs.IF_RANGE in request.headers:
        return "serve"  # whether the range applies at all is FileResponse's to decide
    try:
        wanted = request.http_range
    except ValueError:
        return "refuse"
    start = wanted.start
    return "refuse" if start is not None and start >= 0 and start >= size else "serve"


async def send_file(request: web.Request, opened: tuple[io.FileIO, os.stat_result],
                    headers: dict[str, str]) -> web.StreamResponse:
    """The file BundleDir opened, with `headers` added (the response owns and closes the file)."""
    file, info = opened
    answer = _range(request, info.st_size)
    if answer == "refuse":
        file.close()
        return json_error(416, "range not satisfiable", {hdrs.CONTENT_RANGE: f"bytes */{info.st_size}"})
    if request.method != hdrs.METH_GET or answer == "serve" or any(h in request.headers for h in CONDITIONAL):
        return BundleFileResponse(file, headers, ignore_range=answer == "ignore")
    return OpenFileResponse(file, info, headers)
