"""The web app on a small phone (360 px wide) and as a set of plain scripts: the header (name, language and units
selects) fits in French and German, the longest labels; the scripts add one global, window.Cabin, and throw
nothing. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.portal.conftest import CHROMIUM, PortalRig

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium not installed")]

SMALL_PHONE = {"width": 360, "height": 740}
CUSTOM = {"fr": "Personnalisé", "de": "Individuell"}


@pytest.mark.parametrize("lang", ["fr", "de"])
async def test_the_header_fits_a_small_phone(browser: Browser, rig: PortalRig, artifacts_dir: Path,
                                             lang: str) -> None:
    ctx = await browser.new_context(viewport=SMALL_PHONE, device_scale_factor=2, locale=lang)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(rig.base + "/")
    await expect(page.locator("#units-select option[value=custom]")).to_have_text(CUSTOM[lang], timeout=5000)
    await expect(page.locator("#v-altitude dd")).not_to_have_text("–", timeout=5000)  # the app is running
    await page.locator("header.top").screenshot(path=str(artifacts_dir / f"portal-header-360-{lang}.png"))
    await page.screenshot(path=str(artifacts_dir / f"portal-360-{lang}.png"))
    scroll, inner = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"the page scrolls sideways at {inner} px in {lang}: {scroll} px wide"
    header, brand = await page.locator("header.top").bounding_box(), await page.locator(".brand").bounding_box()
    assert header is not None and brand is not None
    middle = brand["y"] + brand["height"] / 2
    assert brand["height"] < 30, "the name wraps"  # one line of 16 px text
    for part in (".brand", "#lang-select", "#units-select"):  # each whole, inside the header, on one row
        box = await page.locator(part).bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= inner, part
        assert header["y"] <= box["y"] and box["y"] + box["height"] <= header["y"] + header["height"], part
        assert abs(box["y"] + box["height"] / 2 - middle) < 2, f"{part} on a row of its own"
    assert not errors


async def test_the_scripts_add_one_global(browser: Browser, rig: PortalRig) -> None:
    """window.Cabin is the app's only global (topojson is the vendored library's): the files share nothing else."""
    ctx = await browser.new_context(viewport=SMALL_PHONE, locale="en-GB")
    page = await ctx.new_page()
    await page.goto(rig.base + "/welcome")  # the same origin, no script
    blank = set(await page.evaluate("() => Object.keys(window)"))
    await page.goto(rig.base + "/")
    await expect(page.locator("#v-altitude dd")).to_have_text("10,668 m", timeout=5000)
    added = set(await page.evaluate("() => Object.keys(window)")) - blank
    assert added == {"Cabin", "topojson"}
    parts = await page.evaluate("() => Object.keys(window.Cabin).sort()")
    assert {"state", "renderFlight", "drawMap", "setupUnits", "openReader", "loadCatalog"} <= set(parts)


@pytest.mark.parametrize("lang", ["en", "es", "ca", "fr", "de"])
async def test_the_tab_bar_fits_320_px(browser: Browser, rig: PortalRig, artifacts_dir: Path, lang: str) -> None:
    """Every tab whole and readable at 320 px (the narrowest phones), in every language: the bar never scrolls
    sideways (no tab cut off without a cue) and no label is clipped or broken."""
    ctx = await browser.new_context(viewport={"width": 320, "height": 640}, device_scale_factor=2, locale=lang)
    page = await ctx.new_page()
    await page.goto(rig.base + "/")
    await expect(page.locator("#tab-offers")).to_have_text(TABS_OFFERS[lang], timeout=5000)  # strings applied
    await page.locator("nav.tabs").screenshot(path=str(artifacts_dir / f"portal-tabs-320-{lang}.png"))
    await check_tabs(page, lang)
    await page.locator("#tab-guides").click()  # the selected tab is bold, so wider: the longest one
    await check_tabs(page, lang)


async def check_tabs(page: Page, lang: str) -> None:
    bar = await page.evaluate("""() => { const n = document.querySelector('nav.tabs');
        return {scroll: n.scrollWidth, width: n.clientWidth, tabs: Array.from(n.querySelectorAll('button')).map(b => {
          const r = b.getBoundingClientRect(), line = parseFloat(getComputedStyle(b).lineHeight) || 24;
          return {id: b.id, left: r.left, right: r.right, scroll: b.scrollWidth, width: b.clientWidth,
                  text: b.textContent, lines: Math.round((b.clientHeight - parseFloat(getComputedStyle(b).paddingTop)
                        - parseFloat(getComputedStyle(b).paddingBottom)) / line)}; })}; }""")
    assert bar["scroll"] <= bar["width"], f"the tab bar scrolls in {lang}: {bar}"
    for tab in bar["tabs"]:
        assert tab["left"] >= 0 and tab["right"] <= 320, tab
        assert tab["scroll"] <= tab["width"], f"{tab['text']} clipped in {lang}"
        assert tab["lines"] == 1, f"{tab['text']} wraps in {lang}"


TABS_OFFERS = {"en": "Offers", "es": "Ofertas", "ca": "Ofertes", "fr": "Offres", "de": "Angebote"}
