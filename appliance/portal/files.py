"""Sending a bundle file: the plain GET that video players make hundreds of times a minute takes a fast path.

aiohttp's FileResponse opens and stats every file in a worker thread and closes it in another hop; for ~1 MB
HLS segments those hand-offs cost a third of the throughput (bench_portal). The fast path opens and stats on the
event loop, as nginx's single worker does (the bundle's metadata is in the page cache after the boot check), and
hands the descriptor to the kernel with `loop.sendfile`. Anything else (HEAD, Range, conditional requests) goes
to FileResponse, which implements those parts of HTTP; both send the same validators, so caches see one file.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

from aiohttp import hdrs, web

from appliance.portal.security import add_security_headers, json_error

# a request carrying any of these needs FileResponse's handling of ranges and preconditions
NEEDS_FULL_HTTP = (hdrs.RANGE, hdrs.IF_MATCH, hdrs.IF_NONE_MATCH, hdrs.IF_MODIFIED_SINCE,
                   hdrs.IF_UNMODIFIED_SINCE, hdrs.IF_RANGE)


async def send_file(request: web.Request, path: Path, headers: dict[str, str]) -> web.StreamResponse:
    """The file at `path` (already resolved inside the bundle) with `headers` added."""
    if request.method != hdrs.METH_GET or any(name in request.headers for name in NEEDS_FULL_HTTP):
        return web.FileResponse(path, headers=headers)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # quarantined or replaced since the path was resolved
        return json_error(404, "not found")
    with open(fd, "rb", buffering=0) as file:  # noqa: ASYNC230 - on the loop on purpose (module docstring)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return json_error(404, "not found")
        response = web.StreamResponse(headers=headers)
        add_security_headers(request, response.headers)  # sent here, before the middleware sees the response
        response.content_length = info.st_size
        response.last_modified = info.st_mtime
        response.etag = f"{info.st_mtime_ns:x}-{info.st_size:x}"  # the same validator FileResponse sends
        response.headers[hdrs.ACCEPT_RANGES] = "bytes"
        await response.prepare(request)  # the headers go out now, ahead of the file's bytes
        transport = request.transport
        if transport is None:
            raise ConnectionResetError("connection lost")
        if info.st_size:
            await asyncio.get_running_loop().sendfile(transport, file, 0, info.st_size)
        await response.write_eof()
    return response
