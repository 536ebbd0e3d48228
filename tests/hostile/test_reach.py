"""Issue 18 items 6 and 7: nothing outside the active bundle is ever served, whatever changes on disk; only the
portal's own names and addresses pass the Origin check, and none is taken from the client's Host."""

from __future__ import annotations

import os
from pathlib import Path

import aiohttp
import pytest

from tests.portal.conftest import PortalRig, rig

__all__ = ["rig"]

FILE = "readings/skyways.pdf"


def _secret(rig: PortalRig) -> Path:
    secret = rig.tmp / "maintenance.token"
    secret.write_text("the-maintenance-token\n")
    return secret


@pytest.mark.parametrize("headers", [{}, {"Range": "bytes=0-5"}, {"If-None-Match": '"x"'}],
                         ids=["get", "range", "cond"])
async def test_a_symlink_swapped_in_after_a_first_get_is_never_followed(rig: PortalRig,
                                                                         headers: dict[str, str]) -> None:
    root = rig.content.active_root()
    assert root is not None
    secret = _secret(rig)
    async with aiohttp.ClientSession() as s:
        async with s.get(rig.base + "/content/" + FILE) as r:
            assert r.status == 200
        target = root / FILE
        target.unlink()
        target.symlink_to(secret)
        async with s.get(rig.base + "/content/" + FILE, headers=headers) as r:
            body = await r.read()
            assert r.status == 404 and b"maintenance-token" not in body
        # a directory on the way swapped for a symlink to a directory outside
        outside = rig.tmp / "outside"
        (outside).mkdir()
        (outside / "skyways.pdf").write_text("outside the bundle")
        os.rename(root / "readings", root / "readings-old")
        (root / "readings").symlink_to(outside)
        async with s.get(rig.base + "/content/" + FILE, headers=headers) as r:
            assert r.status == 404 and b"outside" not in await r.read()


async def test_a_rebound_host_cannot_post_or_be_reflected(rig: PortalRig) -> None:
    async with aiohttp.ClientSession() as s:
        evil = {"Host": "evil.example", "Origin": "http://evil.example"}
        async with s.post(rig.base + "/captive-portal/accept", data={"lang": "en"}, headers=evil,
                          allow_redirects=False) as r:
            assert r.status == 403 and r.content_type == "application/json"
        async with s.post(rig.base + "/api/v1/orders", headers=evil,
                          json={"kind": "booking", "item": "hotel-madrid", "email": "a@b.co"}) as r:
            assert r.status == 403
        async with s.post(rig.base + "/api/v1/orders", headers={"Host": "evil.example"},
                          json={"kind": "booking", "item": "hotel-madrid", "email": "a@b.co"}) as r:
            assert r.status == 403  # no Origin at all: the Host must still be the portal's
        assert len(rig.services.clients) == 0
        async with s.get(rig.base + "/captive-portal/api", headers={"Host": "evil.example"}) as r:
            body = await r.json(content_type=None)
        assert "evil" not in body["user-portal-url"]
        assert body["user-portal-url"].startswith("http://127.0.0.1:")
        # the portal's own address, and a captive probe host (relative redirects keep phones there) still work
        for host in (rig.base[7:], "captive.apple.com"):
            async with s.post(rig.base + "/captive-portal/accept", data={"lang": "en"},
                              headers={"Host": host, "Origin": f"http://{host}"}, allow_redirects=False) as r:
                assert r.status == 302, host
