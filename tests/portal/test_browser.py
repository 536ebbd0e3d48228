"""The web app in Chromium (Debian's /usr/bin/chromium driven by Playwright): offline, map, live values,
stale values, orders, languages, polling fallback, over-temperature message. Screenshots go to
tests/artifacts/."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, expect

from tests.portal.conftest import CHROMIUM, PortalRig, open_app

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium not installed")]


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
    await expect(page.locator("#order-status span").first).to_have_text("Thank you. It will be sent after landing.",
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
    rig.alarms.condition_cleared("over_temperature")  # cooled down: no reload, no acknowledgement
    await expect(page.locator("#video-notice")).to_be_hidden(timeout=8000)
    await expect(page.locator("#list-video button").first).to_be_enabled()


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
    # the sample film (H.264/AAC made by ffmpeg) really plays: the clock runs
    played = 0.0
    for _ in range(100):
        played, error = await page.evaluate(
            "() => { const v = document.getElementById('video'); return [v.currentTime, v.error && v.error.code]; }")
        assert error is None, f"the video failed with MediaError {error}"
        if played > 1.0:
            break
        await page.wait_for_timeout(100)
    assert played > 1.0, f"currentTime stayed at {played}"
    await expect(page.locator("#video-notice")).to_be_hidden()


@pytest.mark.parametrize("native", [True, False], ids=["native-hls-if-any", "hls.js"])
async def test_a_video_that_cannot_play_says_so_in_the_passengers_language(
    browser: Browser, rig: PortalRig, native: bool
) -> None:
    root = rig.content.active_root()
    assert root is not None
    for segment in (root / "video/coast/low").glob("*.ts"):  # filler bytes, as the old samples were
        segment.write_bytes(b"\x47" + b"\xff" * (188 * 50 - 1))
    ctx = await browser.new_context(viewport={"width": 412, "height": 915}, locale="de-DE")
    if not native:
        await ctx.add_init_script(NO_NATIVE_HLS)
    page = await ctx.new_page()
    await page.goto(rig.base + "/")
    await page.locator("#tab-watch").click()
    await page.locator("#list-video").get_by_role("button", name="Abspielen").click()
    await expect(page.locator("#video-notice")).to_have_text(
        "Dieses Video kann auf diesem Gerät nicht abgespielt werden.", timeout=15000)


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
        await expect(page.locator("#order-status span").first).to_have_text(
            "If this address has an account, a reset link is on its way.", timeout=5000)
        assert [i.kind for i in rig.storage.outbox.pending()] == ["password_reset"]
        await page.screenshot(path=str(artifacts_dir / "portal-ground.png"))
    finally:
        await rig.stop()


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


async def test_a_silent_server_turns_the_shown_values_unavailable(
    browser: Browser, rig: PortalRig, artifacts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's snapshot breaks: the stream carries heartbeats only and the API answers 503. After 10 s
    without a document the page shows its values as unavailable (never the last ones as current), and recovers."""
    ctx = await browser.new_context(viewport={"width": 412, "height": 915}, locale="en-GB")
    page = await ctx.new_page()
    await page.clock.install()  # the page's Date and timers, moved on by the test
    await page.goto(rig.base + "/")
    altitude = page.locator("#v-altitude dd")
    await expect(altitude).to_have_text("10,668 m", timeout=5000)

    def broken() -> dict[str, object]:
        raise RuntimeError("a bug in the snapshot")

    monkeypatch.setattr(rig.flight, "snapshot", broken)
    await asyncio.sleep(1.5)  # the last good event, if one was on its way, is in
    await expect(altitude).to_have_text("10,668 m")  # ten seconds have not passed on the page
    await page.clock.fast_forward(11_000)
    await expect(altitude).to_have_text("unavailable", timeout=5000)
    await expect(altitude).to_have_attribute("data-status", "stale")
    await expect(page.locator("#v-time_to_go dd")).to_have_text("unavailable")
    await expect(page.locator("#plane")).to_have_attribute("visibility", "hidden")  # not where it is now
    await expect(page.locator("#live")).not_to_have_class("live ok")
    await page.screenshot(path=str(artifacts_dir / "portal-silent-server.png"))
    monkeypatch.undo()
    await expect(altitude).to_have_text("10,668 m", timeout=5000)  # the stream's next document
    await expect(page.locator("#live")).to_have_class("live ok")
    await expect(page.locator("#plane")).to_have_attribute("visibility", "visible")
    await ctx.close()
