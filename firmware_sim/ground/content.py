"""The ground station's content side: bundle directories served as static files with Range, every byte
through the link model. What nginx or S3 would do, plus fault knobs: corrupt the next N responses (one
flipped byte) and count what was served. Bundles are made with the real packer
(`python -m appliance content pack SRC DEST --publish`), as the airline would on the ground."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from firmware_sim.ground.link import HEADER_BYTES, LinkCut, LinkModel

PIECE = 16 * 1024
RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


class ContentServer:
    def __init__(self, bundles_dir: Path, link: LinkModel | None = None,
                 tampered: Callable[[], bool] = lambda: False) -> None:
        self.bundles_dir = bundles_dir
        self.tampered = tampered  # True: the TUF knob tampered_target, the index and manifests get a byte flipped
        self.link = link or LinkModel()
        self.corrupt_next = 0  # flip one byte in each of the next N file responses
        self.corrupted = 0
        self.requests = 0
        self.range_requests = 0
        self.dropped = 0

    def resolve(self, tail: str) -> Path | None:
        parts = tail.split("/")
        if not tail or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            return None
        root = self.bundles_dir.resolve()
        path = (root / tail).resolve()
        if root not in path.parents or not path.is_file():
            return None
        return path

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        path = self.resolve(request.match_info["tail"])
        if path is None:
            return _error(404, "no such file")
        size = path.stat().st_size
        start, end = 0, size - 1
        status = 200
        header = request.headers.get("Range")
        if header is not None:
            parsed = _parse_range(header, size)
            if parsed is None:
                return _error(416, f"unsatisfiable range {header!r}", **{"Content-Range": f"bytes */{size}"})
            start, end = parsed
            status = 206
            self.range_requests += 1
        response = web.StreamResponse(status=status)
        response.content_type = "application/json" if path.suffix == ".json" else "application/octet-stream"
        response.content_length = end - start + 1
        response.headers["Accept-Ranges"] = "bytes"
        if status == 206:
            response.headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        corrupt = self.corrupt_next > 0 and path.name not in {"index.json", "manifest.json"}
        if corrupt:
            self.corrupt_next -= 1
            self.corrupted += 1
        elif path.name in {"index.json", "manifest.json"} and self.tampered():
            corrupt = True  # an attacker's document: well-formed length, not the signed bytes
            self.corrupted += 1
        try:
            await self.link.round_trip()
            await self.link.transmit(HEADER_BYTES, header=True)
            await response.prepare(request)
            position = start
            while position <= end:
                piece = _read_piece(path, position, min(PIECE, end - position + 1))
                if not piece:
                    break
                if corrupt:
                    piece[len(piece) // 2] ^= 0x5A
                    corrupt = False
                allowed = await self.link.transmit(len(piece))
                await response.write(bytes(piece[:allowed]))
                if allowed < len(piece):
                    raise LinkCut
                position += len(piece)
            await response.write_eof()
        except (LinkCut, ConnectionResetError):
            self.dropped += 1
            if request.transport is not None:
                request.transport.abort()
        return response

    def state(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "range_requests": self.range_requests,
            "dropped": self.dropped,
            "corrupted": self.corrupted,
            "corrupt_next": self.corrupt_next,
            "link": self.link.state(),
        }


def _read_piece(path: Path, offset: int, length: int) -> bytearray:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return bytearray(handle.read(length))


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """A single `bytes=` range as inclusive (start, end), or None when unsatisfiable or unsupported."""
    match = RANGE.fullmatch(header.strip())
    if match is None or size == 0:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        length = int(last)
        if length == 0:
            return None
        return max(0, size - length), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


def add_content_routes(
    app: web.Application, bundles_dir: Path, link: LinkModel | None = None, prefix: str = "/content",
    tampered: Callable[[], bool] = lambda: False,
) -> ContentServer:
    """Serve `bundles_dir` (index.json and bundle directories) under `prefix` through `link`."""
    server = ContentServer(bundles_dir, link, tampered)
    app.router.add_get(prefix + "/{tail:.+}", server.handle)
    return server
