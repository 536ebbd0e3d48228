"""The web app's page reader in Chromium: a reading made of page images, one page loaded at a time."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, expect

from tests.portal.conftest import CHROMIUM, PortalRig, open_app

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium not installed")]


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
    Readings that are only a PDF still open the PDF."""
    hosts: list[str] = []
    page = await open_app(browser, rig, hosts, locale="en-GB")
    paths: list[str] = []
    page.on("request", lambda request: paths.append(urlsplit(request.url).path))
    await page.locator("#tab-read").click()
    magazine = page.locator("#list-reading .card", has_text="Skyways")  # a PDF only
    await expect(magazine.get_by_role("link", name="Open")).to_have_attribute(
        "href", "/content/readings/skyways.pdf", timeout=5000)
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
    # an older mini-browser's key events: no `key`, only `keyCode` (39: right), or the old name "Left"
    await page.evaluate("document.dispatchEvent(new KeyboardEvent('keydown', {keyCode: 39}))")
    await expect(count).to_have_text("Page 3 of 4")
    await page.evaluate("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Left'}))")
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
