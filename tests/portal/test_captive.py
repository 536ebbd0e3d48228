"""Captive-portal probes per platform, before and after acceptance, with the exact bodies and codes."""

from __future__ import annotations

import aiohttp
import pytest

from appliance.portal.captive import CaptiveClients
from appliance.timebase import ManualClock
from tests.portal.conftest import PortalRig

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
