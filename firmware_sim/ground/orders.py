"""The ground's order desk: the airline's order and telemetry services, each idempotent on its key.

Service listener:
  POST /orders/{kind}   booking | offer | email | password_reset, JSON with an `Idempotency-Key` header (201
                        with a receipt; the same key and body again: the same 201; another body: 422; still
                        processing: 409); `payment` goes to the card processor (firmware_sim/ground/processor.py:
                        201 authorised, 402 declined with a reason, Retry-After on a soft decline, 5xx error)
  POST /telemetry       the appliance's summary, same idempotency rules
Control (the simulator's control listener): GET/DELETE /ground/received (the ledger), GET /ground/processor
(keys seen, authorisations per key, final answers).
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from firmware_sim.ground.ledger import KeyConflict, KeyInProgress, Ledger, fingerprint
from firmware_sim.ground.processor import Processor
from firmware_sim.ground.wire import error, processing

ORDER_KINDS = ("booking", "offer", "email", "password_reset", "payment")  # the outbox kinds
MAX_KEY_LENGTH = 255
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class OrderDesk:
    def __init__(self, ledger: Ledger, processor: Processor) -> None:
        self.ledger = ledger
        self.processor = processor

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
            await processing(request)
        except BaseException:
            self.ledger.abandon(kind, key)
            raise
        entry = self.ledger.accept(kind, key, payload)
        return web.json_response(entry.receipt, status=201)

    async def post_order(self, request: web.Request) -> web.Response:
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
        await processing(request)
        answer = self.processor.handle(key, payload, fingerprint(payload))
        if answer.status == 201 and f"payment:{key}" not in self.ledger.accepted:
            self.ledger.accept("payment", key, payload)
        return web.json_response(answer.body, status=answer.status, headers=answer.headers)

    async def post_telemetry(self, request: web.Request) -> web.Response:
        return await self._idempotent(request, "telemetry")

    # --- control ------------------------------------------------------------------------------------------

    async def get_received(self, request: web.Request) -> web.Response:
        with_payloads = request.query.get("payloads", "1") not in ("0", "false", "no")
        return web.json_response(self.ledger.report(with_payloads))

    async def get_processor(self, request: web.Request) -> web.Response:
        return web.json_response(self.processor.report())

    async def delete_received(self, request: web.Request) -> web.Response:
        self.ledger.clear()
        return web.json_response({"cleared": True})


def validate(kind: str, payload: dict[str, Any]) -> str:
    """What the airline's service would refuse (a permanent 4xx), or ""."""
    if kind in ("email", "password_reset"):
        address = payload.get("email")
        if not isinstance(address, str) or not EMAIL.fullmatch(address):
            return "the e-mail service refuses this address"
    return ""


def add_order_routes(app: web.Application, desk: OrderDesk) -> None:
    app.router.add_post("/orders/{kind}", desk.post_order)
    app.router.add_post("/telemetry", desk.post_telemetry)


def add_order_control(app: web.Application, desk: OrderDesk) -> None:
    app.router.add_get("/ground/received", desk.get_received)
    app.router.add_get("/ground/processor", desk.get_processor)
    app.router.add_delete("/ground/received", desk.delete_received)
