"""HTTPS on the passenger portal (docs/tls.md): certificates checked and installed atomically, swapped into the
running listener while SSE clients stay connected, bad ones refused with the old one served; plain HTTP keeps
the probes and redirects the rest; the RFC 8908 API only over HTTPS."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from appliance.portal.tls import check_pair, name_matches
from appliance.tlsca import LocalCA
from tests.conftest import free_port
from tests.portal.conftest import PortalRig, running_rig

HOST = "portal.cabin.test"
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def ca() -> LocalCA:
    return LocalCA.create()


def client_context(ca: LocalCA) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=ca.cert_pem.decode())
    return context


async def served_fingerprint(port: int, ca: LocalCA) -> str:
    """SHA-256 of the certificate a new TLS connection to the portal gets (verified against the CA for HOST)."""
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context(ca), server_hostname=HOST)
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    return hashlib.sha256(der).hexdigest()


def resolver(port: int) -> aiohttp.TCPConnector:
    """HOST resolves to the portal's loopback address (what the cabin DNS does)."""

    class Fixed(aiohttp.abc.AbstractResolver):
        async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[dict[str, object]]:
            return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": 2, "proto": 0, "flags": 0}]

        async def close(self) -> None:
            pass

    return aiohttp.TCPConnector(resolver=Fixed(), limit=0)


@pytest.fixture
async def tls_rig(tmp_path: Path, ca: LocalCA) -> AsyncIterator[PortalRig]:
    first = ca.issue([HOST], days=60)
    (tmp_path / "cert.pem").write_bytes(first.cert_pem)
    (tmp_path / "key.pem").write_bytes(first.key_pem)
    async with running_rig(tmp_path, public_host=HOST, tls_listen=f"127.0.0.1:{free_port()}",
                           tls_cert=str(tmp_path / "cert.pem"), tls_key=str(tmp_path / "key.pem")) as r:
        yield r


def test_pair_checks_refuse_expired_mismatched_wrong_name_and_soon_expiring(ca: LocalCA) -> None:
    good = ca.issue([HOST], days=60)
    margin = timedelta(days=14)
    assert check_pair(good.cert_pem, good.key_pem, HOST, NOW, margin).installed
    other = ca.issue([HOST], days=60)
    cases = {
        "expired": (ca.issue([HOST], days=5, not_before=NOW - timedelta(days=10)), None, "expired"),
        "mismatched key": (good, other.key_pem, "does not match"),
        "wrong name": (ca.issue(["other.example"], days=60), None, "does not name portal.cabin.test"),
        "not yet valid": (ca.issue([HOST], days=60, not_before=NOW + timedelta(days=1)), None, "not valid before"),
        "within margin": (ca.issue([HOST], days=10), None, "renewal margin"),
    }
    for label, (issued, key, reason) in cases.items():
        result = check_pair(issued.cert_pem, key or issued.key_pem, HOST, NOW, margin)
        assert not result.installed and reason in result.reason, (label, result.reason)
    assert not check_pair(b"garbage", good.key_pem, HOST, NOW, margin).installed
    assert not check_pair(good.cert_pem, b"garbage", HOST, NOW, margin).installed
    assert name_matches("*.cabin.test", HOST) and not name_matches("*.test", HOST)


async def test_https_serves_the_app_and_plain_http_keeps_only_the_probes(tls_rig: PortalRig, ca: LocalCA) -> None:
    portal = tls_rig.portal
    assert portal.https_address is not None
    port = portal.https_address[1]
    https = f"https://{HOST}:{port}"
    async with aiohttp.ClientSession(connector=resolver(port)) as s:
        for path in ("/", "/api/v1/flight", "/api/v1/catalog", "/static/app.js"):
            async with s.get(https + path, ssl=client_context(ca)) as r:
                assert r.status == 200, path
        async with s.get(https + "/captive-portal/api", ssl=client_context(ca)) as r:
            assert r.content_type == "application/captive+json"
            body = await r.json(content_type=None)
            assert body["captive"] is True and body["user-portal-url"] == f"{https}/welcome"
        # plain HTTP: the probe redirects to the HTTPS welcome page; everything else to the same path over HTTPS
        async with s.get(tls_rig.base + "/hotspot-detect.html", headers={"Host": "captive.apple.com"},
                         allow_redirects=False) as r:
            assert (r.status, r.headers["Location"]) == (302, f"{https}/welcome")
        for path in ("/", "/api/v1/flight?x=1", "/content/x"):
            async with s.get(tls_rig.base + path, allow_redirects=False) as r:
                assert (r.status, r.headers["Location"]) == (301, https + path), path
        async with s.post(tls_rig.base + "/api/v1/orders", json={}, allow_redirects=False) as r:
            assert r.status == 308
        async with s.get(tls_rig.base + "/captive-portal/api", allow_redirects=False) as r:
            assert r.status == 404 and "HTTPS only" in (await r.json())["error"]
        # accept over HTTPS; then the plain probe gets the exact "online" answer
        async with s.post(https + "/captive-portal/accept", data={"lang": "en"}, ssl=client_context(ca),
                          headers={"Origin": https}, allow_redirects=False) as r:
            assert r.status == 302
        async with s.get(tls_rig.base + "/hotspot-detect.html", headers={"Host": "captive.apple.com"}) as r:
            assert r.status == 200 and "Success" in await r.text()
    assert portal.health().status == "pass"


async def test_without_a_certificate_the_portal_serves_http_and_health_warns(tmp_path: Path) -> None:
    async with running_rig(tmp_path, public_host=HOST, tls_listen=f"127.0.0.1:{free_port()}") as rig:
        check = rig.portal.health()
        assert check.status == "warn" and "plain HTTP only" in check.reason
        assert rig.portal.https_address is None
        async with aiohttp.ClientSession() as s, s.get(rig.base + "/captive-portal/api") as r:
            assert r.status == 200 and (await r.json(content_type=None))["user-portal-url"].startswith("http://")


async def test_first_certificate_delivered_at_runtime_starts_https(tmp_path: Path, ca: LocalCA) -> None:
    async with running_rig(tmp_path, public_host=HOST, tls_listen=f"127.0.0.1:{free_port()}") as rig:
        pair = ca.issue([HOST], days=60)
        result = rig.services.https.install(pair.cert_pem, pair.key_pem, NOW)
        assert result.installed, result.reason
        for _ in range(100):
            if rig.portal.https_address is not None:
                break
            await asyncio.sleep(0.02)
        assert rig.portal.https_address is not None
        assert await served_fingerprint(rig.portal.https_address[1], ca) == result.fingerprint
        assert (tmp_path / "state" / "tls" / "current" / "key.pem").stat().st_mode & 0o077 == 0


async def _sse_client(port: int, ca: LocalCA, ready: asyncio.Event, ticks: list[int], index: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context(ca), server_hostname=HOST)
    writer.write(f"GET /api/v1/flight/stream HTTP/1.1\r\nHost: {HOST}\r\nAccept: text/event-stream\r\n\r\n"
                 .encode())
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            if line.startswith(b"id: "):
                ticks[index] += 1
                ready.set()
    finally:
        writer.close()


async def test_renewed_certificate_swaps_in_while_200_sse_clients_stay_and_bad_ones_are_refused(
        tmp_path: Path, ca: LocalCA) -> None:
    first = ca.issue([HOST], days=60)
    (tmp_path / "cert.pem").write_bytes(first.cert_pem)
    (tmp_path / "key.pem").write_bytes(first.key_pem)
    async with running_rig(tmp_path, public_host=HOST, tls_listen=f"127.0.0.1:{free_port()}",
                           tls_cert=str(tmp_path / "cert.pem"), tls_key=str(tmp_path / "key.pem"),
                           sse_interval_seconds=0.2, sse_max_per_address=300,
                           max_connections_per_address=400) as rig:
        assert rig.portal.https_address is not None
        port = rig.portal.https_address[1]
        https = rig.services.https
        old = await served_fingerprint(port, ca)
        clients = 200
        ticks = [0] * clients
        ready = asyncio.Event()
        tasks = [asyncio.create_task(_sse_client(port, ca, ready, ticks, i)) for i in range(clients)]
        try:
            for _ in range(200):
                if all(ticks):
                    break
                await asyncio.sleep(0.05)
            assert all(ticks), f"{sum(1 for t in ticks if not t)} clients got no tick"
            renewed = ca.issue([HOST], days=90)
            result = https.install(renewed.cert_pem, renewed.key_pem, NOW)
            assert result.installed, result.reason
            assert await served_fingerprint(port, ca) == result.fingerprint != old
            before = list(ticks)
            await asyncio.sleep(1.0)
            assert all(t.done() is False for t in tasks), "an SSE client was dropped by the swap"
            assert all(after > b for after, b in zip(ticks, before, strict=True)), "a client stopped getting ticks"
            # bad pairs: refused, the renewed one still served and still on disk
            bad = {
                "expired": ca.issue([HOST], days=5, not_before=NOW - timedelta(days=10)),
                "wrong name": ca.issue(["elsewhere.example"], days=60),
            }
            mismatched = ca.issue([HOST], days=60)
            for label, issued in bad.items():
                refusal = https.install(issued.cert_pem, issued.key_pem, NOW)
                assert not refusal.installed, label
            refusal = https.install(mismatched.cert_pem, first.key_pem, NOW)
            assert not refusal.installed and "does not match" in refusal.reason
            assert await served_fingerprint(port, ca) == result.fingerprint
            assert (tmp_path / "state" / "tls" / "current" / "cert.pem").read_bytes() == renewed.cert_pem
            assert rig.portal.health().details["https"]["last_refusal"] == refusal.reason
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def test_bundle_files_over_https_arrive_intact_and_encrypted(tls_rig: PortalRig, ca: LocalCA) -> None:
    """The plain-HTTP fast path hands the file to the kernel (sendfile): over TLS that would put plaintext into
    the TLS stream. Over HTTPS every byte must come through OpenSSL."""
    root = tls_rig.content.active_root()
    assert root is not None
    big = root / "video" / "coast" / "low" / "big.ts"
    big.write_bytes(bytes(range(256)) * 40_000)  # 10 MB: more than one socket buffer
    assert tls_rig.portal.https_address is not None
    port = tls_rig.portal.https_address[1]
    async with aiohttp.ClientSession(connector=resolver(port)) as s:
        for name in ("seg001.ts", "big.ts"):
            async with s.get(f"https://{HOST}:{port}/content/video/coast/low/{name}", ssl=client_context(ca)) as r:
                assert r.status == 200
                assert await r.read() == (root / "video" / "coast" / "low" / name).read_bytes(), name
