"""The web app's units in Chromium: one choice per value, presets, kept across reloads."""

from __future__ import annotations

import asyncio
import json
import math
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, expect

from tests.portal.conftest import CHROMIUM, PortalRig, http, open_app

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium not installed")]


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
