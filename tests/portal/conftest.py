"""A real passenger portal on loopback: real storage (journal outbox), a real content store with a packed
sample bundle, real alarms. The flight view is a small honest FlightView whose values the test sets."""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, async_playwright

from appliance.alarms import Alarms
from appliance.content.pack import pack
from appliance.content.store import ContentStore
from appliance.metrics import Metrics
from appliance.payments.config import PaymentsConfig
from appliance.payments.desk import Desk
from appliance.portal.component import Portal, make_services
from appliance.portal.config import PortalConfig
from appliance.ports import FlightInfo, ParamStatus, Reading, ScheduleView
from appliance.storage.component import StorageComponent
from appliance.storage.config import StorageConfig
from appliance.timebase import Clock, SystemClock
from firmware_sim.content_samples import generate
from tests.conftest import free_port, python_module, subprocess_env

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (the browser tests skip where it is not installed)."""
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            await b.close()


UNITS = {"altitude": "ft", "ground_speed": "kt", "outside_temperature": "degC", "latitude": "deg",
         "longitude": "deg", "heading": "deg", "wind_speed": "kt", "wind_direction": "deg", "mach_speed": "mach"}


@dataclass
class ScriptedFlight:
    """Implements appliance.ports.FlightView from values the test sets (status and age per value)."""

    values: dict[str, tuple[float, ParamStatus, float]] = field(default_factory=dict)
    info: FlightInfo = field(default_factory=FlightInfo)
    phase: str = "cruise"
    on_ground: bool | None = False

    def set(self, name: str, value: float, status: ParamStatus = "normal", age: float = 0.1) -> None:
        self.values[name] = (value, status, age)

    def reading(self, name: str) -> Reading | None:
        if name not in self.values:
            return None
        value, status, age = self.values[name]
        return Reading(name, value, UNITS.get(name, ""), status, age)

    def usable(self, name: str) -> float | str | None:
        r = self.reading(name)
        return r.value if r is not None and r.status == "normal" and isinstance(r.value, float | str) else None

    def flight_info(self) -> FlightInfo:
        return self.info

    def utc(self) -> datetime | None:
        return None

    def snapshot(self) -> dict[str, Any]:
        parameters = {}
        for name in self.values:
            r = self.reading(name)
            assert r is not None
            parameters[name] = {"value": r.value if r.status == "normal" else None, "units": r.units,
                                "status": r.status, "age": r.age}
        i = self.info
        return {"parameters": parameters, "phase": self.phase, "on_ground": self.on_ground,
                "flight": {"flight_id": i.flight_id, "flight_number": i.flight_number, "origin": i.origin,
                           "destination": i.destination}}


def cruise(flight: ScriptedFlight) -> ScriptedFlight:
    """Halfway-ish between Barcelona and Madrid at FL350."""
    flight.info = FlightInfo(flight_number="IB1234", origin="LEBL", destination="LEMD")
    for name, value in {"altitude": 35000.0, "ground_speed": 450.0, "outside_temperature": -54.0,
                        "latitude": 41.0, "longitude": -0.8, "heading": 250.0}.items():
        flight.set(name, value)
    return flight


@dataclass
class PortalRig:
    portal: Portal
    base: str
    flight: ScriptedFlight
    storage: StorageComponent
    content: ContentStore
    alarms: Alarms
    metrics: Metrics
    tmp: Path
    desk: Desk | None = None

    @property
    def services(self) -> Any:
        return self.portal.services

    async def stop(self) -> None:
        await self.portal.stop()
        await self.storage.stop()

    def install_day(self, day: date, name: str | None = None) -> None:
        install_samples(self.content, self.tmp, day, name)


def install_samples(store: ContentStore, tmp: Path, day: date, name: str | None = None) -> None:
    tag = name or day.isoformat()
    source = generate(tmp / f"src-{tag}", day)
    store.ensure_layout()
    files = store.staging / f"in-{tag}"
    manifest = pack(source, files, bundle_id=f"samples-{tag}")
    store.install(files, manifest)


async def start_rig(tmp_path: Path, ground_schedule: ScheduleView | None = None, portal_clock: Clock | None = None,
                    payments: PaymentsConfig | None = None, **config: Any) -> PortalRig:
    """`portal_clock` (e.g. a ManualClock) drives only the portal's services (captive inactivity, rate limits);
    storage and alarms keep the system clock. `payments`: the [payments] section of the real payment desk."""
    clock, metrics = SystemClock(), Metrics()
    alarms = Alarms(clock, metrics)
    storage = StorageComponent(StorageConfig(dir=str(tmp_path / "state")), clock, metrics)
    await storage.start()
    content = ContentStore(tmp_path / "content")
    install_samples(content, tmp_path, date(2026, 11, 23))
    flight = cruise(ScriptedFlight())
    portal_config = PortalConfig(listen=f"127.0.0.1:{free_port()}", **config)
    services = make_services(portal_config, portal_clock or clock, metrics, flight=flight, outbox=storage.outbox,
                             content=content, alarms=alarms, ground_schedule=ground_schedule,
                             state_dir=tmp_path / "state")
    desk = Desk(payments or PaymentsConfig(), storage.outbox, content)
    services.payments = desk
    portal = Portal(services, portal_config.listen)
    await portal.start()
    assert portal.address is not None
    return PortalRig(portal, f"http://127.0.0.1:{portal.address[1]}", flight, storage, content, alarms, metrics,
                     tmp_path, desk)


@contextlib.asynccontextmanager
async def running_rig(tmp_path: Path, **options: Any) -> AsyncIterator[PortalRig]:
    """start_rig, stopped on the way out."""
    r = await start_rig(tmp_path, **options)
    try:
        yield r
    finally:
        await r.stop()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[PortalRig]:
    async with running_rig(tmp_path) as r:
        yield r


@pytest.fixture
async def debug_rig(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> AsyncIterator[PortalRig]:
    """A rig started with DEBUG logging on, as `appliance run --verbose` would: Portal.start turns the
    access log on only when DEBUG is enabled at start. Every record of every logger reaches `caplog`."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="appliance.portal.access")
    async with running_rig(tmp_path) as r:
        yield r


@pytest.fixture
def sample_source(tmp_path: Path) -> Iterator[Path]:
    yield generate(tmp_path / "src", date(2026, 11, 23))


def http(url: str, body: dict[str, object] | None = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as r:
        result: bytes = r.read()
        return result


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`appliance run --sim` (the simulator flying BCN-MAD at cruise, x20) with the sample bundle installed:
    (portal base URL, simulator control URL)."""
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
                http(base + "/api/v1/flight")
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"the daemon exited with {process.returncode}") from None
                time.sleep(0.2)
        http(f"http://127.0.0.1:{control}/scenario", {"name": "flight", "at": "cruise", "speed": 20})
        yield base, f"http://127.0.0.1:{control}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


async def open_app(browser: Browser, rig: PortalRig, hosts: list[str], **context: object) -> Page:
    """The app in a phone-sized page; every host it requests is appended to `hosts`."""
    ctx = await browser.new_context(viewport={"width": 412, "height": 915}, device_scale_factor=2,
                                    **context)  # type: ignore[arg-type]
    page = await ctx.new_page()
    page.on("request", lambda request: hosts.append(urlsplit(request.url).netloc))
    await page.goto(rig.base + "/")
    return page
