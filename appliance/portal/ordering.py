"""`POST /api/v1/orders`: validate, check against the catalog, rate-limit, store durably, answer 201; exactly once
per `Idempotency-Key`.

Exactly once starts at the passenger's tap: the app sends a fresh `Idempotency-Key` with each order and the same
one on every retry of it. The key (as a SHA-256 digest), a digest of the body and the 201's body are written with
the outbox item in the same journal record (appliance.storage.outbox), so after a restart the same key with the
same body answers the original 201 again (header `Idempotent-Replayed: true`), and the same key with another
body answers 422. Keys are kept two days (REQUEST_KEEP_S there). Two requests with one key at once are taken
one after the other (KeyLocks), so the second sees the first's item. Without the header an order is stored each
time it is sent (the contract's old clients).

Failure semantics: nothing is stored unless the 201 is sent (a 4xx/429/503 stores nothing and keeps no key, so a
retry with the same key is a fresh attempt); a 201 lost on the way is found again by its key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import Any

from aiohttp import web

from appliance.jsonhttp import BadJSON, parse_json
from appliance.portal.i18n import LANGUAGES
from appliance.portal.metrics import PortalMetrics
from appliance.portal.orders import ITEM_KINDS, OrderError, validate
from appliance.portal.security import json_error
from appliance.portal.services import services_of
from appliance.ports import StorageRefused

log = logging.getLogger("appliance.portal.orders")

HEADER = "Idempotency-Key"
KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII, as the IETF draft's examples and Stripe's
NO_STORE = {"Cache-Control": "no-store"}


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def body_digest(document: Any) -> str:
    """The same JSON document, however it was spaced or its keys ordered, has the same digest."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _invalid(error: OrderError) -> web.Response:
    body: dict[str, str] = {"error": str(error)}
    if error.field:
        body["field"] = error.field
    return web.json_response(body, status=422, headers=NO_STORE)


async def orders(request: web.Request) -> web.Response:
    if request.content_type != "application/json":
        return json_error(415, "send the order as application/json")
    raw = await request.read()
    try:
        document = parse_json(raw)  # depth-limited: a 2,000-deep body is a 400, never a RecursionError
    except BadJSON as error:
        return json_error(400, str(error))
    key = request.headers.get(HEADER)
    if key is None:
        return await _place(request, document, None)
    if not KEY_RE.fullmatch(key):
        response = json_error(400, f"{HEADER} must be 1 to 255 visible ASCII characters")
        response.text = json.dumps({"error": f"{HEADER} must be 1 to 255 visible ASCII characters",
                                    "field": HEADER})
        return response
    digest = key_digest(key)
    async with services_of(request).order_keys.hold(digest):
        return await _place(request, document, digest)


async def _place(request: web.Request, document: Any, key: str | None) -> web.Response:
    services = services_of(request)
    outbox = services.outbox
    body_hash = body_digest(document)
    if key is not None and outbox is not None:
        found = outbox.find_request(key)
        if found is not None:
            earlier, kept = found
            if kept.get("body") != body_hash:
                return web.json_response(
                    {"error": f"this {HEADER} was already used for another order; send a new key",
                     "field": HEADER}, status=422, headers=NO_STORE)
            log.info("order %s answered again (same %s)", earlier.id, HEADER)
            return web.json_response({"id": earlier.id, **kept.get("answer", {})}, status=201,
                                     headers={**NO_STORE, "Idempotent-Replayed": "true"})
    try:
        order = validate(document, LANGUAGES)
    except OrderError as error:
        return _invalid(error)
    if order.kind == "password_reset" and not services.ground:
        return json_error(403, "password reset needs a connection: it is available on the ground only")
    title: str | None = None
    if order.kind in ITEM_KINDS:
        root = services.content.active_root() if services.content is not None else None
        entry = services.catalogs.load(root).get(order.item or "")
        if entry is None:
            return json_error(422, "item is not in the catalog on board")
        if order.kind not in entry["orders"]:
            takes = ", ".join(entry["orders"]) or "no orders"
            return _invalid(OrderError(f"this item does not take a {order.kind} (it takes: {takes})", "kind"))
        titles: dict[str, str] = entry["title"]
        title = titles.get(order.lang) or titles.get("en") or next(iter(titles.values()))
    wait = services.limiter.allow(request.remote or "")
    if wait > 0:
        return json_error(429, "too many orders from this device; try again later",
                          {"Retry-After": str(max(1, round(wait)))})
    if outbox is None:
        return json_error(503, "orders cannot be stored right now")
    answer = {"kind": order.kind, "status": "queued", "delivery": "now" if services.delivers_now() else "after_landing"}
    kept_request = {"key": key, "body": body_hash, "answer": answer} if key is not None else None
    try:
        stored = await outbox.append(order.kind, order.payload(title, services.report.flight_number()), kept_request)
    except StorageRefused:
        services.orders_refused += 1
        services.metrics.of(PortalMetrics).portal_orders.labels(kind=order.kind, result="refused").inc()
        log.warning("order refused by storage (kind %s)", order.kind)
        return json_error(503, "your request could not be stored just now; please try again",
                          {"Retry-After": "10"})
    services.orders_accepted += 1
    services.metrics.of(PortalMetrics).portal_orders.labels(kind=order.kind, result="stored").inc()
    log.info("order %s stored (kind %s)", stored.id, order.kind)
    return web.json_response({"id": stored.id, **answer}, status=201, headers=NO_STORE)
