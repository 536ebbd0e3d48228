"""The whole chain in a browser: `appliance run --sim` (the simulator flying BCN-MAD, the real avionics reader
and FlightState), the portal, Chromium. Values move as the simulator flies; a label the simulator silences
shows as unavailable."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import async_playwright, expect

from tests.portal.conftest import ARGS, CHROMIUM, http

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("portal-sim")]


async def test_live_values_follow_the_simulator(daemon: tuple[str, str], artifacts_dir: Path) -> None:
    base, control = daemon
    hosts: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 412, "height": 915}, locale="en-GB")
            page.on("request", lambda request: hosts.append(urlsplit(request.url).netloc))
            await page.goto(base + "/")
            await expect(page.locator("#f-dest-code")).to_have_text("MAD", timeout=10000)
            await expect(page.locator("#plane")).to_have_attribute("visibility", "visible", timeout=10000)
            assert (await page.locator("#route").get_attribute("d") or "").count("L") > 50
            altitude = page.locator("#v-altitude dd")
            await expect(altitude).to_have_attribute("data-status", "normal", timeout=10000)
            distance = page.locator("#v-distance_to_go dd")
            first = await distance.text_content()
            await expect(distance).not_to_have_text(first or "", timeout=10000)  # it flies on
            await page.screenshot(path=str(artifacts_dir / "portal-sim-cruise.png"), full_page=True)
            await asyncio.to_thread(http, f"{control}/avionics/labels/altitude", {"silent": True})
            await expect(altitude).to_have_text("unavailable", timeout=10000)
            await expect(altitude).to_have_attribute("data-status", "stale")
            await page.screenshot(path=str(artifacts_dir / "portal-sim-altitude-lost.png"))
        finally:
            await browser.close()
    assert set(hosts) == {urlsplit(base).netloc}, hosts
