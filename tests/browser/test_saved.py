"""Take it with you (issue 15) in Chromium over HTTPS: readings and guides whose licence allows it are saved
to the passenger's device (service worker, Cache API), open with the cabin server gone, are listed with their
time in "Saved", and are gone when their licence's hours are up; an item whose licence does not allow it
offers no save; no API answer (orders, receipts, the stream) is ever kept."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import BrowserContext, Page, expect

from appliance.portal.i18n import strings
from tests.browser.conftest import HOST, HttpsRig, chromium, phone
from tests.portal.conftest import CHROMIUM

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium not installed")]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
NEWS, PHOTOS, GUIDE, MAGAZINE = "news-2026-11-23", "window-seat", "guide-madrid", "skyways"
CACHES = """async () => { const out = {};
  for (const name of await caches.keys()) {
    const c = await caches.open(name);
    out[name] = (await c.keys()).map(r => new URL(r.url).pathname); }
  return out; }"""


async def app(ctx: BrowserContext, rig: HttpsRig, wait_for_worker: bool = True) -> Page:
    """The app in a new page of `ctx`, controlled by its service worker."""
    page = await ctx.new_page()
    await page.goto(rig.origin + "/")
    assert await page.evaluate("() => window.isSecureContext")
    if wait_for_worker:
        await page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15000)
    return page


async def catalog(page: Page) -> dict[str, dict[str, Any]]:
    """The catalog as the browser gets it (the cabin name resolves only inside Chromium)."""
    document = await page.evaluate("() => fetch('/api/v1/catalog?lang=en').then(r => r.json())")
    return {i["id"]: i for i in document["items"]}


async def save(page: Page, tab: str, item_id: str) -> None:
    await page.locator(f"#tab-{tab}").click()
    button = page.locator(f"[data-save='{item_id}']")
    await button.click()
    await expect(button).to_be_disabled()
    await expect(button).to_have_text(strings()["en"]["saved_done"])


def until_of(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def test_a_saved_reading_opens_offline_and_nothing_personal_is_kept(secure: HttpsRig) -> None:
    """Save a photo magazine, the newspaper and a guide; place an order and look at My orders; go offline: the
    app opens from the device on "Saved", the magazine's pages turn from the cache, the guide opens in a tab of
    its own; the magazine whose licence does not allow it had no Save and is not there. No cache holds an API
    answer, the stream, or anything the passenger did not save."""
    async with chromium(secure) as browser:
        ctx = await phone(browser, locale="en-GB")
        page = await app(ctx, secure)
        items = await catalog(page)
        assert {i for i, item in items.items() if item["savable"]} == {NEWS, PHOTOS, GUIDE}
        await page.locator("#tab-read").click()
        magazine = page.locator("#list-reading .card", has_text="Skyways")
        await expect(magazine.get_by_role("link", name="Open")).to_be_visible()
        assert await magazine.locator("[data-save], .keep").count() == 0  # its licence does not allow it
        await expect(page.locator("#list-reading .card", has_text="Window seat").locator(".keep")).to_have_text(
            "You may keep it on your device for 72 hours.")
        assert await page.locator("#list-video [data-save], #list-offer [data-save]").count() == 0
        saved_at = time.time()
        for tab, item_id in (("read", PHOTOS), ("read", NEWS), ("guides", GUIDE)):
            await save(page, tab, item_id)
        await page.locator("#tab-read").click()
        await page.screenshot(path=str(SCREENSHOTS / "payments-6-save-en.png"), full_page=True)

        # personal data through the API meanwhile: an order, then My orders
        await page.locator("#tab-offers").click()
        await page.locator("#list-offer [data-order=offer]").first.click()
        await page.locator("#order-email").fill("ana@example.com")
        await page.locator("#order-send").click()
        await expect(page.locator("#order-status")).to_have_class("status ok")
        await page.locator("#order-cancel").click()
        await page.locator("#orders-open").click()
        await expect(page.locator("#list-orders .card")).to_have_count(1)
        await page.locator("#orders-close").click()

        await page.locator("#tab-read").click()
        await page.locator("#panel-read .saved-open").click()
        listed = page.locator("#list-saved .card")
        await expect(listed).to_have_count(3)
        assert [await c.get_attribute("data-saved") for c in await listed.all()] == [NEWS, PHOTOS, GUIDE]
        for card in await listed.all():
            item = items[str(await card.get_attribute("data-saved"))]
            until = until_of(str(await card.locator(".until").get_attribute("data-until")))
            assert abs(until - (saved_at + item["offline_hours"] * 3600)) < 120, item["id"]
            await expect(card.locator(".until")).to_contain_text("Kept on this device until ")
        await expect(page.locator("#panel-read .saved-count")).to_have_text("(3)")
        await page.screenshot(path=str(SCREENSHOTS / "payments-6-saved-list-en.png"))

        kept = await page.evaluate(CACHES)
        every = [path for paths in kept.values() for path in paths]
        assert not [p for p in every if p.startswith(("/api/", "/captive-portal", "/welcome"))], kept

        def files(item: dict[str, Any]) -> set[str]:
            f = item["files"]
            return {*f.get("pages", []), *[f[k] for k in ("pdf", "html") if k in f], item["thumbnail"]}

        assert set(kept["cabin-saved-v1"]) == (files(items[NEWS]) | files(items[PHOTOS]) | files(items[GUIDE])
                                               | {f"/__saved__/{i}" for i in (NEWS, PHOTOS, GUIDE)})
        assert "/" in kept["cabin-shell-v1"] and "/static/saved.js" in kept["cabin-shell-v1"]

        await ctx.set_offline(True)
        await page.reload()
        await expect(page.locator("#saved-offline")).to_be_visible(timeout=10000)  # opens on what was saved
        await expect(page.locator("#saved")).to_be_visible()
        # a reading that was not saved is not there: the offline is real
        assert await page.evaluate(
            "() => fetch('/content/readings/skyways.pdf').then(r => r.status, e => 'failed')") == "failed"
        await page.screenshot(path=str(SCREENSHOTS / "payments-7-saved-offline-en.png"))
        await page.locator("[data-saved='window-seat']").get_by_role("button", name="Open").click()
        await expect(page.locator("#reader-count")).to_have_text("Page 1 of 4")
        await expect(page.locator("#reader-img")).not_to_have_class("loading")
        assert await page.evaluate("() => document.getElementById('reader-img').naturalWidth") == 300
        await page.locator("#reader-next").click()
        await expect(page.locator("#reader-count")).to_have_text("Page 2 of 4")
        await expect(page.locator("#reader-img")).not_to_have_class("loading")
        assert await page.evaluate("() => document.getElementById('reader-img').naturalWidth") == 300
        await page.screenshot(path=str(SCREENSHOTS / "payments-8-saved-reading-offline-en.png"))
        await page.keyboard.press("Escape")

        async with ctx.expect_page() as opened:
            await page.locator("[data-saved='guide-madrid']").get_by_role("link", name="Open").click()
        guide = await opened.value
        await expect(guide.locator("h1")).to_have_text("Madrid in a day")
        await ctx.close()


async def test_saved_shows_what_is_kept_and_until_when_in_every_language(secure: HttpsRig) -> None:
    """The Saved view, its button, a card's Save and licence line and the "until" line in the five languages,
    the time in the passenger's locale."""
    async with chromium(secure) as browser:
        ctx = await phone(browser, locale="en-GB")
        page = await app(ctx, secure)
        await save(page, "read", PHOTOS)
        for lang, table in strings().items():
            await page.select_option("#lang-select", lang)
            await page.locator("#tab-read").click()
            card = page.locator("#list-reading .card", has=page.locator(f"[data-save='{NEWS}']"))
            await expect(card.locator(f"[data-save='{NEWS}']")).to_have_text(table["save_offline"])
            await expect(page.locator(f"[data-save='{PHOTOS}']")).to_have_text(table["saved_done"])
            opener = page.locator("#panel-read .saved-open")
            await expect(opener).to_contain_text(table["saved_title"])
            await opener.click()
            dialog = page.get_by_role("dialog", name=table["saved_title"])
            await expect(dialog).to_be_visible()
            until = dialog.locator(f"[data-saved='{PHOTOS}'] .until")
            iso = str(await until.get_attribute("data-until"))
            shown = await page.evaluate(
                "([lang, iso]) => new Intl.DateTimeFormat(lang, {dateStyle: 'medium', timeStyle: 'short'})"
                ".format(new Date(iso))", [lang, iso])
            await expect(until).to_have_text(table["saved_until"].replace("{time}", shown))
            await expect(dialog.get_by_role("button", name=table["saved_remove"])).to_be_visible()
            await page.screenshot(path=str(SCREENSHOTS / f"payments-6-saved-{lang}.png"))
            await page.keyboard.press("Escape")
            await expect(dialog).to_be_hidden()
        # after landing the app comes from the device, in the passenger's last choice (German), not in the
        # language the kept page was made in
        await ctx.set_offline(True)
        await page.reload()
        german = strings()["de"]
        await expect(page.get_by_role("dialog", name=german["saved_title"])).to_be_visible(timeout=10000)
        await expect(page.locator("#saved-offline")).to_have_text(german["saved_offline"])
        await ctx.close()


async def test_each_reading_is_gone_when_its_hours_are_up(secure: HttpsRig) -> None:
    """The page's clock moved on (Playwright's clock): after 25 hours the newspaper (24 h) is gone from Saved and
    from the device while the photo magazine (72 h) still opens offline; after 73 hours nothing is left."""
    async with chromium(secure) as browser:
        ctx = await phone(browser, locale="en-GB")
        await ctx.clock.install()
        page = await app(ctx, secure)
        items = await catalog(page)
        for item_id in (NEWS, PHOTOS):
            await save(page, "read", item_id)
        await page.locator("#panel-read .saved-open").click()
        await expect(page.locator("#list-saved .card")).to_have_count(2)

        await page.clock.fast_forward("25:00:00")
        await expect(page.locator("#list-saved .card")).to_have_count(1)
        await expect(page.locator("#list-saved .card")).to_have_attribute("data-saved", PHOTOS)
        kept = (await page.evaluate(CACHES))["cabin-saved-v1"]
        news_files = {*items[NEWS]["files"]["pages"], items[NEWS]["files"]["pdf"], items[NEWS]["thumbnail"]}
        assert not news_files & set(kept) and f"/__saved__/{NEWS}" not in kept, kept
        assert f"/__saved__/{PHOTOS}" in kept
        await page.screenshot(path=str(SCREENSHOTS / "payments-9-saved-expired-en.png"))
        await ctx.set_offline(True)
        assert await page.evaluate(
            f"() => fetch('{items[NEWS]['files']['pdf']}').then(r => r.status, e => 'failed')") == "failed"
        await page.locator(f"[data-saved='{PHOTOS}']").get_by_role("button", name="Open").click()
        await expect(page.locator("#reader-img")).not_to_have_class("loading")
        assert await page.evaluate("() => document.getElementById('reader-img').naturalWidth") == 300
        await page.keyboard.press("Escape")

        await page.clock.fast_forward("48:00:00")
        await expect(page.locator("#list-saved .card")).to_have_count(0)
        await expect(page.locator("#list-saved .empty")).to_have_text(strings()["en"]["saved_empty"])
        assert (await page.evaluate(CACHES))["cabin-saved-v1"] == []
        await ctx.close()


def short_licence_bundle(rig: HttpsRig, hours: float) -> None:
    """The sample bundle again, with one more reading whose licence allows `hours` (a test bundle)."""
    from datetime import date

    from appliance.content.pack import pack
    from firmware_sim.content_samples import generate

    tmp = rig.rig.tmp
    source = generate(tmp / "src-short", date(2026, 11, 23))
    (source / "guides/flash.html").write_text("<!doctype html><title>Flash</title><h1>Flash guide</h1>")
    document = json.loads((source / "catalog.json").read_text())
    document["items"].append({"id": "flash", "kind": "guide", "category": "city", "languages": ["en"],
                              "title": {"en": "Flash guide"}, "files": {"html": "guides/flash.html"},
                              "offline_hours": hours})
    (source / "catalog.json").write_text(json.dumps(document))
    store = rig.rig.content
    files = store.staging / "in-short"
    store.install(files, pack(source, files, bundle_id="samples-short"))


async def test_the_worker_itself_never_serves_a_copy_past_its_time(secure: HttpsRig) -> None:
    """With no page of the app open to sweep, the service worker judges the time itself: a guide whose test
    licence is 0.003 h (10.8 s) opens offline straight from its address while its time runs, and after it no
    longer does (and its copy is gone)."""
    short_licence_bundle(secure, 0.003)
    async with chromium(secure) as browser:
        ctx = await phone(browser, locale="en-GB")
        page = await app(ctx, secure)
        await save(page, "guides", "flash")
        saved_at = time.monotonic()
        url = secure.origin + "/content/guides/flash.html"
        await page.close()
        await ctx.set_offline(True)
        reader = await ctx.new_page()
        got = await reader.goto(secure.origin + "/")  # the app from the device (its page sweeps; close it)
        assert got is not None and got.ok
        assert await reader.evaluate(
            f"() => fetch('{url}').then(r => r.status, e => 'failed')") == 200
        await reader.close()
        assert time.monotonic() - saved_at < 10.8, "the machine was too slow to look before the time was up"
        direct = await ctx.new_page()
        opened = await direct.goto(url)
        assert opened is not None and opened.status == 200 and opened.from_service_worker
        await expect(direct.locator("h1")).to_have_text("Flash guide")
        await direct.close()
        remaining = 10.8 - (time.monotonic() - saved_at)
        if remaining > 0:
            await asyncio.sleep(remaining + 0.5)
        late = await ctx.new_page()
        with pytest.raises(Exception, match=r"ERR_INTERNET_DISCONNECTED|ERR_FAILED"):
            await late.goto(url)
        shell = await ctx.new_page()
        await shell.goto(secure.origin + "/")
        kept = (await shell.evaluate(CACHES))["cabin-saved-v1"]
        assert "/content/guides/flash.html" not in kept and "/__saved__/flash" not in kept, kept
        await ctx.close()


async def test_the_service_worker_is_served_for_the_portal_only_with_its_scope(secure: HttpsRig) -> None:
    """/sw.js: a script, no-cache, allowed scope /, registered with scope /; for a rebound name a 403 with a
    JSON reason; over plain HTTP a redirect to HTTPS like the rest of the app."""
    import aiohttp

    from tests.portal.test_tls import resolver

    async with aiohttp.ClientSession(connector=resolver(secure.port)) as session:
        async with session.get(secure.origin + "/sw.js", ssl=False) as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/javascript")
            assert r.headers["Cache-Control"] == "no-cache" and r.headers["Service-Worker-Allowed"] == "/"
            assert "importScripts(\"/static/keep.js\")" in await r.text()
        async with session.get(secure.origin + "/sw.js", ssl=False, headers={"Host": "evil.example"}) as r:
            assert (r.status, (await r.json())["error"]) == (403, "this server does not answer for that host name")
        async with session.get(secure.rig.base + "/sw.js", allow_redirects=False) as r:
            assert r.status == 301 and r.headers["Location"] == secure.origin + "/sw.js"
    async with chromium(secure) as browser:
        ctx = await phone(browser)
        page = await app(ctx, secure)
        assert await page.evaluate("() => navigator.serviceWorker.getRegistration().then(r => r.scope)") == \
            secure.origin + "/"
        assert urlsplit(await page.evaluate("() => navigator.serviceWorker.controller.scriptURL")).path == "/sw.js"
        await ctx.close()


async def test_plain_http_offers_no_save(tmp_path: Path) -> None:
    """Plain HTTP (no certificate yet, or a captive mini-browser): under the cabin name (no secure context) and
    on http://127.0.0.1 (a secure context, still plain HTTP) no service worker, no Save button and no Saved view,
    and the catalog still works."""
    from tests.portal.conftest import running_rig

    async with running_rig(tmp_path) as rig:
        port = rig.portal.address[1] if rig.portal.address else 0
        fake = HttpsRig(rig, f"http://{HOST}:{port}", "")
        async with chromium(fake) as browser:
            for origin, secure_context in ((fake.origin, False), (rig.base, True)):
                ctx = await phone(browser)
                page = await ctx.new_page()
                await page.goto(origin + "/")
                assert await page.evaluate("() => window.isSecureContext") is secure_context
                await page.locator("#tab-read").click()
                await expect(page.locator("#list-reading .card", has_text="Window seat")).to_be_visible()
                assert await page.locator("[data-save], .keep").count() == 0, origin
                await expect(page.locator("#panel-read .saved-bar")).to_be_hidden()
                assert await page.evaluate("() => navigator.serviceWorker === undefined || "
                                           "navigator.serviceWorker.getRegistrations().then(r => r.length)") in (
                                               True, 0)
                await ctx.close()
