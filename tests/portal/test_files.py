"""Bundle files: the fast path (plain GET) and FileResponse (HEAD, ranges, preconditions) send the same bytes
and the same validators; a file that vanished after the path was resolved is a JSON 404."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
from typing import Any

import aiohttp
import pytest

from appliance.portal import files
from tests.portal.conftest import PortalRig

SEGMENT = "/content/video/coast/low/seg001.ts"


async def test_plain_get_and_fileresponse_agree(rig: PortalRig) -> None:
    root = rig.content.active_root()
    assert root is not None
    on_disk = (root / "video/coast/low/seg001.ts").read_bytes()
    async with aiohttp.ClientSession() as s:
        async with s.get(rig.base + SEGMENT) as r:
            assert r.status == 200 and await r.read() == on_disk
            fast = r.headers
        async with s.head(rig.base + SEGMENT) as r:  # FileResponse
            assert r.status == 200
            full = r.headers
        for name in ("Content-Type", "Content-Length", "ETag", "Last-Modified", "Accept-Ranges", "Cache-Control",
                     "X-Content-Type-Options"):
            assert fast[name] == full[name], name
        assert int(fast["Content-Length"]) == len(on_disk)

        async with s.get(rig.base + SEGMENT, headers={"If-None-Match": fast["ETag"]}) as r:
            assert r.status == 304
        async with s.get(rig.base + SEGMENT, headers={"If-Modified-Since": fast["Last-Modified"]}) as r:
            assert r.status == 304
        async with s.get(rig.base + SEGMENT, headers={"Range": "bytes=188-375"}) as r:
            assert r.status == 206 and await r.read() == on_disk[188:376]

        # many plain GETs on one keep-alive connection: every response whole, nothing interleaved
        for _ in range(20):
            async with s.get(rig.base + SEGMENT) as r:
                assert await r.read() == on_disk


async def test_an_empty_file_and_a_vanished_file(rig: PortalRig) -> None:
    root = rig.content.active_root()
    assert root is not None
    (root / "readings" / "empty.txt").write_bytes(b"")
    async with aiohttp.ClientSession() as s:
        async with s.get(rig.base + "/content/readings/empty.txt") as r:
            assert r.status == 200 and await r.read() == b"" and r.headers["Content-Length"] == "0"
        # resolved once (cached), then quarantined by a content check: 404 with a JSON reason, not a 500
        async with s.get(rig.base + "/content/readings/skyways.pdf") as r:
            assert r.status == 200  # a document from a bundle: sandboxed like any other response
            assert "sandbox" in r.headers["Content-Security-Policy"] and r.headers["X-Content-Type-Options"]
        (root / "readings" / "skyways.pdf").unlink()
        async with s.get(rig.base + "/content/readings/skyways.pdf") as r:
            assert r.status == 404 and (await r.json())["error"]


@pytest.mark.parametrize("extra", ["", "Range: bytes=0-\r\n"])  # the fast path, FileResponse
async def test_a_passenger_who_stops_mid_segment_is_a_quiet_disconnect(
    rig: PortalRig, caplog: pytest.LogCaptureFixture, extra: str
) -> None:
    root = rig.content.active_root()
    assert root is not None
    (root / "video" / "coast" / "low" / "long.ts").write_bytes(b"\x47" * (188 * 200_000))  # 37 MB
    host, port = rig.base.removeprefix("http://").split(":")
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"GET /content/video/coast/low/long.ts HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode())
        assert (await reader.read(1000)).startswith(b"HTTP/1.1 20")
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # a reset, mid-file
        writer.close()
        await asyncio.sleep(0.2)
    async with aiohttp.ClientSession() as s, s.get(rig.base + SEGMENT) as r:
        assert r.status == 200 and len(await r.read()) > 0
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_file_larger_than_the_socket_takes_at_once_arrives_whole(
    rig: PortalRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first sendfile fills the socket; the loop's sendfile sends the rest from where it stopped."""
    root = rig.content.active_root()
    assert root is not None
    body = os.urandom(40 * 1024 * 1024)  # no period to hide an offset error
    (root / "video" / "coast" / "low" / "big.ts").write_bytes(body)
    loop = asyncio.get_running_loop()
    offsets: list[int] = []
    loop_sendfile = loop.sendfile

    async def recorded(transport: Any, file: Any, offset: int = 0, count: int | None = None) -> int:
        offsets.append(offset)
        return await loop_sendfile(transport, file, offset, count)

    monkeypatch.setattr(loop, "sendfile", recorded)
    async with aiohttp.ClientSession() as s:
        for _ in range(2):  # the second on the same keep-alive connection: the cork was taken off
            async with s.get(rig.base + "/content/video/coast/low/big.ts") as r:
                assert r.status == 200 and await r.read() == body
            async with s.get(rig.base + "/api/v1/flight") as r:
                assert r.status == 200
    assert offsets and all(0 < offset < len(body) for offset in offsets)  # the rest, after a first direct send


async def test_a_unix_socket_is_sent_to_without_a_cork() -> None:
    """TCP_CORK is refused on a socket that is not TCP: the headers then go on their own, nothing fails."""
    left, right = socket.socketpair(socket.AF_UNIX)

    class Transport(asyncio.BaseTransport):
        def get_extra_info(self, name: str, default: object = None) -> object:
            return left if name == "socket" else default

    try:
        with files._corked(Transport()) as sock:
            assert sock is left
            left.sendall(b"headers")
        assert right.recv(16) == b"headers"
    finally:
        left.close()
        right.close()


async def test_the_cork_comes_off_even_when_sending_fails() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    accepted, _ = server.accept()

    class Transport(asyncio.BaseTransport):
        def get_extra_info(self, name: str, default: object = None) -> object:
            return accepted if name == "socket" else default

    def cork() -> int:
        return accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK)

    try:
        with files._corked(Transport()):
            assert cork() == 1
        assert cork() == 0
        with pytest.raises(ConnectionResetError), files._corked(Transport()):
            assert cork() == 1
            raise ConnectionResetError("gone")
        assert cork() == 0
        with files._corked(None):  # no socket (a closed transport): nothing to do
            pass
    finally:
        for sock in (client, accepted, server):
            sock.close()
