"""Helpers for the payment tests: a card encrypted as the browser does (here with jwcrypto, to the bundle's
public key), a payment request, the processor's test cards."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp
from jwcrypto import jwe, jwk

VISA_OK = "4111111111111111"
MASTERCARD_OK = "5555555555554444"
VISA_DECLINED = "4000000000000002"
VISA_SOFT_DECLINE = "4000000000009995"
VISA_HOT = "4000000000000341"  # on the sample bundle's hot-card list (visa, 0341)


def brand(number: str) -> str:
    return "visa" if number.startswith("4") else "amex" if number[:2] in ("34", "37") else "mastercard"


def encrypt(public: dict[str, Any], card: dict[str, Any]) -> str:
    token = jwe.JWE(json.dumps(card).encode(), protected=json.dumps({"alg": "RSA-OAEP-256", "enc": "A256GCM",
                                                                       "kid": public.get("kid")}))
    token.add_recipient(jwk.JWK(**{k: public[k] for k in ("kty", "n", "e")}))
    return str(token.serialize(compact=True))


async def public_key(session: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with session.get(base + "/api/v1/payments/key") as r:
        assert r.status == 200, await r.text()
        key: dict[str, Any] = await r.json()
        return key


def body(public: dict[str, Any], number: str = VISA_OK, *, item: str = "hotel-madrid", quantity: int = 1,
         price_minor: int = 8900, **extra: Any) -> dict[str, Any]:
    card = {"number": number, "expiry": "12/30", "cvc": "737", "holder": "A Passenger"}
    return {"item": item, "quantity": quantity, "amount_minor": price_minor * quantity, "currency": "EUR",
            "jwe": encrypt(public, card), "brand": brand(number), "last4": number[-4:],
            "email": "passenger@example.com", "lang": "en"} | extra


async def pay(session: aiohttp.ClientSession, base: str, document: dict[str, Any],
              key: str | None = None) -> tuple[int, dict[str, Any], str]:
    key = key or str(uuid.uuid4())
    async with session.post(base + "/api/v1/payments", json=document, headers={"Idempotency-Key": key}) as r:
        return r.status, await r.json(), key


async def mine(session: aiohttp.ClientSession, base: str, receipts: list[str]) -> dict[str, Any]:
    async with session.post(base + "/api/v1/orders/mine", json={"receipts": receipts}) as r:
        assert r.status == 200, await r.text()
        result: dict[str, Any] = await r.json()
        return result
