"""Captive-portal probes per platform, before and after acceptance, with the exact bodies and codes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from appliance.portal.captive import CaptiveClients
from appliance.timebase import ManualClock
from tests.portal.conftest import PortalRig, running_rig

APPLE = b"<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"
FIREFOX = b'<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>'

# (host, path, status, body) straight from shared/reference/captive-portal.md
PROBES = [
    ("captive.apple.com", "/hotspot-detect.html", 200, APPLE),
    ("www.apple.com", "/library/test/success.html", 200, APPLE),
    ("connectivitycheck.gstatic.com", "/generate_204", 204, b""),
    ("www.google.com", "/gen_204", 204, b""),
    ("play.googleapis.com", "/generate_204", 204, b""),
    ("clients3.google.com", "/generate_204", 204, b""),
    ("www.gstatic.com", "/generate_204", 204, b""),
    ("www.msftconnecttest.com", "/connecttest.txt", 200, b"Microsoft Connect Test"),
    ("www.msftncsi.com", "/ncsi.txt", 200, b"Microsoft NCSI"),
    ("detectportal.firefox.com", "/canonical.html", 200, FIREFOX),
    ("detectportal.firefox.com", "/success.txt", 200, b"success\n"),
    ("nmcheck.gnome.org", "/check_network_status.txt", 200, b"NetworkManager is online\n"),
]


async def probe(session: aiohttp.ClientSession, base: str, host: str, path: str) -> tuple[int, bytes, str]:
    async with session.get(base + path, headers={"Host": host}, allow_redirects=False) as r:
        return r.status, await r.read(), r.headers.get("Location", "")


async def test_every_probe_redirects_until_accepted_then_gets_the_exact_online_answer(rig: PortalRig) -> None:
    async with aiohttp.ClientSession() as s:
        for host, path, _, _ in PROBES:
            status, _, location = await probe(s, rig.base, host, path)
            assert (status, location) == (302, "/welcome"), (host, path)
        async with s.get(rig.base + "/welcome", headers={"Accept-Language": "de"}) as r:
            page = await r.text()
            assert r.status == 200
            assert "Auf diesem Flug gibt es kein Internet." in page
            assert 'action="/captive-portal/accept"' in page
        async with s.post(rig.base + "/captive-portal/accept", data={"lang": "de"}, allow_redirects=False) as r:
            assert (r.status, r.headers["Location"]) == (302, "/")
        for host, path, code, body in PROBES:
            status, got, _ = await probe(s, rig.base, host, path)
            assert (status, got) == (code, body), (host, path)


ACCEPT = "/captive-portal/accept"
APPLE_PROBE = ("captive.apple.com", "/hotspot-detect.html")


async def accepted(session: aiohttp.ClientSession, base: str) -> bool:
    """Whether the portal treats this client as accepted, asked the way a phone asks."""
    status, body, location = await probe(session, base, *APPLE_PROBE)
    assert (status, body) == (200, APPLE) or (status, location) == (302, "/welcome"), (status, location)
    return status == 200


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"}, {"Origin": "null"},
                                     {"Origin": "{base}.evil.example"}, {"Origin": "http://127.0.0.1:1"},
                                     {"Sec-Fetch-Site": "cross-site"}],
                         ids=["other", "null", "lookalike", "other-port", "fetch-metadata"])
async def test_cross_origin_accept_is_refused_and_the_client_stays_captive(
    rig: PortalRig, headers: dict[str, str]
) -> None:
    headers = {k: v.replace("{base}", rig.base) for k, v in headers.items()}
    async with aiohttp.ClientSession() as s:
        async with s.post(rig.base + ACCEPT, data={"lang": "en"}, headers=headers, allow_redirects=False) as r:
            assert r.status == 403
            assert r.headers["Content-Type"].startswith("application/json")
            assert "cross-origin" in (await r.json())["error"]
            assert "Set-Cookie" not in r.headers
        assert not await accepted(s, rig.base)
        async with s.get(rig.base + "/captive-portal/api") as r:
            assert (await r.json(content_type=None))["captive"] is True
        assert len(rig.services.clients) == 0
        # the welcome page's own form, as a browser sends it: same origin
        same = {"Origin": rig.base, "Sec-Fetch-Site": "same-origin"}
        async with s.post(rig.base + ACCEPT, data={"lang": "en"}, headers=same, allow_redirects=False) as r:
            assert (r.status, r.headers["Location"]) == (302, "/")
        assert await accepted(s, rig.base)


@pytest.fixture
async def trusted_rig(tmp_path: Path) -> AsyncIterator[PortalRig]:
    async with running_rig(tmp_path, public_host="portal.cabin", allowed_origins=["http://portal.cabin"]) as r:
        yield r


async def test_an_allowed_origin_may_accept(trusted_rig: PortalRig) -> None:
    """The cabin DNS name the redirect sends phones to (`public_host`) is another origin than the listener's
    address: listed in `allowed_origins` it may post; a look-alike may not."""
    async with aiohttp.ClientSession() as s:
        status, _, location = await probe(s, trusted_rig.base, *APPLE_PROBE)
        assert (status, location) == (302, "http://portal.cabin/welcome")
        async with s.post(trusted_rig.base + ACCEPT, headers={"Origin": "http://portal.cabin.evil.example"},
                          allow_redirects=False) as r:
            assert r.status == 403
        assert len(trusted_rig.services.clients) == 0
        async with s.post(trusted_rig.base + ACCEPT, headers={"Origin": "http://portal.cabin"},
                          allow_redirects=False) as r:
            assert r.status == 302
        status, body, _ = await probe(s, trusted_rig.base, *APPLE_PROBE)
        assert (status, body) == (200, APPLE)


async def test_accept_body_is_limited_with_or_without_a_length(rig: PortalRig) -> None:
    limit = rig.services.config.max_body_bytes
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: only reading the body finds it too large
        yield b"lang=en&pad="
        for _ in range(4):
            yield b"x" * limit

    async with aiohttp.ClientSession() as s:
        for data in (b"lang=en&pad=" + b"x" * limit, chunks()):
            async with s.post(rig.base + ACCEPT, data=data, headers=form, allow_redirects=False) as r:
                assert r.status == 413
                assert "too large" in (await r.json())["error"]
            assert not await accepted(s, rig.base)
        async with s.post(rig.base + ACCEPT, data=b"lang=en&pad=" + b"x" * (limit // 2), headers=form,
                          allow_redirects=False) as r:
            assert r.status == 302
        assert await accepted(s, rig.base)


@pytest.fixture
async def clock_rig(tmp_path: Path) -> AsyncIterator[tuple[PortalRig, ManualClock]]:
    clock = ManualClock()
    async with running_rig(tmp_path, portal_clock=clock, captive_inactivity_seconds=600.0) as r:
        yield r, clock


async def test_accepted_client_is_kept_while_active_and_forgotten_after_inactivity_over_http(
    clock_rig: tuple[PortalRig, ManualClock],
) -> None:
    rig, clock = clock_rig
    other = aiohttp.TCPConnector(local_addr=("127.0.0.3", 0))  # a second device, never accepted
    async with aiohttp.ClientSession() as s, aiohttp.ClientSession(connector=other) as neighbour:
        assert not await accepted(s, rig.base)
        async with s.post(rig.base + ACCEPT, allow_redirects=False) as r:
            assert r.status == 302
        assert await accepted(s, rig.base)
        assert not await accepted(neighbour, rig.base)  # per device, not for everyone
        # any request keeps it: the app (through the guard) and the flight document polled by mini-browsers
        for path in ("/api/v1/catalog", "/api/v1/flight", "/static/app.css", "/api/v1/flight"):
            clock.advance(500)
            async with s.get(rig.base + path) as r:
                assert r.status == 200, path
        clock.advance(500)  # 2,500 s since the acceptance, never 600 s quiet
        assert await accepted(s, rig.base)
        async with s.get(rig.base + "/captive-portal/api") as r:
            body = await r.json(content_type=None)
            assert body["captive"] is False and body["seconds-remaining"] == 600
        clock.advance(601)  # quiet for longer than portal.captive_inactivity_seconds
        assert not await accepted(s, rig.base)
        async with s.get(rig.base + "/captive-portal/api") as r:
            assert (await r.json(content_type=None))["captive"] is True
        clock.advance(10_000)
        async with s.get(rig.base + "/api/v1/catalog") as r:  # a forgotten client is not revived by activity
            assert r.status == 200
        assert not await accepted(s, rig.base)


async def test_a_probe_path_on_another_host_is_not_a_probe(rig: PortalRig) -> None:
    async with aiohttp.ClientSession() as s:
        status, _, _ = await probe(s, rig.base, "example.org", "/generate_204")
        assert status == 404


async def test_captive_api_rfc8908(rig: PortalRig) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(rig.base + "/captive-portal/api") as r:
            assert r.headers["Content-Type"] == "application/captive+json"
            assert r.headers["Cache-Control"] == "private, no-store"
            body = await r.json(content_type=None)
            assert body["captive"] is True
            assert body["user-portal-url"].endswith("/welcome")
        await s.post(rig.base + "/captive-portal/accept", allow_redirects=False)
        async with s.get(rig.base + "/captive-portal/api") as r:
            body = await r.json(content_type=None)
            assert body["captive"] is False
            assert 0 < body["seconds-remaining"] <= rig.services.config.captive_inactivity_seconds


def test_clients_are_forgotten_after_inactivity_and_kept_while_active() -> None:
    clock = ManualClock()
    clients = CaptiveClients(clock, inactivity=600)
    clients.accept("10.0.0.7")
    clock.advance(500)
    clients.touch("10.0.0.7")  # any request keeps it
    clock.advance(500)
    assert clients.is_accepted("10.0.0.7")
    clock.advance(601)
    assert not clients.is_accepted("10.0.0.7")
    assert not clients.is_accepted("10.0.0.8")


@pytest.mark.parametrize("lang,phrase", [("en", "There is no internet on this flight."),
                                         ("es", "En este vuelo no hay internet."),
                                         ("ca", "En aquest vol no hi ha internet."),
                                         ("fr", "Il n'y a pas d'internet sur ce vol.")])
async def test_welcome_page_language_and_no_script(rig: PortalRig, lang: str, phrase: str) -> None:
    async with aiohttp.ClientSession() as s, s.get(rig.base + f"/welcome?lang={lang}") as r:
        page = await r.text()
    assert f'<html lang="{lang}">' in page
    from html import escape
    assert escape(phrase) in page
    assert "<script" not in page  # works in mini-browsers without JavaScript
    assert "IB1234" in page  # the flight, rendered on the server
