"""[payments]: what may be taken offline, per airline."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class PaymentsConfig:
    """[payments]: offline limits, in minor units (cents) of `currency`; a payment in another currency is
    refused on board. "Per flight" counts the payments still waiting for the ground (their offline exposure):
    once the processor has answered, a payment no longer counts."""

    enabled: bool = True
    currency: str = "EUR"  # ISO 4217
    max_per_transaction_minor: int = 50_000
    max_per_card_per_flight_minor: int = 80_000  # a card is its brand and last four digits, nothing more
    max_per_device_per_flight_minor: int = 100_000  # the client's address on the cabin network
    max_flight_exposure_minor: int = 2_000_000  # all payments not yet authorised, together
    key_file: str = "payments/processor.jwk.json"  # in the active bundle: the processor's public key (JWK)
    hot_cards_file: str = "payments/hot-cards.json"  # in the active bundle: {"cards": [{"brand", "last4"}]}

    def validate(self) -> None:
        """Raises ValueError(key, message)."""
        if not re.fullmatch(r"[A-Z]{3}", self.currency):
            raise ValueError("currency", "must be an ISO 4217 code such as EUR")
        for key in ("max_per_transaction_minor", "max_per_card_per_flight_minor",
                    "max_per_device_per_flight_minor", "max_flight_exposure_minor"):
            if getattr(self, key) < 0:
                raise ValueError(key, "must not be negative")
        for key in ("key_file", "hot_cards_file"):
            value = getattr(self, key)
            if not value or value.startswith("/") or ".." in value.split("/"):
                raise ValueError(key, "must be a path inside the bundle")
