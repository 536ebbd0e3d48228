"""Orders and cards in Chromium: a double tap or a lost answer books once (Idempotency-Key per order, reused on
retry), the buttons each item takes, the privacy line and the order's reference, localised prices, durations,
the reader for a newspaper with page images, the favicon."""

from __future__ import annotations

import re
import shutil

import pytest
from playwright.async_api import Browser, Page, Route, expect

from tests.portal.conftest import CHROMIUM, PortalRig

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium not installed")]

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# the portal is plain HTTP: on a cabin address (not localhost) crypto.randomUUID does not exist
NO_RANDOM_UUID = "delete Crypto.prototype.randomUUID;"


async def app(browser: Browser, rig: PortalRig, locale: str = "en-GB", script: str | None = None) -> Page:
    ctx = await browser.new_context(viewport={"width": 412, "height": 915}, locale=locale)
    if script:
        await ctx.add_init_script(script)
    page = await ctx.new_page()
    await page.goto(rig.base + "/")
    return page


@pytest.mark.parametrize("random_uuid", [True, False], ids=["randomUUID", "getRandomValues"])
async def test_a_double_tap_and_a_lost_answer_book_once(browser: Browser, rig: PortalRig, random_uuid: bool) -> None:
    page = await app(browser, rig, script=None if random_uuid else NO_RANDOM_UUID)
    keys: list[str] = []
    lose_answer = True

    async def orders(route: Route) -> None:
        nonlocal lose_answer
        keys.append(route.request.headers.get("idempotency-key", ""))
        response = await route.fetch()  # the server stores the order ...
        if lose_answer:
            lose_answer = False
            await route.abort("connectionreset")  # ... and its 201 is lost on the way
        else:
            await route.fulfill(response=response)

    await page.route("**/api/v1/orders", orders)
    await page.locator("#tab-offers").click()
    offer = page.locator("#list-offer .card").first
    await expect(offer.locator("h3")).to_have_text("Hotel in Madrid: 20% off", timeout=5000)
    await offer.get_by_role("button", name="Book").click()
    await expect(page.locator("#order-privacy")).to_have_text(
        "Your e-mail address is used only to send you this, and for nothing else.")
    await page.get_by_label("Your e-mail address").fill("passenger@example.com")
    send = page.locator("#order-send")
    await send.dblclick()
    await expect(page.locator("#order-status")).to_have_text("Something went wrong. Please try again.",
                                                             timeout=5000)
    await expect(send).to_be_enabled()
    await send.click()  # the passenger tries again: the same order, the same key
    status = page.locator("#order-status")
    await expect(status.locator("span").first).to_have_text("Thank you. It will be sent after landing.",
                                                            timeout=5000)
    await expect(send).to_be_disabled()  # placed: a further tap does nothing
    await send.click(force=True)
    (item,) = rig.storage.outbox.pending()
    assert item.kind == "booking"
    assert await status.get_attribute("data-order-id") == item.id
    await expect(status.locator(".reference")).to_have_text(f"Reference: {item.id[:8].upper()}")
    assert len(keys) == 2 and keys[0] == keys[1] and UUID4.match(keys[0]), keys

    # a new order of the same thing is a new tap: a new key, a second order
    await page.locator("#order-cancel").click()
    await offer.get_by_role("button", name="Book").click()
    await page.get_by_label("Your e-mail address").fill("passenger@example.com")
    await page.locator("#order-send").click()
    await expect(status.locator("span").first).to_have_text("Thank you. It will be sent after landing.",
                                                            timeout=5000)
    assert len(keys) == 3 and keys[2] != keys[0]
    assert len(rig.storage.outbox.pending()) == 2


async def test_cards_offer_what_each_item_takes(browser: Browser, rig: PortalRig) -> None:
    page = await app(browser, rig)
    await page.locator("#tab-watch").click()
    film = page.locator("#list-video .card").first
    await expect(film.get_by_role("button", name="Play")).to_be_visible(timeout=5000)
    assert await film.locator("[data-order]").count() == 0  # a film is not e-mailed
    await page.locator("#tab-guides").click()
    guide = page.locator("#list-guide .card").first
    assert [await b.get_attribute("data-order") for b in await guide.locator("[data-order]").all()] == ["email"]
    await page.locator("#tab-offers").click()
    lounge = page.locator("#list-offer .card", has_text="Lounge pass")
    assert [await b.get_attribute("data-order") for b in await lounge.locator("[data-order]").all()] == [
        "offer", "booking"]


@pytest.mark.parametrize(("locale", "hotel", "film"), [
    ("en-GB", "€89.00", "12 sec"), ("de-DE", "89,00 €", "12 Sek."), ("fr-FR", "89,00 €", "12 s"),
    ("es-ES", "89,00 €", "12 s"), ("ca-ES", "89,00 €", "12 s")])
async def test_prices_and_durations_in_the_passengers_locale(browser: Browser, rig: PortalRig, locale: str,
                                                            hotel: str, film: str) -> None:
    page = await app(browser, rig, locale=locale)
    await page.locator("#tab-offers").click()
    meta = page.locator("#list-offer .card .meta").first
    await expect(meta).to_have_attribute("data-price", hotel.replace(" ", "\u00a0"), timeout=5000)
    await page.locator("#tab-watch").click()
    text = await page.locator("#list-video .card .meta").first.text_content()
    assert text is not None and re.sub("[\u00a0\u202f]", " ", text).endswith(film), text


async def test_a_newspaper_with_page_images_opens_in_the_reader(browser: Browser, rig: PortalRig) -> None:
    page = await app(browser, rig)
    await page.locator("#tab-read").click()
    paper = page.locator("#list-reading .card", has_text="The Daily Flyer")
    await paper.get_by_role("button", name="Open").click()  # a button for the reader, not a link to the PDF
    await expect(page.locator("#reader")).to_be_visible(timeout=5000)
    assert len(page.context.pages) == 1  # no new tab
    magazine = page.locator("#list-reading .card", has_text="Skyways")  # a PDF only: the PDF
    await page.locator("#reader-close").click()
    assert await magazine.locator("a.button").get_attribute("href") == "/content/readings/skyways.pdf"


async def test_the_favicon(browser: Browser, rig: PortalRig) -> None:
    page = await app(browser, rig)
    href = await page.locator("link[rel=icon]").get_attribute("href")
    assert href == "/static/favicon.svg"
    response = await page.request.get(rig.base + href)
    assert response.status == 200 and response.headers["content-type"] == "image/svg+xml"
    assert (await response.body()).startswith(b"<svg")
    welcome = await page.request.get(rig.base + "/welcome")
    assert 'rel="icon" href="/static/favicon.svg"' in await welcome.text()
