"""Card payments on a real portal (real storage, the sample bundle's processor key and hot cards, the real payment
desk): what is stored, the offline limits and hot cards refused with a reason and nothing stored, the price
checked against the catalog, My orders only for the holder of a receipt, across a restart of storage."""

from __future__ import annotations

import uuid
from pathlib import Path

import aiohttp
import jsonschema_rs  # what schemathesis validates with
import pytest

from appliance.payments.config import PaymentsConfig
from appliance.portal.openapi import document
from appliance.storage.component import StorageComponent
from appliance.storage.config import StorageConfig
from appliance.timebase import SystemClock
from firmware_sim.ground.processor import decrypt
from tests.portal.conftest import PortalRig, running_rig
from tests.portal.payment_support import (
    MASTERCARD_OK,
    VISA_HOT,
    VISA_OK,
    body,
    mine,
    pay,
    public_key,
)


async def test_a_payment_is_stored_with_only_the_jwe_amount_brand_and_last_four(rig: PortalRig) -> None:
    async with aiohttp.ClientSession() as s:
        public = await public_key(s, rig.base)
        assert "d" not in public and public["alg"] == "RSA-OAEP-256"
        document = body(public, quantity=2)
        status, answer, key = await pay(s, rig.base, document)
        assert status == 201, answer
        assert answer | {"id": "x"} == {"id": "x", "kind": "payment", "status": "queued", "delivery": "after_landing",
                                        "amount_minor": 17800, "currency": "EUR", "brand": "visa", "last4": "1111"}
        (item,) = rig.storage.outbox.pending("payment")
        assert item.id == answer["id"]
        assert set(item.payload) == {"kind", "item", "item_title", "quantity", "per", "amount_minor", "currency",
                                     "brand", "last4", "jwe", "email", "seat", "lang", "flight_number", "device"}
        assert VISA_OK not in str(item.payload) and "737" not in str(item.payload).replace(item.payload["jwe"], "")
        assert decrypt(item.payload["jwe"])["number"] == VISA_OK  # only the processor's key opens it
        again = await pay(s, rig.base, document, key)  # a lost 201: the same answer, nothing more stored
        assert again[0] == 201 and again[1]["id"] == answer["id"]
        assert len(rig.storage.outbox.pending("payment")) == 1
        listed = await mine(s, rig.base, [key])
        (order,) = listed["orders"]
        assert order["state"] == "stored" and order["amount_minor"] == 17800 and order["last4"] == "1111"
        assert order["title"] == "Hotel in Madrid: 20% off"


@pytest.mark.parametrize(("config", "first", "second", "reason"), [
    ({"max_per_transaction_minor": 10000}, None, {"quantity": 2}, "over_transaction_limit"),
    ({"max_per_card_per_flight_minor": 10000}, {}, {}, "over_card_limit"),
    ({"max_per_device_per_flight_minor": 10000}, {}, {"number": MASTERCARD_OK}, "over_device_limit"),
    ({"max_flight_exposure_minor": 10000}, {}, {"number": MASTERCARD_OK}, "over_flight_limit"),
    ({}, None, {"number": VISA_HOT}, "hot_card"),
    ({"currency": "USD"}, None, {}, "currency"),
])
async def test_over_a_limit_or_a_hot_card_is_refused_with_the_reason_and_nothing_stored(
        tmp_path: Path, config: dict[str, object], first: dict[str, object] | None, second: dict[str, object],
        reason: str) -> None:
    async with running_rig(tmp_path, payments=PaymentsConfig(**config)) as rig, aiohttp.ClientSession() as s:  # type: ignore[arg-type]
        public = await public_key(s, rig.base)
        if first is not None:
            status, answer, _ = await pay(s, rig.base, body(public, **first))  # type: ignore[arg-type]
            assert status == 201, answer
        before = len(rig.storage.outbox.pending())
        status, answer, key = await pay(s, rig.base, body(public, **second))  # type: ignore[arg-type]
        assert status == 422 and answer["reason"] == reason and answer["field"] == "card", answer
        assert len(rig.storage.outbox.pending()) == before
        assert (await mine(s, rig.base, [key]))["orders"] == []


async def test_the_amount_must_be_the_catalogs_and_the_jwe_well_formed(rig: PortalRig) -> None:
    async with aiohttp.ClientSession() as s:
        public = await public_key(s, rig.base)
        status, answer, _ = await pay(s, rig.base, body(public, price_minor=100))
        assert status == 422 and answer["field"] == "amount_minor" and answer["expected_minor"] == 8900
        status, answer, _ = await pay(s, rig.base, body(public) | {"jwe": "a.b.c.d.e"})
        assert status == 422 and answer["field"] == "jwe"
        status, answer, _ = await pay(s, rig.base, body(public, item="transfer", price_minor=4000))
        assert status == 422 and answer["field"] == "item"  # an old bundle's free text: requested, not paid
        status, answer, _ = await pay(s, rig.base, body(public) | {"number": VISA_OK})
        assert status == 422 and answer["field"] == "number"  # a card number is never taken in the clear
        async with s.post(rig.base + "/api/v1/payments", json=body(public)) as r:
            assert r.status == 400 and (await r.json())["field"] == "Idempotency-Key"
    assert rig.storage.outbox.pending() == []


async def test_my_orders_only_for_the_holder_of_a_receipt_and_after_a_restart(rig: PortalRig) -> None:
    async with aiohttp.ClientSession() as s:
        public = await public_key(s, rig.base)
        _, mine_answer, my_key = await pay(s, rig.base, body(public))
        _, other_answer, other_key = await pay(s, rig.base, body(public, MASTERCARD_OK))
        listed = await mine(s, rig.base, [my_key, mine_answer["id"], "short", str(uuid.uuid4())])
        assert [o["id"] for o in listed["orders"]] == [mine_answer["id"]]  # not by id, nor a guessed key
        assert len(listed["unknown"]) == 3 and other_answer["id"] not in str(listed)
        async with s.post(rig.base + "/api/v1/orders/mine", json={"receipts": [my_key] * 51}) as r:
            assert r.status == 422
        # storage restarts (journal recovery): the receipts still find their orders
        await rig.storage.stop()
        storage = StorageComponent(StorageConfig(dir=str(rig.tmp / "state")), SystemClock(), rig.metrics)
        await storage.start()
        rig.storage = storage
        rig.services.outbox = storage.outbox
        assert rig.desk is not None
        rig.desk.outbox = storage.outbox
        listed = await mine(s, rig.base, [my_key, other_key])
        assert {o["id"] for o in listed["orders"]} == {mine_answer["id"], other_answer["id"]}
        assert {o["state"] for o in listed["orders"]} == {"stored"}


def conforms(path: str, method: str, status: int, body: object) -> None:
    """`body` is valid under the OpenAPI document's schema for that answer (refs resolved in the document)."""
    spec = document()
    operation = spec["paths"][path][method]
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    jsonschema_rs.Draft202012Validator({**schema, "components": spec["components"]}).validate(body)


def request_conforms(path: str, body: object) -> None:
    spec = document()
    schema = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    jsonschema_rs.Draft202012Validator({**schema, "components": spec["components"]},
                                       validate_formats=True).validate(body)


async def test_every_new_request_and_answer_is_as_the_openapi_document_says(tmp_path: Path) -> None:
    async with running_rig(tmp_path, payments=PaymentsConfig(max_per_card_per_flight_minor=10000)) as rig, \
            aiohttp.ClientSession() as s:
        async with s.get(rig.base + "/api/v1/payments/key") as r:
            public = await r.json()
            conforms("/api/v1/payments/key", "get", r.status, public)
        document_ = body(public)
        request_conforms("/api/v1/payments", document_)
        status, answer, key = await pay(s, rig.base, document_)
        conforms("/api/v1/payments", "post", status, answer)
        status, answer, _ = await pay(s, rig.base, body(public))  # over the card's limit
        assert status == 422
        conforms("/api/v1/payments", "post", status, answer)
        request_conforms("/api/v1/orders/mine", {"receipts": [key]})
        async with s.post(rig.base + "/api/v1/orders/mine", json={"receipts": [key, "x" * 20]}) as r:
            conforms("/api/v1/orders/mine", "post", r.status, await r.json())
        async with s.get(rig.base + "/api/v1/catalog") as r:
            catalog = await r.json()
            conforms("/api/v1/catalog", "get", r.status, catalog)
            assert {i["id"]: i.get("mode") for i in catalog["items"] if i["kind"] == "offer"} == {
                "hotel-madrid": "booked", "lounge-pass": "bought", "transfer": "requested",
                "duty-free-scarf": "bought"}
