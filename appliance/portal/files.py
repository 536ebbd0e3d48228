"""Sending a bundle file: the plain GET that video players make hundreds of times a minute takes a fast path.

aiohttp's FileResponse opens and stats every file in a worker thread and closes it in another hop; for ~1 MB
HLS segments those hand-offs cost a third of the throughput (bench_portal). The fast path opens and stats on the
event loop, as nginx's single worker does (the bundle's metadata is in the page cache after the boot check), and
hands the descriptor to the kernel with `loop.sendfile` when aiohttp prepares the response, after the guard
(so the security headers apply, and a passenger who stops a video mid-segment is a quiet disconnect, as with
FileResponse). Anything else (HEAD, Range, conditional requests) goes to FileResponse, which
implements those parts of HTTP; both send the same validators, so caches see one file.
"""

from __future__ import annotations

import asyncio
import io
import os
import stat
from pathlib import Path

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.web_request import BaseRequest

from appliance.portal.security import json_error

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
            writer = await super().prepare(request)  # the headers go out now, ahead of the file's bytes
            transport = request.transport
            if transport is None:
                raise ConnectionResetError("connection lost")
            size = self.content_length or 0
            if size:
                await asyncio.get_running_loop().sendfile(transport, self._file, 0, size)
            await super().write_eof()
            return writer
        finally:
            self._file.close()


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
