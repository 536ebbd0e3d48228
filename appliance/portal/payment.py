"""`POST /api/v1/payments` (a card payment for a catalog item, taken offline) and `GET /api/v1/payments/key`
(the processor's public key the browser encrypts the card to).

The browser validates the card (Luhn, expiry against the flight's date, brand), encrypts it as a compact JWE
(RSA-OAEP-256 + A256GCM) to the processor's key, and sends only the JWE, the brand and the last four digits
with the item and the amount it showed. The server checks the JWE's shape and header (it cannot read it), that
the amount is the catalog's, then the payment desk's offline limits and hot cards (appliance/payments), and
appends it to the outbox (kind "payment") before the 201. Idempotency-Key as for orders (ordering.py): the same
key and body answer the first 201 again, even after a restart.

Failure semantics: every refusal (4xx, 503) stores nothing. Over a limit: 422 with `reason` (a code the app
shows in the passenger's language) and `limit_minor`.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from typing import Any

from aiohttp import web

from appliance.jsonhttp import BadJSON, parse_json
from appliance.portal.i18n import LANGUAGES
from appliance.portal.metrics import PortalMetrics
from appliance.portal.ordering import HEADER, KEY_RE, NO_STORE, body_digest, key_digest
from appliance.portal.orders import EMAIL_RE, SEAT_RE
from appliance.portal.security import json_error
from appliance.portal.services import Services, services_of
from appliance.ports import CardPayment, PaymentRefused, StorageRefused

log = logging.getLogger("appliance.portal.payments")

FIELDS = {"item", "quantity", "amount_minor", "currency", "jwe", "brand", "last4", "email", "lang", "seat"}
REQUIRED = ("item", "amount_minor", "currency", "jwe", "brand", "last4", "email")
BRANDS = ("visa", "mastercard", "amex", "discover", "diners", "jcb", "unionpay", "maestro")
B64URL = r"[A-Za-z0-9_-]"
# header . encrypted key (RSA-2048..4096) . IV (96 bits) . ciphertext . tag (128 bits)
JWE_RE = re.compile(rf"({B64URL}{{20,400}})\.({B64URL}{{300,700}})\.({B64URL}{{16}})\.({B64URL}{{20,1600}})"
                    rf"\.({B64URL}{{22}})")
MAX_QUANTITY = 9


class Invalid(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def _header(token: str) -> dict[str, Any]:
    match = JWE_RE.fullmatch(token)
    if match is None:
        raise Invalid("jwe must be a compact JWE (five base64url parts)", "jwe")
    part = match.group(1)
    try:
        header = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError) as problem:
        raise Invalid("the JWE's header is not base64url JSON", "jwe") from problem
    if not isinstance(header, dict) or header.get("alg") != "RSA-OAEP-256" or header.get("enc") != "A256GCM":
        raise Invalid("the JWE must be RSA-OAEP-256 with A256GCM", "jwe")
    return header


def validate(document: Any) -> dict[str, Any]:
    """The payment request's fields, checked. Raises Invalid."""
    if not isinstance(document, dict):
        raise Invalid("the body must be a JSON object", "body")
    unknown = set(document) - FIELDS
    if unknown:
        raise Invalid(f"unknown field(s): {', '.join(sorted(unknown))[:200]}", sorted(unknown)[0][:40])
    for name in REQUIRED:
        if name not in document:
            raise Invalid(f"{name} is required", name)
    item, amount, currency = document["item"], document["amount_minor"], document["currency"]
    if not isinstance(item, str) or not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", item):
        raise Invalid("item must be a catalog id", "item")
    quantity = document.get("quantity", 1)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise Invalid(f"quantity must be 1 to {MAX_QUANTITY}", "quantity")
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= 10**9:
        raise Invalid("amount_minor must be a positive integer (minor units)", "amount_minor")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise Invalid("currency must be an ISO 4217 code", "currency")
    if not isinstance(document["jwe"], str):
        raise Invalid("jwe must be a string", "jwe")
    _header(document["jwe"])
    if document["brand"] not in BRANDS:
        raise Invalid(f"brand must be one of {', '.join(BRANDS)}", "brand")
    last4 = document["last4"]
    if not isinstance(last4, str) or not re.fullmatch(r"[0-9]{4}", last4):
        raise Invalid("last4 must be four digits", "last4")
    email = document["email"]
    if not isinstance(email, str) or len(email) > 254 or not EMAIL_RE.fullmatch(email):
        raise Invalid("email must be a valid e-mail address", "email")
    seat = document.get("seat")
    if seat is not None and (not isinstance(seat, str) or not SEAT_RE.fullmatch(seat.strip().upper())):
        raise Invalid("seat must be a row number and a letter, like 12A", "seat")
    lang = document.get("lang", "en")
    if lang not in LANGUAGES:
        raise Invalid(f"lang must be one of {', '.join(LANGUAGES)}", "lang")
    return {"item": item, "quantity": quantity, "amount_minor": amount, "currency": currency,
            "jwe": document["jwe"], "brand": document["brand"], "last4": last4, "email": email,
            "seat": seat.strip().upper() if isinstance(seat, str) else None, "lang": lang}


def _invalid(message: str, field: str, status: int = 422, **extra: Any) -> web.Response:
    return web.json_response({"error": message, "field": field, **extra}, status=status, headers=NO_STORE)


async def public_key(request: web.Request) -> web.Response:
    services = services_of(request)
    key = services.payments.public_key() if services.payments is not None else None
    if key is None:
        return json_error(404, "card payment is not available on board")
    return web.json_response(key, headers={"Cache-Control": "no-cache"})


async def payments(request: web.Request) -> web.Response:
    if request.content_type != "application/json":
        return json_error(415, "send the payment as application/json")
    try:
        document = parse_json(await request.read())
    except BadJSON as error:
        return json_error(400, str(error))
    key = request.headers.get(HEADER)
    if key is None or not KEY_RE.fullmatch(key):
        return _invalid(f"a payment needs an {HEADER} of 1 to 255 visible ASCII characters", HEADER, 400)
    digest = key_digest(key)
    services = services_of(request)
    async with services.order_keys.hold(digest):
        return await _take(request, services, document, digest)


async def _take(request: web.Request, services: Services, document: Any, key: str) -> web.Response:
    body_hash = body_digest(document)
    if services.outbox is not None:
        found = services.outbox.find_request(key)
        if found is not None:
            earlier, kept = found
            if kept.get("body") != body_hash:
                return _invalid(f"this {HEADER} was already used for another order; send a new key", HEADER)
            return web.json_response({"id": earlier.id, **kept.get("answer", {})}, status=201,
                                     headers={**NO_STORE, "Idempotent-Replayed": "true"})
    try:
        fields = validate(document)
    except Invalid as problem:
        return _invalid(str(problem), problem.field)
    desk = services.payments
    if desk is None or services.outbox is None:
        return _invalid("card payment is not available on board", "item", 503, reason="unavailable")
    root = services.content.active_root() if services.content is not None else None
    entry = services.catalogs.load(root).get(fields["item"])
    if entry is None:
        return _invalid("item is not in the catalog on board", "item")
    price = entry.get("price_value")
    if not entry.get("payable") or price is None:
        return _invalid("this item cannot be paid for on board", "item")
    expected = int(price["amount_minor"]) * fields["quantity"]
    if fields["amount_minor"] != expected or fields["currency"] != price["currency"]:
        return _invalid(f"the price is {expected} {price['currency']} (minor units): reload the offer",
                        "amount_minor", expected_minor=expected)
    wait = services.limiter.allow(request.remote or "")
    if wait > 0:
        return json_error(429, "too many orders from this device; try again later",
                          {"Retry-After": str(max(1, round(wait)))})
    titles: dict[str, str] = entry["title"]
    title = titles.get(fields["lang"]) or titles.get("en") or next(iter(titles.values()))
    device = request.remote or ""
    card = CardPayment(item=fields["item"], amount_minor=expected, currency=fields["currency"],
                       brand=fields["brand"], last4=fields["last4"], device=device, jwe=fields["jwe"])
    answer = {"kind": "payment", "status": "queued",
              "delivery": "now" if services.delivers_now() else "after_landing",
              "amount_minor": expected, "currency": fields["currency"], "brand": fields["brand"],
              "last4": fields["last4"]}
    payload = {"kind": "payment", "item": fields["item"], "item_title": title, "quantity": fields["quantity"],
               "per": price["per"], "amount_minor": expected, "currency": fields["currency"],
               "brand": fields["brand"], "last4": fields["last4"], "jwe": fields["jwe"], "email": fields["email"],
               "seat": fields["seat"], "lang": fields["lang"], "flight_number": services.report.flight_number(),
               "device": device}
    try:
        stored = await desk.take(card, payload, {"key": key, "body": body_hash, "answer": answer})
    except PaymentRefused as refused:
        services.metrics.of(PortalMetrics).portal_orders.labels(kind="payment", result="refused").inc()
        return _invalid(str(refused), "card", reason=refused.code, limit_minor=refused.limit_minor)
    except StorageRefused:
        services.orders_refused += 1
        return json_error(503, "your payment could not be stored just now; please try again", {"Retry-After": "10"})
    services.orders_accepted += 1
    services.metrics.of(PortalMetrics).portal_orders.labels(kind="payment", result="stored").inc()
    log.info("payment %s stored", stored.id)
    return web.json_response({"id": stored.id, **answer}, status=201, headers=NO_STORE)
