"""The whole chain in a browser: `appliance run --sim` (the simulator flying BCN-MAD, the real avionics reader
and FlightState), the portal, Chromium. Values move as the simulator flies; a label the simulator silences
shows as unavailable."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import async_playwright, expect

from appliance.content.store import ContentStore
from tests.conftest import free_port, python_module, subprocess_env
from tests.portal.conftest import install_samples
from tests.portal.test_browser import ARGS, CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("portal-sim")]


def _http(url: str, body: dict[str, object] | None = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as r:
        result: bytes = r.read()
        return result


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[str, str]]:
    install_samples(ContentStore(tmp_path / "content"), tmp_path, date(2026, 11, 23))
    portal, control = free_port(), free_port()
    config = tmp_path / "appliance.toml"
    config.write_text(
        f'[portal]\nlisten = "127.0.0.1:{portal}"\n[maintenance]\nlisten = "127.0.0.1:{free_port()}"\n'
        f'[sim]\ncontrol = "127.0.0.1:{control}"\nscenario = "flight"\n'
        f'[content]\ndir = "{tmp_path / "content"}"\n[groundlink]\nurl = "http://127.0.0.1:9"\n')
    process = subprocess.Popen(python_module("appliance", "run", "--sim", "--config", str(config), "--state-dir",
                                             str(tmp_path / "state")), env=subprocess_env(), cwd=tmp_path)
    base = f"http://127.0.0.1:{portal}"
    try:
        for _ in range(150):
            try:
                _http(base + "/api/v1/flight")
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"the daemon exited with {process.returncode}") from None
                import time
                time.sleep(0.2)
        _http(f"http://127.0.0.1:{control}/scenario", {"name": "flight", "at": "cruise", "speed": 20})
        yield base, f"http://127.0.0.1:{control}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


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
            await asyncio.to_thread(_http, f"{control}/avionics/labels/altitude", {"silent": True})
            await expect(altitude).to_have_text("unavailable", timeout=10000)
            await expect(altitude).to_have_attribute("data-status", "stale")
            await page.screenshot(path=str(artifacts_dir / "portal-sim-altitude-lost.png"))
        finally:
            await browser.close()
    assert set(hosts) == {urlsplit(base).netloc}, hosts
