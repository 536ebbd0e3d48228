"""The web app in Chromium (Debian's /usr/bin/chromium driven by Playwright): offline, map, live values,
stale values, orders, languages, units, polling fallback, over-temperature message. Screenshots go to
tests/artifacts/."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, expect

from tests.portal.conftest import CHROMIUM, PortalRig, http

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium not installed")]


async def open_app(browser: Browser, rig: PortalRig, hosts: list[str], **context: object) -> Page:
    ctx = await browser.new_context(viewport={"width": 412, "height": 915}, device_scale_factor=2,
                                    **context)  # type: ignore[arg-type]
    page = await ctx.new_page()
    page.on("request", lambda request: hosts.append(urlsplit(request.url).netloc))
    await page.goto(rig.base + "/")
    return page


async def test_offline_map_live_values_and_stale(browser: Browser, rig: PortalRig, artifacts_dir: Path) -> None:
    hosts: list[str] = []
    page = await open_app(browser, rig, hosts, locale="en-GB")
    altitude = page.locator("#v-altitude dd")
    await expect(altitude).to_have_text("10,668 m", timeout=5000)  # 35,000 ft, metric by default
    await expect(page.locator("#f-dest-code")).to_have_text("MAD")
    await expect(page.locator("#f-origin-city")).to_have_text("Barcelona")
    # the map: land outlines, the great-circle route, the aircraft at its position
    await expect(page.locator("#land path")).to_have_count(1, timeout=5000)
    assert len(await page.locator("#land path").get_attribute("d") or "") > 1000
    assert (await page.locator("#route").get_attribute("d") or "").count("L") > 50
    await expect(page.locator("#plane")).to_have_attribute("visibility", "visible")
    transform = await page.locator("#plane").get_attribute("transform") or ""
    assert "rotate(250)" in transform
    await page.screenshot(path=str(artifacts_dir / "portal-flight.png"), full_page=True)

    # live: the flight moves on, the page follows (SSE at 1 Hz)
    rig.flight.set("altitude", 36000.0)
    rig.flight.set("longitude", -1.5)
    await expect(altitude).to_have_text("10,973 m", timeout=5000)
    assert transform != await page.locator("#plane").get_attribute("transform")
    assert "L" in (await page.locator("#flown").get_attribute("d") or "")  # the flown part of the track

    # stale: shown as unavailable, never as the last value
    rig.flight.set("altitude", 36000.0, "stale", age=12.0)
    await expect(altitude).to_have_text("unavailable", timeout=5000)
    await expect(altitude).to_have_attribute("data-status", "stale")
    await page.screenshot(path=str(artifacts_dir / "portal-stale.png"))

    # units
    rig.flight.set("altitude", 36000.0)
    await page.select_option("#units-select", "imperial")
    await expect(altitude).to_have_text("36,000 ft", timeout=5000)
    await expect(page.locator("#v-outside_temperature dd")).to_have_text("-65 °F")
    assert set(hosts) == {urlsplit(rig.base).netloc}, hosts


UNIT_SELECTS = ("#unit-altitude", "#unit-ground_speed", "#unit-outside_temperature", "#unit-distance_to_go")


def whole(x: float) -> str:
    """As the app shows a number in en-GB: rounded half up (JavaScript's Math.round), grouped by thousands."""
    return f"{math.floor(x + 0.5):,}"


async def test_units_per_value_persist_and_presets_switch_all(
    browser: Browser, rig: PortalRig, artifacts_dir: Path
) -> None:
    """Altitude in feet while the temperature stays in degrees Celsius (and speed in mph, distance in nautical
    miles), chosen from the keyboard; the choice survives a reload; the presets still switch everything."""
    flight = json.loads(await asyncio.to_thread(http, rig.base + "/api/v1/flight"))
    km = flight["progress"]["distance_to_go"]["value"]
    assert km > 100  # the rig: halfway-ish from Barcelona to Madrid, FL350, 450 kt, -54 degC
    hosts: list[str] = []
    page = await open_app(browser, rig, hosts, locale="en-GB")
    altitude, speed, temperature, distance = (page.locator(f"#v-{n} dd") for n in
                                              ("altitude", "ground_speed", "outside_temperature", "distance_to_go"))

    async def shown(*texts: str) -> None:
        for cell, text in zip((altitude, speed, temperature, distance), texts, strict=True):
            await expect(cell).to_have_text(text, timeout=5000)

    await shown("10,668 m", "833 km/h", "-54 °C", f"{whole(km)} km")  # metric by default, as before
    await expect(page.locator("#units-select")).to_have_value("metric")

    await page.get_by_text("Units for each value").focus()  # the disclosure, from the keyboard
    await page.keyboard.press("Enter")
    await expect(page.locator("#units-more")).to_have_attribute("open", "")
    await page.get_by_label("Altitude unit").focus()
    await page.keyboard.press("ArrowUp")  # Metres -> Feet
    await shown("35,000 ft", "833 km/h", "-54 °C", f"{whole(km)} km")
    await expect(page.locator("#units-select")).to_have_value("custom")
    await page.get_by_label("Speed unit").select_option("mph")
    await page.get_by_label("Distance unit").select_option("nm")
    custom = ("35,000 ft", f"{whole(450 * 1.150779)} mph", "-54 °C", f"{whole(km / 1.852)} NM")
    await shown(*custom)
    await page.screenshot(path=str(artifacts_dir / "portal-units-custom.png"), full_page=True)

    await page.reload()  # the choice persists
    await shown(*custom)
    await expect(page.locator("#units-select")).to_have_value("custom")
    for select, value in zip(UNIT_SELECTS, ("ft", "mph", "C", "nm"), strict=True):
        await expect(page.locator(select)).to_have_value(value)
    await expect(page.locator("#units-more")).not_to_have_attribute("open", "")
    await page.select_option("#units-select", "custom")  # "Custom" in the header opens the choice per value
    await expect(page.get_by_label("Temperature unit")).to_be_visible()

    await page.select_option("#units-select", "imperial")  # a preset switches all at once
    await shown("35,000 ft", "450 kt", "-65 °F", f"{whole(km * 0.621371)} mi")
    for select, value in zip(UNIT_SELECTS, ("ft", "kt", "F", "mi"), strict=True):
        await expect(page.locator(select)).to_have_value(value)
    await page.select_option("#units-select", "metric")
    await shown("10,668 m", "833 km/h", "-54 °C", f"{whole(km)} km")
    await page.reload()
    await shown("10,668 m", "833 km/h", "-54 °C", f"{whole(km)} km")
    await expect(page.locator("#units-select")).to_have_value("metric")

    await page.select_option("#lang-select", "de")  # every control in the passenger's language
    await page.locator("#units-more summary").click()
    await expect(page.get_by_label("Höheneinheit")).to_have_value("m")
    await expect(page.locator("#units-select option[value=custom]")).to_have_text("Individuell")
    await expect(page.locator("#unit-distance_to_go option[value=nm]")).to_have_text("Seemeilen (NM)")
    await page.screenshot(path=str(artifacts_dir / "portal-units-de.png"), full_page=True)
    assert set(hosts) == {urlsplit(rig.base).netloc}, hosts


async def test_units_saved_before_per_value_units_are_kept(browser: Browser, rig: PortalRig) -> None:
    """The one "units" value an older app saved (metric or imperial) becomes the four per-value choices; a saved
    value the app does not know is skipped (that value in its default unit)."""
    hosts: list[str] = []
    page = await open_app(browser, rig, hosts, locale="en-GB")
    await expect(page.locator("#v-altitude dd")).to_have_text("10,668 m", timeout=5000)
    await page.evaluate("() => { localStorage.clear(); localStorage.setItem('units', 'imperial'); }")
    await page.reload()
    await expect(page.locator("#v-altitude dd")).to_have_text("35,000 ft", timeout=5000)
    await expect(page.locator("#v-outside_temperature dd")).to_have_text("-65 °F")
    await expect(page.locator("#units-select")).to_have_value("imperial")
    saved = await page.evaluate("() => ['units', 'unit_altitude', 'unit_ground_speed', 'unit_outside_temperature',"
                                " 'unit_distance_to_go'].map((k) => localStorage.getItem(k))")
    assert saved == [None, "ft", "kt", "F", "mi"]
    await page.evaluate("() => localStorage.setItem('unit_altitude', 'toString')")
    await page.reload()
    await expect(page.locator("#v-altitude dd")).to_have_text("10,668 m", timeout=5000)
    await expect(page.locator("#v-ground_speed dd")).to_have_text("450 kt")
    await expect(page.locator("#units-select")).to_have_value("custom")
    assert set(hosts) == {urlsplit(rig.base).netloc}, hosts


async def test_language_switch_and_accept_language(browser: Browser, rig: PortalRig, artifacts_dir: Path) -> None:
    hosts: list[str] = []
    page = await open_app(browser, rig, hosts, locale="de-DE")
    await expect(page.locator("#tab-flight")).to_have_text("Flug", timeout=5000)
    await page.select_option("#lang-select", "es")
    await expect(page.locator("#tab-flight")).to_have_text("Vuelo")
    await expect(page.locator("html")).to_have_attribute("lang", "es")
    await page.select_option("#lang-select", "ca")
    await expect(page.locator("#v-time_to_go dt")).to_have_text("Temps restant")
    await page.reload()
    await expect(page.locator("#tab-flight")).to_have_text("Vol", timeout=5000)  # the cookie keeps it
    await expect(page.locator("#live")).to_have_text("En directe", timeout=5000)
    await page.locator("#tab-read").click()
    await expect(page.locator("#list-reading .meta").first).to_contain_text("Diari", timeout=5000)  # category
    await page.screenshot(path=str(artifacts_dir / "portal-catalan.png"))
    assert set(hosts) == {urlsplit(rig.base).netloc}


async def test_order_goes_through_keyboard_only(browser: Browser, rig: PortalRig, artifacts_dir: Path) -> None:
    hosts: list[str] = []
    page = await open_app(browser, rig, hosts, locale="en-GB")
    await page.locator("#tab-flight").focus()
    for _ in range(4):
        await page.keyboard.press("ArrowRight")
    await expect(page.locator("#tab-offers")).to_have_attribute("aria-selected", "true")
    offer = page.locator("#list-offer .card").first
    await expect(offer.locator("h3")).to_have_text("Hotel in Madrid: 20% off", timeout=5000)
    await offer.get_by_role("button", name="Request this offer").click()
    await page.get_by_label("Your e-mail address").fill("not an email")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#order-status")).to_have_text("Please enter a valid e-mail address.")
    await page.get_by_label("Your e-mail address").fill("passenger@example.com")
    await page.get_by_label("Seat (optional)").fill("23c")
    await page.keyboard.press("Enter")
    await expect(page.locator("#order-status")).to_have_text("Thank you. It will be sent after landing.",
                                                             timeout=5000)
    order_id = await page.locator("#order-status").get_attribute("data-order-id")
    (item,) = rig.storage.outbox.pending("offer")
    assert item.id == order_id and item.payload["seat"] == "23C"
    await page.screenshot(path=str(artifacts_dir / "portal-order.png"))
    assert set(hosts) == {urlsplit(rig.base).netloc}


async def test_polling_without_eventsource_and_over_temperature(
    browser: Browser, rig: PortalRig, artifacts_dir: Path
) -> None:
    hosts: list[str] = []
    ctx = await browser.new_context(viewport={"width": 360, "height": 740}, locale="fr-FR")
    await ctx.add_init_script("delete window.EventSource;")  # like a sign-in mini-browser
    page = await ctx.new_page()
    page.on("request", lambda request: hosts.append(urlsplit(request.url).path))
    rig.alarms.raise_alarm("over_temperature", "78 degC")
    await page.goto(rig.base + "/")
    await expect(page.locator("#v-ground_speed dd")).to_have_text("833 km/h", timeout=5000)
    rig.flight.set("ground_speed", 460.0)
    await expect(page.locator("#v-ground_speed dd")).to_have_text("852 km/h", timeout=6000)
    assert "/api/v1/flight/stream" not in hosts and hosts.count("/api/v1/flight") >= 2
    await page.locator("#tab-watch").click()
    await expect(page.locator("#video-notice")).to_contain_text("serveur de bord", timeout=5000)
    await expect(page.locator("#list-video button").first).to_be_disabled()
    await page.screenshot(path=str(artifacts_dir / "portal-watch-over-temperature.png"))


async def test_welcome_page_in_a_mini_browser_without_javascript(
    browser: Browser, rig: PortalRig, artifacts_dir: Path
) -> None:
    # every name leads to the portal, as the cabin DNS does: the portal is the browser's proxy
    ctx = await browser.new_context(viewport={"width": 360, "height": 640}, java_script_enabled=False,
                                    locale="es-ES", proxy={"server": rig.base})
    page = await ctx.new_page()
    probe = "http://captive.apple.com/hotspot-detect.html"
    await page.goto(probe)  # the probe redirects to the welcome page
    await expect(page).to_have_url("http://captive.apple.com/welcome")
    await expect(page.locator(".nointernet")).to_have_text("En este vuelo no hay internet.")
    await page.screenshot(path=str(artifacts_dir / "portal-welcome.png"))
    await page.get_by_role("button", name="Continuar al portal de a bordo").click()
    await expect(page).to_have_url("http://captive.apple.com/")
    response = await page.goto(probe)
    assert response is not None and response.status == 200
    assert "Success" in await page.content()


NO_NATIVE_HLS = """
const canPlay = HTMLMediaElement.prototype.canPlayType;
HTMLMediaElement.prototype.canPlayType = function (type) {
  return /mpegurl/i.test(type) ? "" : canPlay.call(this, type);
};
"""


@pytest.mark.parametrize("native", [True, False], ids=["native-hls-if-any", "hls.js"])
async def test_video_plays_natively_or_through_the_shipped_hls_js(
    browser: Browser, rig: PortalRig, native: bool
) -> None:
    """Where the browser has no native HLS (forced here, as on desktop Firefox) the app loads hls.js from the
    portal itself and attaches it to the video; else the video plays the master playlist directly."""
    paths: list[str] = []
    ctx = await browser.new_context(viewport={"width": 412, "height": 915}, locale="en-GB")
    if not native:
        await ctx.add_init_script(NO_NATIVE_HLS)
    page = await ctx.new_page()
    page.on("request", lambda request: paths.append(urlsplit(request.url).path))
    await page.goto(rig.base + "/")
    has_native = await page.evaluate(
        "() => !!document.createElement('video').canPlayType('application/vnd.apple.mpegurl')")
    await page.locator("#tab-watch").click()
    await page.locator("#list-video").get_by_role("button", name="Play").click()
    await expect(page.locator("#player")).to_be_visible(timeout=5000)
    src = ""
    for _ in range(50):  # polled from here: the page's CSP forbids the eval wait_for_function needs
        src = await page.evaluate("() => document.getElementById('video').src")
        if src.startswith("blob:" if not has_native else "http") and "/content/video/coast/master.m3u8" in paths:
            break
        await page.wait_for_timeout(100)
    assert "/content/video/coast/master.m3u8" in paths
    if has_native:
        assert src.endswith("/content/video/coast/master.m3u8")
        assert "/static/vendor/hls.light.min.js" not in paths
    else:
        assert src.startswith("blob:")  # a MediaSource fed by hls.js
        assert "/static/vendor/hls.light.min.js" in paths


async def test_ground_profile_app(browser: Browser, tmp_path: Path, artifacts_dir: Path) -> None:
    from tests.portal.conftest import start_rig

    rig = await start_rig(tmp_path, profile="ground")
    try:
        ctx = await browser.new_context(viewport={"width": 412, "height": 915}, locale="en-GB")
        page = await ctx.new_page()
        await page.goto(rig.base + "/")
        await expect(page.locator("#tab-watch")).to_be_hidden()
        await page.locator("#tab-offers").click()
        await expect(page.locator("#list-offer .card h3").first).to_have_text("Hotel in Madrid: 20% off",
                                                                              timeout=5000)
        await page.locator("#reset-open").click()
        await page.get_by_label("Your e-mail address").fill("member@example.com")
        await page.locator("#order-send").click()
        await expect(page.locator("#order-status")).to_have_text(
            "If this address has an account, a reset link is on its way.", timeout=5000)
        assert [i.kind for i in rig.storage.outbox.pending()] == ["password_reset"]
        await page.screenshot(path=str(artifacts_dir / "portal-ground.png"))
    finally:
        await rig.portal.stop()
        await rig.storage.stop()


def _points(d: str) -> list[tuple[float, float]]:
    import re

    return [(float(x), float(y)) for x, y in re.findall(r"[ML](-?[\d.]+),(-?[\d.]+)", d)]


async def test_a_route_over_the_antimeridian_is_drawn_in_one_piece(
    browser: Browser, rig: PortalRig, artifacts_dir: Path
) -> None:
    from appliance.ports import FlightInfo

    rig.flight.set("latitude", 30.5)
    rig.flight.set("longitude", -179.6)
    rig.flight.set("heading", 95.0)
    rig.flight.info = FlightInfo(flight_number="JL784", origin="RJAA", destination="PHNL")  # Tokyo to Honolulu
    page = await open_app(browser, rig, [], locale="en-GB")
    await expect(page.locator("#f-dest-code")).to_have_text("HNL", timeout=5000)
    await expect(page.locator("#plane")).to_have_attribute("visibility", "visible")
    route = _points(await page.locator("#route").get_attribute("d") or "")
    assert len(route) > 50
    assert all(0 <= x <= 800 and 0 <= y <= 450 for x, y in route), "the route leaves the map"
    steps = [abs(b[0] - a[0]) for a, b in itertools.pairwise(route)]
    assert max(steps) < 40, "a jump across the map: the route was cut at the antimeridian"
    transform = await page.locator("#plane").get_attribute("transform") or ""
    x = float(transform.split("(")[1].split(",")[0])
    assert route[0][0] < x < route[-1][0]  # the aircraft between Tokyo and Honolulu, not at the map's edge
    await page.screenshot(path=str(artifacts_dir / "portal-antimeridian.png"))


PAGES = "/content/readings/window-seat-p{}.png"
SWIPE_LEFT = """() => {
  const img = document.getElementById("reader-img");
  const at = (x) => new Touch({identifier: 1, target: img, clientX: x, clientY: 300});
  img.dispatchEvent(new TouchEvent("touchstart", {touches: [at(300)], changedTouches: [at(300)], bubbles: true}));
  img.dispatchEvent(new TouchEvent("touchend", {touches: [], changedTouches: [at(120)], bubbles: true}));
}"""


async def _page_shown(page: Page, paths: list[str], n: int, of: int = 4) -> None:
    """Page n is the reader's image, loaded, and no later page has been fetched (one page at a time)."""
    await expect(page.locator("#reader-img")).to_have_attribute("src", PAGES.format(n))
    await expect(page.locator("#reader-img")).not_to_have_class("loading")
    assert await page.evaluate("() => document.getElementById('reader-img').naturalWidth") == 300
    assert PAGES.format(n) in paths
    assert not {PAGES.format(k) for k in range(n + 1, of + 1)} & set(paths), paths


async def test_an_image_only_reading_turns_its_pages(browser: Browser, rig: PortalRig, artifacts_dir: Path) -> None:
    """A reading made only of page images opens in the app's reader: page N of M, previous and next by button,
    keyboard and swipe, one image fetched at a time, labels in the passenger's language, focus back on close.
    PDF readings still open the PDF."""
    hosts: list[str] = []
    page = await open_app(browser, rig, hosts, locale="en-GB")
    paths: list[str] = []
    page.on("request", lambda request: paths.append(urlsplit(request.url).path))
    await page.locator("#tab-read").click()
    news = page.locator("#list-reading .card", has_text="The Daily Flyer")
    await expect(news.get_by_role("link", name="Open")).to_have_attribute(
        "href", "/content/readings/daily-2026-11-23.pdf", timeout=5000)
    opener = page.locator("#list-reading .card", has_text="Window seat").get_by_role("button", name="Open")
    await expect(opener).to_have_accessible_description("Window seat: a photo magazine")  # which "Open" it is
    await opener.click(timeout=5000)
    reader = page.get_by_role("dialog", name="Window seat: a photo magazine")
    await expect(reader).to_be_visible()
    count, previous, following = (page.locator("#reader-count"), reader.get_by_role("button", name="Previous page"),
                                  reader.get_by_role("button", name="Next page"))
    await expect(count).to_have_text("Page 1 of 4")
    await expect(previous).to_be_disabled()
    await expect(following).to_be_focused()
    await _page_shown(page, paths, 1)
    await page.screenshot(path=str(artifacts_dir / "portal-reader-page1.png"))
    await page.keyboard.press("Tab")  # the focus stays in the dialog
    await expect(reader.get_by_role("button", name="Close")).to_be_focused()
    await page.keyboard.press("Shift+Tab")
    await expect(following).to_be_focused()

    await following.click()  # by button
    await expect(count).to_have_text("Page 2 of 4")
    await _page_shown(page, paths, 2)
    await expect(page.locator("#reader-img")).to_have_attribute("alt", "Window seat: a photo magazine, Page 2 of 4")
    await page.keyboard.press("ArrowRight")  # by arrow key
    await expect(count).to_have_text("Page 3 of 4")
    await page.keyboard.press("ArrowLeft")
    await expect(count).to_have_text("Page 2 of 4")
    await page.evaluate(SWIPE_LEFT)  # by swipe
    await expect(count).to_have_text("Page 3 of 4")
    await following.focus()
    await page.keyboard.press("Enter")  # the next button from the keyboard, to the last page
    await expect(count).to_have_text("Page 4 of 4")
    await _page_shown(page, paths, 4)
    await expect(following).to_be_disabled()
    await expect(previous).to_be_focused()  # the focus stays in the reader, on the button that still works
    await page.screenshot(path=str(artifacts_dir / "portal-reader-page4.png"))
    await page.keyboard.press("Escape")
    await expect(reader).to_be_hidden()
    await expect(opener).to_be_focused()  # back where it was

    await page.keyboard.press("Enter")  # open again from the keyboard: page 1, then switch the language
    await expect(count).to_have_text("Page 1 of 4")
    await expect(page.locator("#reader-img")).to_have_attribute("src", PAGES.format(1))
    await page.select_option("#lang-select", "es")
    await expect(count).to_have_text("Página 1 de 4")
    reader = page.get_by_role("dialog", name="Ventanilla: una revista de fotos")
    await expect(reader.get_by_role("button", name="Página siguiente")).to_be_enabled()
    await expect(reader.get_by_role("button", name="Página anterior")).to_be_disabled()
    await page.screenshot(path=str(artifacts_dir / "portal-reader-es.png"))
    await page.keyboard.press("Escape")  # the catalog was drawn again in Spanish meanwhile: its new button
    await expect(page.locator("#list-reading [data-reader=window-seat]")).to_be_focused()
    await expect(page.locator("#list-reading [data-reader=window-seat]")).to_have_text("Abrir")
    assert set(hosts) == {urlsplit(rig.base).netloc}, hosts
