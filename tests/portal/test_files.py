"""Bundle files: the fast path (plain GET) and FileResponse (HEAD, ranges, preconditions) send the same bytes
and the same validators; a file that vanished after the path was resolved is a JSON 404."""

from __future__ import annotations

import aiohttp

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
