"""What the passenger handlers share: config, the injected ports, and the portal's own state."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from appliance.alarms import OVER_TEMPERATURE, Alarms
from appliance.metrics import Metrics
from appliance.portal.captive import CaptiveClients
from appliance.portal.catalog import CatalogCache
from appliance.portal.config import PortalConfig
from appliance.portal.files import BundleDir
from appliance.portal.flight import FlightReport
from appliance.portal.https import Https
from appliance.portal.orders import KeyLocks, RateLimiter
from appliance.portal.stream import Broadcaster
from appliance.ports import ContentView, GroundLinkControl, OrderSink, PaymentDesk
from appliance.timebase import Clock


@dataclass
class Services:
    config: PortalConfig
    clock: Clock
    clients: CaptiveClients
    report: FlightReport
    broadcaster: Broadcaster
    limiter: RateLimiter
    metrics: Metrics
    content: ContentView | None = None
    outbox: OrderSink | None = None
    alarms: Alarms | None = None
    groundlink: GroundLinkControl | None = None
    payments: PaymentDesk | None = None
    order_keys: KeyLocks = field(default_factory=KeyLocks)
    catalogs: CatalogCache = field(default_factory=CatalogCache)
    bundle_files: BundleDir = field(default_factory=BundleDir)
    https: Https = field(default_factory=Https)  # inactive until a pair is loaded and its listener is up
    orders_accepted: int = 0
    orders_refused: int = 0

    @property
    def ground(self) -> bool:
        return self.config.profile == "ground"

    def delivers_now(self) -> bool:
        """Whether what a passenger orders now goes out now: on the ground profile (online), or while the ground
        window is open (at the gate with coverage); else it waits for the next window, after landing."""
        if self.ground:
            return True
        if self.groundlink is None:
            return False
        return self.groundlink.window_open()

    def video_refusal(self) -> str | None:
        """Why a new video session may not start now, or None."""
        if self.ground:
            return "videos are only available on board"
        if self.alarms is not None and self.alarms.is_active(OVER_TEMPERATURE):
            return "video is paused to keep the on-board server cool (over-temperature); please try again later"
        return None


SERVICES: web.AppKey[Services] = web.AppKey("services", Services)


def services_of(request: web.Request) -> Services:
    return request.app[SERVICES]
