"""The payments component built alone from its [payments] section, on a real journal outbox and a real content
store with the sample bundle: its status, its health, a bad section refused, a private key in a bundle refused."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from appliance.config import ConfigError
from appliance.content.store import ContentStore
from appliance.core.testing import build_alone
from appliance.metrics import Metrics
from appliance.payments import COMPONENT
from appliance.payments.desk import public_rsa_jwk
from appliance.ports import CONTENT, OUTBOX, PAYMENTS, CardPayment, PaymentRefused
from appliance.storage.component import StorageComponent
from appliance.storage.config import StorageConfig
from appliance.timebase import SystemClock
from firmware_sim.ground.processor import KEY_FILE
from tests.portal.conftest import install_samples


async def test_built_alone_it_takes_a_payment_and_reports_its_exposure(tmp_path: Path) -> None:
    storage = StorageComponent(StorageConfig(dir=str(tmp_path / "state")), SystemClock(), Metrics())
    await storage.start()
    content = ContentStore(tmp_path / "content")
    install_samples(content, tmp_path, date(2026, 11, 23))
    try:
        desk = build_alone(COMPONENT, {"max_per_transaction_minor": 9000},
                           services={OUTBOX: storage.outbox, CONTENT: content})
        assert COMPONENT.provides == (PAYMENTS,)
        assert desk.health().status.value == "pass"
        card = CardPayment("hotel-madrid", 8900, "EUR", "visa", "1111", "10.0.0.7", "jwe")
        await desk.take(card, {"amount_minor": 8900, "brand": "visa", "last4": "1111", "device": "10.0.0.7",
                               "flight_number": "IB1234"}, None)
        with pytest.raises(PaymentRefused) as refused:
            await desk.take(CardPayment("x", 9100, "EUR", "visa", "4444", "10.0.0.8", "jwe"), {}, None)
        assert refused.value.code == "over_transaction_limit" and refused.value.limit_minor == 9000
        status = COMPONENT.status["payments"](desk)
        assert status | {"key": None} == {"enabled": True, "currency": "EUR", "key": None, "hot_cards": 1,
                                          "problem": None, "pending": 1, "exposure_minor": 8900}
        assert status["key"] == "sim-processor-1"
    finally:
        await storage.stop()


def test_a_bad_section_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"payments\.currency"):
        build_alone(COMPONENT, {"currency": "euro"}, services={OUTBOX: object()})
    with pytest.raises(ConfigError, match=r"payments\.key_file"):
        build_alone(COMPONENT, {"key_file": "../outside.json"}, services={OUTBOX: object()})


def test_a_private_key_in_a_bundle_is_refused() -> None:
    private = json.loads(KEY_FILE.read_text())
    with pytest.raises(ValueError, match="private key"):
        public_rsa_jwk(private)
    public = public_rsa_jwk({k: private[k] for k in ("kty", "n", "e", "kid")})
    assert set(public) == {"kty", "n", "e", "kid", "alg", "use"}
