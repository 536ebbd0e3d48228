"""Payments at the ground: delivered before every other kind, the simulated processor's answer kept against
the order (authorised; declined with its reason, dead-lettered; a soft decline retried as the processor says,
then dead-lettered), each key charged once."""

from __future__ import annotations

import time
from typing import Any

from appliance.groundlink.delivery import Delivery
from appliance.metrics import Metrics
from firmware_sim.ground.processor import public_jwk
from tests.groundlink_support import MemoryOutbox, config, ground_client, running_station
from tests.portal.payment_support import VISA_DECLINED, VISA_OK, VISA_SOFT_DECLINE, brand, encrypt


def payment(number: str, amount: int = 8900) -> dict[str, Any]:
    card = {"number": number, "expiry": "12/30", "cvc": "737", "holder": "A Passenger"}
    return {"kind": "payment", "item": "hotel-madrid", "amount_minor": amount, "currency": "EUR",
            "brand": brand(number), "last4": number[-4:], "jwe": encrypt(public_jwk(), card),
            "email": "p@example.com"}


async def test_payments_go_first_and_the_processors_answers_are_kept() -> None:
    outbox = MemoryOutbox()
    booking = await outbox.append("booking", {"item": "hotel-madrid", "email": "p@example.com"})
    ok = await outbox.append("payment", payment(VISA_OK))
    declined = await outbox.append("payment", payment(VISA_DECLINED))
    soft = await outbox.append("payment", payment(VISA_SOFT_DECLINE))
    async with running_station() as station, ground_client(station.url) as client:
        started = time.monotonic()
        report = await Delivery(outbox, client, config(station.url, retries_per_cycle=3), Metrics()).drain()
        assert time.monotonic() - started < 5
        processor = station.processor
        order = [entry.kind for entry in sorted(station.ledger.accepted.values(), key=lambda e: e.number)]
        assert order == ["payment", "booking"]  # the booking waited for the payments
        assert processor.charges == {ok.id: 1}
        assert processor.seen[declined.id] == 1  # a decline for good is not retried
        assert processor.seen[soft.id] == 3  # as the processor said (Retry-After), up to the cycle's tries
        assert processor.cards[ok.id]["number"] == VISA_OK
    assert report.delivered == 2 and report.dead == 2
    assert outbox.delivered[ok.id]["answer"]["result"] == "authorised"
    assert booking.id in outbox.delivered
    reasons = {d["id"]: d["reason"] for d in outbox.dead}
    assert reasons == {declined.id: "HTTP 402: declined: card_declined",
                       soft.id: "HTTP 402: declined: insufficient_funds"}


async def test_a_replayed_payment_is_not_charged_twice() -> None:
    outbox = MemoryOutbox()
    item = await outbox.append("payment", payment(VISA_OK))
    async with running_station() as station, ground_client(station.url) as client:
        delivery = Delivery(outbox, client, config(station.url), Metrics())
        await delivery.deliver(item)
        outbox.items[item.id] = item
        await delivery.deliver(item)  # the answer was lost: the same key again
        assert station.processor.charges == {item.id: 1} and station.processor.seen[item.id] == 2
