"""Card payment in Chromium, from the offer to the answer after landing: a purchase with a test card in every
language, the card encrypted in the page to exactly what was typed (the simulated processor decrypts it), a
card over a limit refused with the reason in the passenger's language, a decline that comes back after the
ground window and shows in My orders (after a reload, from the receipt kept in the page). Screenshots of each
step go to tests/artifacts/payments-*.png (copies of one run are kept in docs/screenshots/)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from appliance.groundlink.delivery import Delivery
from appliance.metrics import Metrics
from appliance.payments.config import PaymentsConfig
from firmware_sim.ground.processor import decrypt
from tests.groundlink_support import config, ground_client, running_station
from tests.portal.conftest import CHROMIUM, PortalRig, running_rig

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium not installed")]

SHOTS = Path(__file__).resolve().parents[2] / "tests" / "artifacts"  # as the artifacts_dir fixture
NO_RANDOM_UUID = "delete Crypto.prototype.randomUUID;"  # a cabin address is not a secure context

# language -> (the Pay button, the stored message, the over-limit message's start, "Declined")
LANGS = {
    "en": ("Pay", "Payment stored on board.", "This card has reached the on-board limit", "Declined"),
    "es": ("Pagar", "Pago guardado a bordo.", "Esta tarjeta ha alcanzado el límite a bordo", "Rechazado"),
    "ca": ("Pagar", "Pagament desat a bord.", "Aquesta targeta ha arribat al límit a bord", "Rebutjat"),
    "fr": ("Payer", "Paiement enregistré à bord.", "Cette carte a atteint la limite à bord", "Refusé"),
    "de": ("Bezahlen", "Zahlung an Bord gespeichert.", "Diese Karte hat das Limit an Bord", "Abgelehnt"),
}
TYPED = {"number": "4111 1111 1111 1111", "expiry": "11/29", "cvc": "737", "holder": "Ana García"}


async def app(browser: Browser, rig: PortalRig, lang: str) -> Page:
    ctx = await browser.new_context(viewport={"width": 412, "height": 915}, locale=lang)
    await ctx.add_init_script(NO_RANDOM_UUID)
    page = await ctx.new_page()
    await page.goto(rig.base + "/")
    await page.locator("#lang-select").select_option(lang)
    return page


async def checkout(page: Page, lang: str, card: dict[str, str], shot: str | None = None,
                   brand: str | None = "visa") -> None:
    await page.locator("#tab-offers").click()
    hotel = page.locator("#list-offer .card").first
    await hotel.locator("[data-pay]").click()
    await page.locator("#pay-quantity").select_option("2")
    await page.locator("#pay-email").fill("ana@example.com")
    await page.locator("#pay-number").fill(card["number"])
    await page.locator("#pay-expiry").fill(card["expiry"])
    await page.locator("#pay-cvc").fill(card["cvc"])
    await page.locator("#pay-name").fill(card["holder"])
    if brand is not None:
        await expect(page.locator("#pay-brand")).to_have_attribute("data-brand", brand)
    if shot:
        await page.screenshot(path=str(SHOTS / shot))
    await expect(page.locator("#pay-send")).to_have_text(LANGS[lang][0])
    await page.locator("#pay-send").click()


@pytest.mark.parametrize("lang", list(LANGS))
async def test_a_purchase_with_a_test_card_in_every_language(browser: Browser, rig: PortalRig, lang: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = await app(browser, rig, lang)
    await checkout(page, lang, TYPED, f"payments-1-checkout-{lang}.png" if lang in ("en", "de") else None)
    status = page.locator("#pay-status")
    await expect(status).to_contain_text(LANGS[lang][1], timeout=10000)
    await expect(status).to_contain_text("1111")
    if lang in ("en", "de"):
        await page.screenshot(path=str(SHOTS / f"payments-2-stored-{lang}.png"))
    (item,) = rig.storage.outbox.pending("payment")
    assert item.payload["amount_minor"] == 17800 and item.payload["last4"] == "1111"
    for field in ("number", "expiry", "cvc"):  # cleared from the page once encrypted
        assert await page.locator(f"#pay-{field}").input_value() == ""
    # what the daemon stored decrypts at the processor to exactly what was typed
    card = decrypt(item.payload["jwe"])
    assert card["number"] == TYPED["number"].replace(" ", "") and card["expiry"] == TYPED["expiry"]
    assert card["cvc"] == TYPED["cvc"] and card["holder"] == TYPED["holder"]
    assert "4111111111111111" not in str({k: v for k, v in item.payload.items() if k != "jwe"})


async def test_a_card_over_a_limit_is_refused_with_the_reason(browser: Browser, tmp_path: Path) -> None:
    async with running_rig(tmp_path, payments=PaymentsConfig(max_per_card_per_flight_minor=10000)) as rig:
        for lang in ("en", "fr"):
            page = await app(browser, rig, lang)
            await checkout(page, lang, TYPED)  # two nights: 178 EUR, over 100 EUR for this card
            status = page.locator("#pay-status")
            await expect(status).to_contain_text(LANGS[lang][2], timeout=10000)
            await expect(status).to_have_attribute("data-reason", "over_card_limit")
            if lang == "en":
                await page.screenshot(path=str(SHOTS / "payments-3-over-limit-en.png"))
        assert rig.storage.outbox.pending() == []


async def test_a_decline_comes_back_after_the_ground_window_and_shows_in_my_orders(browser: Browser,
                                                                                   rig: PortalRig) -> None:
    page = await app(browser, rig, "es")
    await checkout(page, "es", TYPED | {"number": "4000 0000 0000 0002"})
    await expect(page.locator("#pay-status")).to_contain_text(LANGS["es"][1], timeout=10000)
    await page.locator("#pay-cancel").click()
    await checkout(page, "es", TYPED)
    await expect(page.locator("#pay-status")).to_contain_text("1111", timeout=10000)
    await page.locator("#pay-cancel").click()
    url = page.url
    assert "#r=" in url  # the receipts are in the page's address too (the mini-browser may keep no storage)
    await page.reload()
    await page.locator("#tab-offers").click()
    await page.locator("#orders-open").click()
    orders = page.locator("#list-orders .card")
    await expect(orders).to_have_count(2, timeout=10000)
    await expect(page.locator("#list-orders .card[data-state=stored]")).to_have_count(2)
    await page.screenshot(path=str(SHOTS / "payments-4-my-orders-stored-es.png"))
    # landing: the ground window opens and the outbox is drained to the processor
    async with running_station() as station, ground_client(station.url) as client:
        report = await Delivery(rig.storage.outbox, client, config(station.url), Metrics()).drain()
    assert report.delivered == 1 and report.dead == 1
    await page.evaluate("Cabin.loadOrders()")  # what the 10 s poll does
    declined = page.locator("#list-orders .card[data-state=declined]")
    await expect(declined).to_contain_text(LANGS["es"][3], timeout=10000)
    await expect(declined).to_contain_text("La tarjeta fue rechazada.")
    await expect(declined).to_contain_text("0002")
    await expect(page.locator("#list-orders .card[data-state=confirmed]")).to_contain_text("Confirmado")
    await page.screenshot(path=str(SHOTS / "payments-5-my-orders-after-landing-es.png"))
    # another device (a fresh context, no receipts) sees nothing
    other = await app(browser, rig, "en")
    await other.locator("#tab-offers").click()
    await other.locator("#orders-open").click()
    await expect(other.locator("#list-orders .empty")).to_have_text("You have no orders on this device yet.")
    await other.goto(url.split("#")[0] + "#r=" + "0" * 32)
    await other.reload()  # a page opened with someone's made-up receipt: nothing either
    await other.locator("#tab-offers").click()
    await other.locator("#orders-open").click()
    await expect(other.locator("#list-orders .empty")).to_be_visible()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("number", "4111 1111 1111 1112", "That card number is not valid."),  # Luhn
    ("number", "9111 1111 1111 1116", "That card number is not valid."),  # Luhn-valid, no known brand
    ("expiry", "10/26", "This card has expired or the date is not valid."),  # before the flight's date
    ("expiry", "13/29", "This card has expired or the date is not valid."),
    ("cvc", "12", "The security code is not valid."),
])
async def test_the_card_is_checked_offline_and_nothing_is_sent(browser: Browser, rig: PortalRig, field: str,
                                                               value: str, message: str) -> None:
    page = await app(browser, rig, "en")
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url) if "/api/v1/payments" in request.url
            and request.method == "POST" else None)
    # the flight's date (the avionics' UTC in the flight document), not the device's clock, decides expiry
    await page.evaluate("Cabin.state.flight = {time: {utc: '2026-11-23T10:00:00+00:00'}}")
    await checkout(page, "en", TYPED | {field: value}, brand=None if field == "number" else "visa")
    await expect(page.locator("#pay-status")).to_have_text(message)
    assert sent == [] and rig.storage.outbox.pending() == []
