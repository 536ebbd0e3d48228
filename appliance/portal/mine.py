"""`POST /api/v1/orders/mine`: what became of the orders this passenger placed, and of nobody else's.

A passenger's proof of an order is the `Idempotency-Key` their browser made for it (128 random bits from
crypto.getRandomValues, kept in localStorage and in the page's URL fragment: the captive mini-browser keeps no
cookies). The server keeps only its SHA-256 (ordering.py), so it can tell the holder of a key their order but
cannot list anyone's, and nothing is found by an order's id: there is no enumeration, and another device has
nothing to show unless it was given the keys. Keys are found for two days (appliance.storage.outbox).

States: `stored` (durable on board), `sent` (tried at the ground, not yet answered), `confirmed` (the ground or
the card processor accepted it), `declined` (the processor declined: `reason`), `failed` (refused for good).

Failure semantics: a body that is not {"receipts": [...]} is a 400/422; unknown, forgotten or too short keys are
listed under `unknown` (nothing says whether they ever existed).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from appliance.jsonhttp import BadJSON, parse_json
from appliance.portal.ordering import KEY_RE, NO_STORE, key_digest
from appliance.portal.security import json_error
from appliance.portal.services import services_of

MAX_RECEIPTS = 50
MIN_KEY_LENGTH = 16  # shorter keys (old clients) are guessable: they show nothing
DECLINE_RE = re.compile(r"declined: ([a-z_]{1,40})")


def passenger_state(kind: str, progress: dict[str, Any]) -> tuple[str, str | None]:
    """(state, reason) for the passenger from the outbox's progress."""
    state = progress["state"]
    if state == "pending":
        return ("sent" if progress["attempts"] > 0 else "stored"), None
    if state == "delivered":
        return "confirmed", None
    reason = str(progress.get("reason") or "")
    match = DECLINE_RE.search(reason)
    if kind == "payment" and match is not None:
        return "declined", match.group(1)
    return "failed", None


def view(key: str, item: Any, progress: dict[str, Any]) -> dict[str, Any]:
    payload = item.payload
    state, reason = passenger_state(item.kind, progress)
    out: dict[str, Any] = {
        "receipt": key, "id": item.id, "kind": item.kind, "item": payload.get("item"),
        "title": payload.get("item_title"),
        "created": datetime.fromtimestamp(item.created_wall, UTC).isoformat().replace("+00:00", "Z"),
        "state": state, "reason": reason,
    }
    if item.kind == "payment":
        out |= {k: payload.get(k) for k in ("amount_minor", "currency", "brand", "last4", "quantity")}
        receipt = progress.get("receipt") or {}
        answer = receipt.get("answer") if isinstance(receipt, dict) else None
        if state == "confirmed" and isinstance(answer, dict) and isinstance(answer.get("authorisation"), str):
            out["authorisation"] = answer["authorisation"][:40]
    return out


async def mine(request: web.Request) -> web.Response:
    if request.content_type != "application/json":
        return json_error(415, "send {\"receipts\": [...]} as application/json")
    try:
        document = parse_json(await request.read())
    except BadJSON as error:
        return json_error(400, str(error))
    receipts = document.get("receipts") if isinstance(document, dict) and set(document) == {"receipts"} else None
    if not isinstance(receipts, list) or len(receipts) > MAX_RECEIPTS or not all(
            isinstance(r, str) for r in receipts):
        return web.json_response({"error": f"expected {{\"receipts\": [up to {MAX_RECEIPTS} strings]}}",
                                  "field": "receipts"}, status=422, headers=NO_STORE)
    outbox = services_of(request).outbox
    orders: list[dict[str, Any]] = []
    unknown: list[str] = []
    for key in dict.fromkeys(receipts):
        found = None
        if outbox is not None and len(key) >= MIN_KEY_LENGTH and KEY_RE.fullmatch(key):
            found = outbox.find_request(key_digest(key))
        progress = outbox.progress(found[0].id) if found is not None and outbox is not None else None
        if found is None or progress is None:
            unknown.append(key)
            continue
        orders.append(view(key, found[0], progress))
    orders.sort(key=lambda o: o["created"], reverse=True)
    return web.json_response({"orders": orders, "unknown": unknown}, headers=NO_STORE)
