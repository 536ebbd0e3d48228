"""The simulated ground station: the airline's existing HTTP services as the appliance meets them.

Service listener (`groundlink.url`):
  POST /orders/{kind}   the orders, payments included, each idempotent on its key (firmware_sim/ground/orders.py)
  POST /telemetry       the appliance's summary, same idempotency rules
  GET  /health          200 {"status": "pass"} while the station is up
  GET  /time            {"epoch": seconds} (every answer also carries a Date header)
  GET  /schedule.json   the scenario's flights, as signed with the last edition
  GET  /tuf/...         the same editions signed (TUF metadata and hash-prefixed targets, firmware_sim/ground/tuf.py)
  GET  /content/...     bundles as static files with Range (firmware_sim/ground/content.py), one edition per day
                        packed and signed by the content desk (firmware_sim/ground/editions.py)
Every request crosses the simulated link (`LinkModel`: bandwidth both ways, round trip, cuts) and the fault
plan (`FaultPlan`).

Control routes (the simulator's control listener): GET/DELETE /ground/received, GET /ground/processor (keys
seen, authorisations per key, final answers), GET/POST/DELETE
/ground/faults, PUT /ground/link, PUT /ground/station, PUT /ground/schedule, POST /ground/content/publish
{"day": "YYYY-MM-DD"}, GET/PUT /ground/tuf (the TUF attack knobs, firmware_sim/ground/tuf.py).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from firmware_sim.device import World
from firmware_sim.ground.ca import CertificateDesk, add_certificate_control, add_certificate_routes
from firmware_sim.ground.content import ContentServer, add_content_routes
from firmware_sim.ground.editions import SCHEDULE_FILE, EditionDesk, add_edition_control
from firmware_sim.ground.faults import FaultPlan, parse_rule
from firmware_sim.ground.ledger import Ledger
from firmware_sim.ground.link import LinkCut, LinkModel
from firmware_sim.ground.orders import OrderDesk, add_order_control, add_order_routes
from firmware_sim.ground.processor import Processor
from firmware_sim.ground.tuf import TufServer, add_tuf_routes
from firmware_sim.ground.wire import (
    PROCESSING_DELAY,
    Dropped,
    error,
    read_json,
    request_wire_bytes,
    response_wire_bytes,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class GroundStation:
    """A SimDevice: the ground services on their own listener, plus control routes."""

    name = "ground"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        bundles_dir: Path | None = None,
        publish_sample: bool = True,
        world: World | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._own_dir: tempfile.TemporaryDirectory[str] | None = None
        if bundles_dir is None:
            self._own_dir = tempfile.TemporaryDirectory(prefix="ground-bundles-")
            bundles_dir = Path(self._own_dir.name)
        self.bundles_dir = bundles_dir
        self._tuf_dir: tempfile.TemporaryDirectory[str] | None = tempfile.TemporaryDirectory(prefix="ground-tuf-")
        self.tuf = TufServer(Path(self._tuf_dir.name))  # every edition is also signed, served at /tuf/
        self.certificates = CertificateDesk(Path(self._tuf_dir.name) / "certificates", self._publish_certificate,
                                            self.ground_now, lambda: self.tuf.attack == "tampered_target")
        self.ledger = Ledger()
        self.processor = Processor()
        self.orders = OrderDesk(self.ledger, self.processor)
        self.faults = FaultPlan()
        self.link = LinkModel()
        self.content: ContentServer | None = None
        self.publish_sample = publish_sample
        self.world = world
        self.edition_desk = EditionDesk(bundles_dir, self.tuf, world, self.ground_now)
        if world is not None:
            world.subscribe(self._on_world_event)
        self.up = True
        self.time_offset = 0.0
        self.schedule_override: Any = None  # PUT /ground/schedule: any JSON, served as is (tests of refusal)
        self.requests = 0
        self.dropped = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    # --- the service listener -------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._link_middleware])
        add_order_routes(app, self.orders)
        app.router.add_get("/health", self._get_health)
        app.router.add_get("/time", self._get_time)
        app.router.add_get("/schedule.json", self._get_schedule)
        self.bundles_dir.mkdir(parents=True, exist_ok=True)
        self.content = add_content_routes(app, self.bundles_dir, self.link,
                                          tampered=lambda: self.tuf.attack == "tampered_target")
        add_tuf_routes(app, self.tuf)
        add_certificate_routes(app, self.certificates)
        return app

    @web.middleware
    async def _link_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests += 1
        content = request.path.startswith("/content/")  # the content server paces its bodies itself
        try:
            if not content:
                await self.link.round_trip()
                await self.link.receive(request_wire_bytes(request))
            rule = self.faults.pick(request.path)
            if rule is not None and rule.kind == "drop":
                raise Dropped
            if rule is not None and rule.kind == "error":
                response: web.StreamResponse = error(rule.status, f"injected fault: HTTP {rule.status}")
                if rule.status == 503:
                    response.headers["Retry-After"] = "1"
            else:
                if rule is not None and rule.kind == "slow":
                    request[PROCESSING_DELAY] = rule.seconds
                    if content:
                        await asyncio.sleep(rule.seconds)
                response = await handler(request)
                if rule is not None and rule.kind == "drop_after":
                    raise Dropped
            if not content:
                await self.link.transmit(response_wire_bytes(response), header=True)
            return response
        except (Dropped, LinkCut, ConnectionResetError):  # ours, the link's, or the client went away
            self.dropped += 1
            transport = request.transport
            if transport is not None:
                transport.abort()
            return web.Response(status=503)  # written to a closed transport: never reaches the client

    async def _get_health(self, request: web.Request) -> web.Response:
        if not self.up:
            return web.json_response({"status": "fail"}, status=503)
        return web.json_response({"status": "pass"})

    async def _get_time(self, request: web.Request) -> web.Response:
        return web.json_response({"epoch": time.time() + self.time_offset})

    async def _get_schedule(self, request: web.Request) -> web.Response:
        """The override, else the schedule signed with the last edition (the bytes signed, tampered under the
        tampered_target knob), else the scenario's flights."""
        if self.schedule_override is not None:
            return web.json_response(self.schedule_override)
        signed = self.bundles_dir / SCHEDULE_FILE
        if signed.is_file():
            body = signed.read_bytes()
            if self.tuf.attack == "tampered_target":
                body = b'{"legs": []}'  # an attacker's schedule: well-formed, not the signed one
            return web.Response(body=body, content_type="application/json")
        if self.world is None:
            return error(404, "no schedule for this aircraft")
        return web.json_response({"legs": self.world.schedule()})

    async def _publish_certificate(self, paths: list[Path], prefix: str) -> None:
        await self.tuf.publish(paths, prefix, now=self.ground_now())

    def ground_now(self) -> datetime:
        """The station's clock (GET /time): what it signs with."""
        return datetime.now(UTC) + timedelta(seconds=self.time_offset)

    # --- SimDevice --------------------------------------------------------------------------------------

    async def publish(self, day: date | None = None) -> dict[str, Any]:
        """The content desk's next edition (or the edition of `day`), packed, signed and made current."""
        return await self.edition_desk.publish(day)

    def _on_world_event(self, event: str, detail: dict[str, Any]) -> None:
        """While an aircraft descends, the content desk publishes the next edition, ready for its landing."""
        if event == "phase" and detail.get("phase") == "descent" and self._runner is not None:
            self.edition_desk.spawn_publish()

    async def start(self) -> None:
        await self.tuf.ensure_repo(self.ground_now())  # the root aircraft pin: trust.root
        if self.publish_sample:
            self.edition_desk.spawn_publish()
        self._runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else self.port
        self.url = f"http://{self.host}:{port}"

    async def stop(self) -> None:
        await self.edition_desk.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._own_dir is not None:
            self._own_dir.cleanup()
            self._own_dir = None
        if self._tuf_dir is not None:
            self._tuf_dir.cleanup()
            self._tuf_dir = None

    def endpoints(self) -> dict[str, Any]:
        return {"groundlink.url": self.url, "trust.root": str(self.tuf.pinned_root())}

    def state(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "up": self.up,
            "requests": self.requests,
            "dropped": self.dropped,
            "accepted": self.ledger.report(with_payloads=False)["counts"],
            "faults": self.faults.state(),
            "link": self.link.state(),
            "content": self.content.state() if self.content is not None else {},
            "editions": list(self.edition_desk.editions),
            "pack_errors": list(self.edition_desk.pack_errors),
            "tuf": self.tuf.state(),
            "certificates": self.certificates.state(),
        }

    # --- control routes ---------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        add_order_control(app, self.orders)
        app.router.add_get("/ground/faults", self._get_faults)
        app.router.add_post("/ground/faults", self._post_fault)
        app.router.add_delete("/ground/faults", self._delete_faults)
        app.router.add_put("/ground/link", self._put_link)
        app.router.add_put("/ground/station", self._put_station)
        app.router.add_put("/ground/schedule", self._put_schedule)
        add_edition_control(app, self.edition_desk)
        app.router.add_get("/ground/tuf", self._get_tuf)
        app.router.add_put("/ground/tuf", self._put_tuf)
        add_certificate_control(app, self.certificates)

    async def _get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self.faults.state())

    async def _post_fault(self, request: web.Request) -> web.Response:
        try:
            rule = parse_rule(await read_json(request))
        except ValueError as problem:
            return error(400, str(problem))
        self.faults.add(rule)
        return web.json_response(self.faults.state(), status=201)

    async def _delete_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return web.json_response(self.faults.state())

    async def _put_link(self, request: web.Request) -> web.Response:
        try:
            self.link.configure(await read_json(request))
        except ValueError as problem:
            return error(400, str(problem))
        return web.json_response(self.link.state())

    async def _put_schedule(self, request: web.Request) -> web.Response:
        """Serve this document at /schedule.json instead of the scenario's flights; null goes back to them."""
        self.schedule_override = await read_json(request)
        return web.json_response({"override": self.schedule_override is not None})

    async def _put_station(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        if not isinstance(body, dict) or set(body) - {"up", "time_offset"}:
            return error(400, 'expected {"up": bool, "time_offset": seconds}')
        up = body.get("up", self.up)
        offset = body.get("time_offset", self.time_offset)
        if not isinstance(up, bool) or not isinstance(offset, int | float) or isinstance(offset, bool):
            return error(400, "up must be a boolean and time_offset a number")
        self.up = up
        self.time_offset = float(offset)
        return web.json_response({"up": self.up, "time_offset": self.time_offset})

    async def _get_tuf(self, request: web.Request) -> web.Response:
        return web.json_response(self.tuf.state())

    async def _put_tuf(self, request: web.Request) -> web.Response:
        try:
            self.tuf.configure(await read_json(request))
        except (ValueError, OSError) as problem:
            return error(400, str(problem))
        return web.json_response(self.tuf.state())
