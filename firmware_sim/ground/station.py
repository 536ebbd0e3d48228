"""The simulated ground station: the airline's existing HTTP services as the appliance meets them.

Service listener (`groundlink.url`):
  POST /orders/{kind}   booking | offer | email | password_reset, JSON with an `Idempotency-Key` header (201
                        with a receipt; the same key and body again: the same 201; another body: 422; still
                        processing: 409); `payment` goes to the card processor (firmware_sim/ground/processor.py:
                        201 authorised, 402 declined with a reason, Retry-After on a soft decline, 5xx error)
  POST /telemetry       the appliance's summary, same idempotency rules
  GET  /health          200 {"status": "pass"} while the station is up
  GET  /time            {"epoch": seconds} (every answer also carries a Date header)
  GET  /tuf/...         the same editions signed (TUF metadata and hash-prefixed targets, firmware_sim/ground/tuf.py)
  GET  /content/...     bundles as static files with Range (firmware_sim/ground/content.py), made by the real
                        packer (`python -m appliance content pack SRC DEST --publish`) from the sample sources
                        of firmware_sim/content_samples.py, one edition per day
Every request crosses the simulated link (`LinkModel`: bandwidth both ways, round trip, cuts) and the fault
plan (`FaultPlan`).

Control routes (the simulator's control listener): GET/DELETE /ground/received, GET /ground/processor (keys
seen, authorisations per key, final answers), GET/POST/DELETE
/ground/faults, PUT /ground/link, PUT /ground/station, POST /ground/content/publish {"day": "YYYY-MM-DD"},
GET/PUT /ground/tuf (the TUF attack knobs, firmware_sim/ground/tuf.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from firmware_sim.content_samples import generate
from firmware_sim.device import World
from firmware_sim.ground.ca import CertificateDesk, add_certificate_control, add_certificate_routes
from firmware_sim.ground.content import ContentServer, add_content_routes
from firmware_sim.ground.faults import FaultPlan, parse_rule
from firmware_sim.ground.ledger import KeyConflict, KeyInProgress, Ledger, fingerprint
from firmware_sim.ground.link import LinkCut, LinkModel
from firmware_sim.ground.processor import Processor
from firmware_sim.ground.tuf import TufServer, add_tuf_routes

log = logging.getLogger("firmware_sim.ground")

REPO = Path(__file__).resolve().parents[2]  # the packer runs from this checkout
ORDER_KINDS = ("booking", "offer", "email", "password_reset", "payment")  # the outbox kinds
MAX_KEY_LENGTH = 255
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Headers aiohttp adds to every answer (Server, Date, Content-Length, status line): counted as wire bytes.
RESPONSE_FRAMING = 120

SCHEDULE_FILE = "schedule.json"  # in the bundles directory, next to index.json; signed as "schedule.json"
PROCESSING_DELAY = web.RequestKey("processing_delay", float)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def request_wire_bytes(request: web.Request) -> int:
    line = len(request.method) + len(request.raw_path) + 12
    headers = sum(len(k) + len(v) + 4 for k, v in request.raw_headers)
    return line + headers + 2 + (request.content_length or 0)


def response_wire_bytes(response: web.StreamResponse) -> int:
    body = response.body if isinstance(response, web.Response) else None
    size = len(body) if isinstance(body, bytes | bytearray) else (response.content_length or 0)
    headers = sum(len(k) + len(v) + 4 for k, v in response.headers.items())
    return RESPONSE_FRAMING + headers + size


class Dropped(Exception):
    """The simulated link or a fault closed the connection: no answer reaches the client."""


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
        self.faults = FaultPlan()
        self.link = LinkModel()
        self.content: ContentServer | None = None
        self.publish_sample = publish_sample
        self.editions: list[str] = []
        self.pack_errors: list[str] = []
        self._publishing: set[asyncio.Task[Any]] = set()
        self._publish_lock = asyncio.Lock()
        self.world = world
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
        app.router.add_post("/orders/{kind}", self._post_order)
        app.router.add_post("/telemetry", self._post_telemetry)
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

    async def _processing(self, request: web.Request) -> None:
        delay = request.get(PROCESSING_DELAY, 0.0)
        if delay > 0:
            await asyncio.sleep(delay)

    async def _idempotent(self, request: web.Request, kind: str) -> web.Response:
        key = request.headers.get("Idempotency-Key", "")
        if not key or len(key) > MAX_KEY_LENGTH:
            self.ledger.rejected += 1
            return error(400, f"an Idempotency-Key header of 1..{MAX_KEY_LENGTH} characters is required")
        try:
            payload = json.loads(await request.read())
        except (json.JSONDecodeError, UnicodeDecodeError):
            self.ledger.rejected += 1
            return error(400, "the body is not JSON")
        if not isinstance(payload, dict):
            self.ledger.rejected += 1
            return error(400, "the body must be a JSON object")
        problem = validate(kind, payload)
        if problem:
            self.ledger.rejected += 1
            return error(422, problem)
        try:
            previous = self.ledger.begin(kind, key, payload)
        except KeyConflict:
            return error(422, "this Idempotency-Key was already used with a different request body")
        except KeyInProgress:
            return error(409, "a request with this Idempotency-Key is still being processed")
        if previous is not None:
            return web.json_response(previous.receipt, status=201, headers={"Idempotent-Replayed": "true"})
        try:
            await self._processing(request)
        except BaseException:
            self.ledger.abandon(kind, key)
            raise
        entry = self.ledger.accept(kind, key, payload)
        return web.json_response(entry.receipt, status=201)

    async def _post_order(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        if kind not in ORDER_KINDS:
            return error(404, f"no service for {kind!r} (known: {', '.join(ORDER_KINDS)})")
        if kind == "payment":
            return await self._payment(request)
        return await self._idempotent(request, kind)

    async def _payment(self, request: web.Request) -> web.Response:
        """The processor's answer for one payment; an authorised one is also in the ledger (/ground/received),
        with its payload as forwarded (the JWE, never a card in the clear)."""
        key = request.headers.get("Idempotency-Key", "")
        if not key or len(key) > MAX_KEY_LENGTH:
            return error(400, f"an Idempotency-Key header of 1..{MAX_KEY_LENGTH} characters is required")
        try:
            payload = json.loads(await request.read())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error(400, "the body is not JSON")
        if not isinstance(payload, dict):
            return error(400, "the body must be a JSON object")
        await self._processing(request)
        answer = self.processor.handle(key, payload, fingerprint(payload))
        if answer.status == 201 and f"payment:{key}" not in self.ledger.accepted:
            self.ledger.accept("payment", key, payload)
        return web.json_response(answer.body, status=answer.status, headers=answer.headers)

    async def _post_telemetry(self, request: web.Request) -> web.Response:
        return await self._idempotent(request, "telemetry")

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
        """Pack the sample content of `day` (default: today, then one day later per edition already
        published, so each new edition is visibly new) with the real packer; make it the current bundle."""
        async with self._publish_lock:
            day = day or datetime.now(UTC).date() + timedelta(days=len(self.editions))
            bundle_id = f"content-{day.isoformat()}"
            # The airline's order: pack beside the served tree, sign, and only then make the edition current in
            # the plain index, so an aircraft never reads an index whose targets are not signed yet.
            stage = Path(tempfile.mkdtemp(prefix=".stage-", dir=self.bundles_dir.parent))
            index = self.bundles_dir / "index.json"
            if index.exists():
                shutil.copy2(index, stage / "index.json")
            with tempfile.TemporaryDirectory(prefix="ground-source-") as source:
                src = await asyncio.to_thread(generate, Path(source) / "src", day)
                env = dict(os.environ)
                env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "appliance", "content", "pack", str(src), str(stage / bundle_id),
                    "--bundle-id", bundle_id, "--publish",
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
                )
                out, err = await process.communicate()
            if process.returncode != 0:
                shutil.rmtree(stage, ignore_errors=True)
                problem = f"pack {bundle_id}: exit {process.returncode}: {err.decode(errors='replace').strip()[-300:]}"
                self.pack_errors.append(problem)
                log.warning("%s", problem)
                return {"error": problem}
            try:
                shutil.rmtree(self.bundles_dir / bundle_id, ignore_errors=True)  # the same day packed again
                os.replace(stage / bundle_id, self.bundles_dir / bundle_id)  # served, but not current yet
                older = [f"content/content-{d}" for d in self.editions if f"content-{d}" != bundle_id]
                await self.tuf.publish([self.bundles_dir / bundle_id, stage / "index.json"], "content",
                                       now=self.ground_now(), retire=older)
                os.replace(stage / "index.json", index)  # signed: now the edition is current
                if self.world is not None:  # the schedule, signed with the edition (target "schedule.json")
                    schedule = self.bundles_dir / SCHEDULE_FILE
                    await asyncio.to_thread(schedule.write_text, json.dumps({"legs": self.world.schedule()},
                                                                            sort_keys=True))
                    await self.tuf.publish([schedule], now=self.ground_now())
            except (OSError, RuntimeError) as problem:
                self.pack_errors.append(f"sign {bundle_id}: {problem}")
                return {"error": f"sign {bundle_id}: {problem}"}
            finally:
                shutil.rmtree(stage, ignore_errors=True)
            self.editions.append(day.isoformat())
            result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
            return result

    def _on_world_event(self, event: str, detail: dict[str, Any]) -> None:
        """While an aircraft descends, the content desk publishes the next edition, ready for its landing."""
        if event == "phase" and detail.get("phase") == "descent" and self._runner is not None:
            self._spawn_publish()

    def _spawn_publish(self) -> None:
        task = asyncio.get_running_loop().create_task(self.publish())
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def start(self) -> None:
        await self.tuf.ensure_repo(self.ground_now())  # the root aircraft pin: trust.root
        if self.publish_sample:
            self._spawn_publish()
        self._runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else self.port
        self.url = f"http://{self.host}:{port}"

    async def stop(self) -> None:
        for task in list(self._publishing):
            task.cancel()
        await asyncio.gather(*self._publishing, return_exceptions=True)
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
            "editions": list(self.editions),
            "pack_errors": list(self.pack_errors),
            "tuf": self.tuf.state(),
            "certificates": self.certificates.state(),
        }

    # --- control routes ---------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/ground/received", self._get_received)
        app.router.add_get("/ground/processor", self._get_processor)
        app.router.add_delete("/ground/received", self._delete_received)
        app.router.add_get("/ground/faults", self._get_faults)
        app.router.add_post("/ground/faults", self._post_fault)
        app.router.add_delete("/ground/faults", self._delete_faults)
        app.router.add_put("/ground/link", self._put_link)
        app.router.add_put("/ground/station", self._put_station)
        app.router.add_put("/ground/schedule", self._put_schedule)
        app.router.add_post("/ground/content/publish", self._post_publish)
        app.router.add_get("/ground/tuf", self._get_tuf)
        app.router.add_put("/ground/tuf", self._put_tuf)
        add_certificate_control(app, self.certificates)

    async def _get_received(self, request: web.Request) -> web.Response:
        with_payloads = request.query.get("payloads", "1") not in ("0", "false", "no")
        return web.json_response(self.ledger.report(with_payloads))

    async def _get_processor(self, request: web.Request) -> web.Response:
        return web.json_response(self.processor.report())

    async def _delete_received(self, request: web.Request) -> web.Response:
        self.ledger.clear()
        return web.json_response({"cleared": True})

    async def _get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self.faults.state())

    async def _post_fault(self, request: web.Request) -> web.Response:
        try:
            rule = parse_rule(await _json(request))
        except ValueError as problem:
            return error(400, str(problem))
        self.faults.add(rule)
        return web.json_response(self.faults.state(), status=201)

    async def _delete_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return web.json_response(self.faults.state())

    async def _put_link(self, request: web.Request) -> web.Response:
        try:
            self.link.configure(await _json(request))
        except ValueError as problem:
            return error(400, str(problem))
        return web.json_response(self.link.state())

    async def _put_schedule(self, request: web.Request) -> web.Response:
        """Serve this document at /schedule.json instead of the scenario's flights; null goes back to them."""
        self.schedule_override = await _json(request)
        return web.json_response({"override": self.schedule_override is not None})

    async def _put_station(self, request: web.Request) -> web.Response:
        body = await _json(request)
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
            self.tuf.configure(await _json(request))
        except (ValueError, OSError) as problem:
            return error(400, str(problem))
        return web.json_response(self.tuf.state())

    async def _post_publish(self, request: web.Request) -> web.Response:
        body = await _json(request)
        raw = body.get("day") if isinstance(body, dict) else None
        try:
            day = date.fromisoformat(raw) if raw is not None else None
        except (TypeError, ValueError):
            return error(400, 'expected {"day": "YYYY-MM-DD"} (or no day: the next edition)')
        result = await self.publish(day)
        return web.json_response(result, status=502 if "error" in result else 201)


def validate(kind: str, payload: dict[str, Any]) -> str:
    """What the airline's service would refuse (a permanent 4xx), or ""."""
    if kind in ("email", "password_reset"):
        address = payload.get("email")
        if not isinstance(address, str) or not EMAIL.fullmatch(address):
            return "the e-mail service refuses this address"
    return ""


async def _json(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
