"""Catalog, content serving (types, traversal, over-temperature, ground profile), orders, security."""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path

import aiohttp
import pytest

from appliance.portal.catalog import parse_catalog, resolve_inside, safe_relative
from appliance.ports import StorageRefused
from tests.portal.conftest import PortalRig, start_rig

JSON = {"Content-Type": "application/json"}


async def get_json(s: aiohttp.ClientSession, url: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    async with s.get(url) as r:
        return r.status, await r.json(content_type=None)


async def test_catalog_per_language_and_kind(rig: PortalRig) -> None:
    async with aiohttp.ClientSession() as s:
        status, cat = await get_json(s, rig.base + "/api/v1/catalog?lang=es")
        assert status == 200
        assert cat["bundle"] == "samples-2026-11-23"
        kinds = {i["kind"] for i in cat["items"]}
        assert kinds == {"video", "reading", "guide", "offer"}
        video = next(i for i in cat["items"] if i["kind"] == "video")
        assert video["title"] == "A lo largo de la costa"
        assert video["files"]["hls"] == "/content/video/coast/master.m3u8"
        assert cat["video_available"] is True
        status, readings = await get_json(s, rig.base + "/api/v1/catalog?kind=reading&lang=de")
        assert {i["category"] for i in readings["items"]} == {"newspaper", "magazine"}
        assert {i["category_name"] for i in readings["items"]} == {"Zeitung", "Magazin"}
        assert readings["items"][0]["title"] or readings["items"][1]["title"]
        status, err = await get_json(s, rig.base + "/api/v1/catalog?kind=podcast")
        assert status == 400 and "kind" in err["error"]


async def test_new_day_bundle_shows_the_new_newspaper(rig: PortalRig) -> None:
    rig.install_day(date(2026, 11, 24))
    async with aiohttp.ClientSession() as s:
        _, cat = await get_json(s, rig.base + "/api/v1/catalog?kind=reading")
    ids = {i["id"] for i in cat["items"]}
    assert "news-2026-11-24" in ids and "news-2026-11-23" not in ids


async def test_hls_served_with_types_and_sendfile_and_range(rig: PortalRig) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(rig.base + "/content/video/coast/master.m3u8") as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "application/vnd.apple.mpegurl"
            assert "low/index.m3u8" in await r.text()
        async with s.get(rig.base + "/content/video/coast/low/index.m3u8") as r:
            assert "seg000.ts" in await r.text()
        async with s.get(rig.base + "/content/video/coast/low/seg000.ts") as r:
            body = await r.read()
            assert r.headers["Content-Type"] == "video/mp2t"
            assert body[0] == 0x47 and len(body) % 188 == 0
        async with s.get(rig.base + "/content/video/coast/low/seg000.ts", headers={"Range": "bytes=0-187"}) as r:
            assert r.status == 206 and len(await r.read()) == 188
        async with s.get(rig.base + "/content/readings/skyways.pdf") as r:
            assert r.headers["Content-Type"] == "application/pdf"
            assert (await r.read()).startswith(b"%PDF-")


@pytest.mark.parametrize("path", ["/content/../state/journal", "/content/%2e%2e/%2e%2e/etc/passwd",
                                  "/content/manifest.json", "/content/catalog.json", "/content/.hidden",
                                  "/content/video//coast/master.m3u8", "/static/../component.py",
                                  "/static/%2e%2e/component.py", "/content/video/coast/..%2f..%2fcatalog.json"])
async def test_no_path_traversal(rig: PortalRig, path: str) -> None:
    async with aiohttp.ClientSession() as s, s.get(rig.base + path) as r:
        assert r.status in (403, 404), path
        assert b"import" not in await r.read()


def test_resolve_inside_refuses_escapes_and_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "bundle"
    root.mkdir()
    (root / "ok.pdf").write_bytes(b"%PDF")
    (tmp_path / "secret.txt").write_text("secret")
    (root / "link.pdf").symlink_to(tmp_path / "secret.txt")
    assert resolve_inside(root, "ok.pdf") == (root / "ok.pdf").resolve()
    assert resolve_inside(root, "link.pdf") is None
    for bad in ("../secret.txt", "/etc/passwd", "a/../../secret.txt", "a\\b", ".x", "a\x00b", ""):
        assert safe_relative(bad) is None
        assert resolve_inside(root, bad) is None


def test_invalid_catalog_items_are_skipped_and_counted() -> None:
    cat = parse_catalog({"items": [
        {"id": "ok", "kind": "offer", "category": "hotel", "languages": ["en"], "title": {"en": "Hotel"}},
        {"id": "Bad Id", "kind": "offer", "category": "x", "languages": ["en"], "title": {"en": "x"}},
        {"id": "v", "kind": "video", "category": "film", "languages": ["en"], "title": {"en": "no files"}},
        {"id": "t", "kind": "reading", "category": "x", "languages": ["en"], "title": {"en": "x"},
         "files": {"pdf": "../../etc/passwd"}},
        {"id": "ok", "kind": "offer", "category": "hotel", "languages": ["en"], "title": {"en": "dup"}},
        "junk",
    ]})
    assert [i["id"] for i in cat.items] == ["ok"]
    assert cat.invalid == 5


async def test_over_temperature_stops_new_video_sessions_only(rig: PortalRig) -> None:
    rig.alarms.raise_alarm("over_temperature", "cabin server at 78 degC")
    async with aiohttp.ClientSession() as s:
        async with s.get(rig.base + "/content/video/coast/master.m3u8") as r:
            assert r.status == 503
            assert "over-temperature" in (await r.json())["error"]
            assert r.headers["Retry-After"]
        async with s.get(rig.base + "/content/video/coast/low/seg001.ts") as r:
            assert r.status == 200  # a session already playing finishes its segments
        _, cat = await get_json(s, rig.base + "/api/v1/catalog")
        assert cat["video_available"] is False
        assert "over-temperature" in cat["video_unavailable_reason"]
        async with s.get(rig.base + "/content/readings/skyways.pdf") as r:
            assert r.status == 200


async def post_order(s: aiohttp.ClientSession, rig: PortalRig, body: object, **headers: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    async with s.post(rig.base + "/api/v1/orders", data=json.dumps(body), headers={**JSON, **headers}) as r:
        return r.status, await r.json(content_type=None)


async def test_order_is_durable_before_201_and_pii_stays_out_of_logs(
    rig: PortalRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with aiohttp.ClientSession() as s:
        status, body = await post_order(s, rig, {"kind": "offer", "item": "hotel-madrid",
                                                 "email": "ana.garcia@example.com", "seat": "12a", "lang": "es"})
    assert status == 201, body
    assert body["status"] == "queued" and body["delivery"] == "after_landing"
    pending = rig.storage.outbox.pending("offer")
    assert [p.id for p in pending] == [body["id"]]
    assert pending[0].payload["email"] == "ana.garcia@example.com"
    assert pending[0].payload["seat"] == "12A"
    assert pending[0].payload["item_title"].startswith("Hotel en Madrid")
    assert pending[0].payload["flight_number"] == "IB1234"
    assert "ana.garcia" not in caplog.text and "example.com" not in caplog.text
    from prometheus_client import generate_latest
    assert b"example.com" not in generate_latest(rig.metrics.registry)


CLIENT_ADDRESS = "127.0.0.3"  # the passenger's device: a loopback address of its own, not the listener's


async def test_pii_stays_out_of_logs_with_the_access_log_on(
    debug_rig: PortalRig, caplog: pytest.LogCaptureFixture
) -> None:
    rig, email = debug_rig, "ana.garcia@example.com"
    secrets = (email, "ana.garcia", "example.com", CLIENT_ADDRESS, "category=hotel", "ref=", "?")
    connector = aiohttp.TCPConnector(local_addr=(CLIENT_ADDRESS, 0))
    async with aiohttp.ClientSession(connector=connector) as s:
        async with s.post(rig.base + "/captive-portal/accept", data={"lang": "es"}, allow_redirects=False) as r:
            assert r.status == 302
        status, body = await post_order(s, rig, {"kind": "offer", "item": "hotel-madrid", "email": email,
                                                 "seat": "12A", "lang": "es"})
        assert status == 201, body
        status, _ = await post_order(s, rig, {"kind": "offer", "item": "hotel-madrid", "email": email,
                                              "seat": "99Z"})
        assert status == 422
        async with s.get(rig.base + "/api/v1/catalog?lang=es&category=hotel&ref=ana.garcia%40example.com") as r:
            assert r.status == 200
        async with s.get(rig.base + "/welcome?lang=es&ref=ana.garcia@example.com") as r:
            assert r.status == 200
    assert rig.services.clients.is_accepted(CLIENT_ADDRESS)  # the server did see the client's own address
    assert rig.storage.outbox.pending("offer")[0].payload["email"] == email  # stored where it is needed

    for record in caplog.records:
        text = record.getMessage() + (caplog.handler.format(record) if record.exc_info else "")
        for secret in secrets if record.name == "appliance.portal.access" else secrets[:-1]:
            assert secret not in text, (secret, record.name, text)
    access = [r.getMessage() for r in caplog.records if r.name == "appliance.portal.access"]
    assert [" ".join(line.split()[:3]) for line in access] == [  # the access log really ran: method, path, status
        "POST /captive-portal/accept 302", "POST /api/v1/orders 201", "POST /api/v1/orders 422",
        "GET /api/v1/catalog 200", "GET /welcome 200"], access
    from prometheus_client import generate_latest
    exposition = generate_latest(rig.metrics.registry)
    assert b"example.com" not in exposition and CLIENT_ADDRESS.encode() not in exposition


@pytest.mark.parametrize("body,field", [
    ({"kind": "booking", "item": "hotel-madrid", "email": "not-an-email"}, "email"),
    ({"kind": "parcel", "item": "hotel-madrid", "email": "a@b.es"}, "kind"),
    ({"kind": "email", "email": "a@b.es"}, "item"),
    ({"kind": "email", "item": "skyways", "email": "a@b.es", "seat": "99Z"}, "seat"),
    ({"kind": "email", "item": "skyways", "email": "a@b.es", "extra": 1}, None),
    ({"kind": "email", "item": "no-such-item", "email": "a@b.es"}, None),
    ([1, 2], None),
])
async def test_invalid_orders_get_clear_422(rig: PortalRig, body: object, field: str | None) -> None:
    async with aiohttp.ClientSession() as s:
        status, answer = await post_order(s, rig, body)
    assert status == 422 and answer["error"]
    assert answer.get("field") == field
    assert rig.storage.outbox.pending() == []


async def test_order_transport_errors(rig: PortalRig) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.post(rig.base + "/api/v1/orders", data="{not json", headers=JSON) as r:
            assert r.status == 400 and "JSON" in (await r.json())["error"]
        async with s.post(rig.base + "/api/v1/orders", data="kind=email") as r:
            assert r.status == 415
        async with s.post(rig.base + "/api/v1/orders", data="x" * 10_000, headers=JSON) as r:
            assert r.status == 413 and "too large" in (await r.json())["error"]
        status, answer = await post_order(s, rig, {"kind": "email", "item": "skyways", "email": "a@b.es"},
                                          Origin="http://evil.example")
        assert status == 403 and "cross-origin" in answer["error"]
        status, _ = await post_order(s, rig, {"kind": "email", "item": "skyways", "email": "a@b.es"},
                                     Origin=rig.base)
        assert status == 201
        async with s.delete(rig.base + "/api/v1/orders") as r:
            assert r.status == 405 and (await r.json())["error"] and r.headers["Allow"] == "POST"


async def test_orders_are_rate_limited_per_client(rig: PortalRig) -> None:
    async with aiohttp.ClientSession() as s:
        codes = []
        for _ in range(rig.services.config.orders_burst + 2):
            status, _ = await post_order(s, rig, {"kind": "email", "item": "skyways", "email": "a@b.es"})
            codes.append(status)
    assert codes[: rig.services.config.orders_burst] == [201] * rig.services.config.orders_burst
    assert codes[-1] == 429


class RefusingSink:
    async def append(self, kind: str, payload: object, request: object = None) -> object:
        raise StorageRefused("frozen for a power fail")

    def find_request(self, key: str) -> None:
        return None


async def test_storage_refusal_is_503_and_nothing_is_acknowledged(rig: PortalRig) -> None:
    rig.services.outbox = RefusingSink()
    async with aiohttp.ClientSession() as s:
        status, answer = await post_order(s, rig, {"kind": "email", "item": "skyways", "email": "a@b.es"})
        assert status == 503 and "id" not in answer
        status, answer = await post_order(s, rig, {"kind": "email", "item": "skyways", "email": "a@b.es"},
                                          **{"Idempotency-Key": "k-1"})
    assert status == 503 and "id" not in answer


async def test_ground_profile_no_video_offers_first_password_reset(tmp_path: Path) -> None:
    rig = await start_rig(tmp_path, profile="ground")
    try:
        async with aiohttp.ClientSession() as s:
            _, cat = await get_json(s, rig.base + "/api/v1/catalog")
            assert "video" not in {i["kind"] for i in cat["items"]}
            assert cat["items"][0]["kind"] == "offer" and cat["items"][0]["destination"] == "LEMD"
            async with s.get(rig.base + "/content/video/coast/low/seg000.ts") as r:
                assert r.status == 403
            status, body = await post_order(s, rig, {"kind": "password_reset", "email": "a@b.es"})
            assert status == 201 and body["delivery"] == "now"
        assert rig.storage.outbox.pending("password_reset")
    finally:
        await rig.stop()


async def test_password_reset_is_ground_only(rig: PortalRig) -> None:
    async with aiohttp.ClientSession() as s:
        status, _ = await post_order(s, rig, {"kind": "password_reset", "email": "a@b.es"})
    assert status == 403


async def test_security_headers_and_app_language(rig: PortalRig) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(rig.base + "/", headers={"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.8"}) as r:
            html = await r.text()
            assert '<html lang="fr"' in html
            assert "default-src 'self'" in r.headers["Content-Security-Policy"]
            assert r.headers["X-Content-Type-Options"] == "nosniff"
        async with s.get(rig.base + "/nope") as r:
            assert r.status == 404 and (await r.json())["error"]
            assert r.headers["X-Content-Type-Options"] == "nosniff"
        async with s.get(rig.base + "/api/v1/flight") as r:  # the one route without the guard guards itself
            assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Cache-Control"] == "no-store"


def test_category_names_from_the_bundle_then_the_app_then_the_word() -> None:
    from appliance.portal.catalog import category_name

    catalog = parse_catalog({"items": [], "categories": {"newspaper": {"en": "Daily paper", "ca": "Diari del dia"},
                                                         "spa": {"en": "Spa", "es": "Balneario"}, "bad": 3}})
    assert category_name(catalog, "newspaper", "ca") == "Diari del dia"  # the bundle's own name
    assert category_name(catalog, "newspaper", "de") == "Zeitung"  # the app's table in that language
    assert category_name(catalog, "spa", "fr") == "Spa"  # the bundle's English
    assert category_name(catalog, "magazine", "es") == "Revista"
    assert category_name(catalog, "zeppelin", "es") == "zeppelin"  # nobody knows it: the word
    assert "bad" not in catalog.categories


async def test_catalog_category_filter(rig: PortalRig) -> None:
    async with aiohttp.ClientSession() as s:
        _, everything = await get_json(s, rig.base + "/api/v1/catalog?lang=en")
        by_category: dict[str, set[str]] = {}
        for item in everything["items"]:
            by_category.setdefault(item["category"], set()).add(item["id"])
        assert len(by_category) >= 4 and everything["categories"] == sorted(by_category)
        for category, ids in by_category.items():
            status, only = await get_json(s, rig.base + f"/api/v1/catalog?lang=en&category={category}")
            assert status == 200
            assert {i["id"] for i in only["items"]} == ids, category
            assert {i["category"] for i in only["items"]} == {category}
            assert only["categories"] == everything["categories"]  # the choices stay, whatever the filter
        _, hotels = await get_json(s, rig.base + "/api/v1/catalog?kind=offer&category=hotel")
        assert hotels["items"] and {(i["kind"], i["category"]) for i in hotels["items"]} == {("offer", "hotel")}
        _, none = await get_json(s, rig.base + "/api/v1/catalog?kind=reading&category=hotel")
        assert none["items"] == []
        # a well-formed category nobody has: an empty list (the OpenAPI document's 200), not an error
        status, unknown = await get_json(s, rig.base + "/api/v1/catalog?category=zeppelin")
        assert status == 200 and unknown["items"] == [] and unknown["categories"] == everything["categories"]
        # not a category word at all: the documented 400
        for bad in ("Hotel", "../hotel", "x" * 33, "", "hotel%00"):
            status, err = await get_json(s, rig.base + f"/api/v1/catalog?category={bad}")
            assert status == 400 and "category" in err["error"], bad
