"""The portal component: the passenger listener (`portal.listen`), its SSE ticker, its health."""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from appliance import ports
from appliance.alarms import Alarms
from appliance.component import Check
from appliance.descriptors import plan_descriptors
from appliance.httpserve import ConnectionGuard, ConnectionLimits, GuardedSite
from appliance.metrics import Metrics
from appliance.portal.airports import Airports
from appliance.portal.app import make_app
from appliance.portal.captive import CaptiveClients
from appliance.portal.config import PortalConfig
from appliance.portal.flight import FlightReport, Schedule
from appliance.portal.https import Https, configured_pair, utc_now
from appliance.portal.orders import RateLimiter
from appliance.portal.security import AccessLogger
from appliance.portal.services import Services
from appliance.portal.stream import Broadcaster
from appliance.portal.tls import PairStore
from appliance.ports import ContentView, FlightView, GroundLinkControl, OrderSink, PaymentDesk, ScheduleView
from appliance.systemd import listener_socket
from appliance.timebase import Clock

if TYPE_CHECKING:
    from appliance.core.spec import Setup

log = logging.getLogger("appliance.portal")
TLS_READ_BUFFER = 32 * 1024  # two TLS records


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT` (`[v6]:PORT` for IPv6) -> (host, port). Raises ValueError."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


class Portal:
    name = "portal"

    def __init__(self, services: Services, listen: str, sock: socket.socket | None = None,
                 reserved_descriptors: Callable[[], int] = lambda: 64) -> None:
        self.services = services
        self.listen = listen
        self.sock = sock  # a listening socket handed over (systemd socket activation): used instead of `listen`
        self.app = make_app(services)
        self._runner: web.AppRunner | None = None
        self.address: tuple[str, int] | None = None
        self.reserved_descriptors = reserved_descriptors  # other listeners' caps, kept in the descriptor budget
        self.guard: ConnectionGuard | None = None
        self.https = services.https
        self.https_address: tuple[str, int] | None = None
        self._https_site: GuardedSite | None = None
        self._https_starting: asyncio.Task[None] | None = None

    async def start(self, sock: socket.socket | None = None) -> None:
        """Listen on `portal.listen`, or on `sock` (e.g. one systemd passed with socket activation)."""
        sock = sock if sock is not None else self.sock
        config = self.services.config
        # descriptors for every connection the caps allow, the maintenance listener's and the daemon's own
        plan = plan_descriptors(config.max_connections, self.reserved_descriptors())
        limits = ConnectionLimits(plan.portal_connections, config.max_connections_per_address,
                                  config.header_timeout_seconds, config.keepalive_timeout_seconds)
        self.guard = ConnectionGuard("portal", limits, self.services.metrics)
        self.services.broadcaster.limit_clients(plan.portal_connections)
        self.services.broadcaster.start()
        # the access log costs a call per request: only when someone asked for it (DEBUG)
        access = logging.getLogger("appliance.portal.access")
        runner = web.AppRunner(self.app, access_log_class=AccessLogger, handle_signals=False, shutdown_timeout=1.0,
                               access_log=access if access.isEnabledFor(logging.DEBUG) else None,
                               keepalive_timeout=config.keepalive_timeout_seconds)
        await runner.setup()
        if sock is None:
            sock = listener_socket("portal", self.listen)  # systemd's socket when activated, else bound here
        site = GuardedSite(runner, sock, self.guard)
        await site.start()
        self._runner = runner
        server = site._server  # the bound address (port 0 becomes the real port)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            name = sockets[0].getsockname()
            self.address = (name[0], name[1])
        log.info("passenger portal listening on %s (%s profile)", self.address, self.services.config.profile)
        https = self.https
        if https.listen:
            https.load_initial(utc_now(self.services.clock.wall()))
            if https.has_pair:
                await self._start_https()
            else:
                log.warning("passenger portal: no HTTPS certificate yet; serving plain HTTP only")
            https.on_first_pair = self._first_pair

    def _first_pair(self) -> None:
        """The first pair arrived while the portal ran on HTTP only: start the HTTPS listener."""
        if self._runner is not None and self._https_site is None and self._https_starting is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # installed from another thread: the pair is in place for the next start
                log.warning("HTTPS certificate installed outside the event loop: HTTPS starts at the next restart")
                return
            self._https_starting = loop.create_task(self._start_https())

    async def _start_https(self) -> None:
        assert self._runner is not None and self.guard is not None
        # asyncio keeps a read buffer of SSLProtocol.max_size (256 KiB) per TLS connection: 256 MB for 1,000
        # SSE clients. Passengers' requests are small; reads of TLS_READ_BUFFER cost nothing (docs/tls.md).
        asyncio.sslproto.SSLProtocol.max_size = min(asyncio.sslproto.SSLProtocol.max_size, TLS_READ_BUFFER)
        sock = listener_socket("portal-tls", self.https.listen)
        site = GuardedSite(self._runner, sock, self.guard, ssl_context=self.https.endpoint.context)
        await site.start()
        self._https_site = site
        name = sock.getsockname()
        self.https_address = (name[0], name[1])
        self.https.port = name[1]
        log.info("passenger portal serving HTTPS on %s", self.https_address)

    async def stop(self) -> None:
        self.https.on_first_pair = None
        if self._https_starting is not None:
            await asyncio.gather(self._https_starting, return_exceptions=True)
        self.https.port = None
        await self.services.broadcaster.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def health(self) -> Check:
        if self._runner is None:
            return Check.failing("passenger listener not running")
        details = {"sse_clients": self.services.broadcaster.clients, "https": self.https.status()}
        if not self.https.active:
            why = ("portal.tls_listen is not set" if not self.https.listen else
                   f"no usable certificate ({self.https.last_refusal or 'none installed'})")
            return Check.warning(f"plain HTTP only: {why}; passengers' data crosses the cabin Wi-Fi unencrypted",
                                 **details)
        return Check.passing(
            "listening (HTTP probes and redirects, HTTPS)",
            https=self.https.status(),
            sse_clients=self.services.broadcaster.clients,
            accepted_clients=len(self.services.clients),
            orders_accepted=self.services.orders_accepted,
            orders_refused=self.services.orders_refused,
        )


def make_services(
    config: PortalConfig,
    clock: Clock,
    metrics: Metrics,
    *,
    state_dir: Path | None = None,
    flight: FlightView | None = None,
    outbox: OrderSink | None = None,
    content: ContentView | None = None,
    alarms: Alarms | None = None,
    ground_schedule: ScheduleView | None = None,
    groundlink: GroundLinkControl | None = None,
    payments: PaymentDesk | None = None,
) -> Services:
    schedule = Schedule(config.schedule_flight_number, config.schedule_origin, config.schedule_destination)
    report = FlightReport(flight, schedule, clock, Airports(), ground_schedule)
    broadcaster = Broadcaster(report.build, clock, metrics, interval=config.sse_interval_seconds,
                              max_behind=config.sse_max_behind_ticks, max_clients=config.sse_max_clients,
                              max_per_address=config.sse_max_per_address,
                              send_buffer=config.sse_send_buffer_bytes)
    https = Https(config.tls_listen, config.public_host, config.tls_renew_margin_days,
                  PairStore(state_dir / "tls") if state_dir is not None else None,
                  configured_pair(config.tls_cert, config.tls_key))
    return Services(
        https=https,
        config=config,
        clock=clock,
        clients=CaptiveClients(clock, config.captive_inactivity_seconds),
        report=report,
        broadcaster=broadcaster,
        limiter=RateLimiter(clock, config.orders_per_minute, config.orders_burst,
                            total_per_minute=config.orders_per_minute_total, total_burst=config.orders_burst_total),
        metrics=metrics,
        content=content,
        outbox=outbox,
        alarms=alarms,
        groundlink=groundlink,
        payments=payments,
    )


def build(setup: Setup[PortalConfig]) -> Portal:
    """The portal from its section, with the flight view, outbox, content, schedule and ground link where they
    exist; its descriptor budget leaves room for what the other components reserved (the maintenance
    listener's caps)."""
    config = setup.config
    services = make_services(config, setup.clock, setup.metrics, flight=setup.use(ports.FLIGHT),
                             outbox=setup.use(ports.OUTBOX), content=setup.use(ports.CONTENT),
                             alarms=setup.alarms, ground_schedule=setup.use(ports.SCHEDULE),
                             groundlink=setup.use(ports.GROUNDLINK), payments=setup.use(ports.PAYMENTS),
                             state_dir=state.path if (state := setup.use(ports.STATE_DIR)) is not None else None)
    setup.provide(ports.CERTIFICATES, services.https)
    enrollment = setup.use(ports.CERTIFICATE_ENROLLMENT)  # the ground link's certificate step, when it runs
    if enrollment is not None:
        enrollment.attach(services.https)
    return Portal(services, config.listen, reserved_descriptors=setup.descriptors_reserved_by_others)
