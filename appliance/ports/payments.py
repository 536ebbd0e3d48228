"""The payments component's port (PAYMENTS): offline card payments into the outbox."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from appliance.ports.storage import OutboxItem

# --- payments -> portal ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CardPayment:
    """A card payment as the cabin server may know it: never the number, CVC or expiry (they travel only
    inside `jwe`, encrypted in the passenger's browser to the processor's key)."""

    item: str
    amount_minor: int
    currency: str
    brand: str
    last4: str
    device: str  # the client's address on the cabin network (the per-device limit)
    jwe: str


class PaymentRefused(Exception):
    """Over an offline limit, a hot card, or payments unavailable: `code` names it for the passenger's language
    (`payment_refused_<code>` in the app's strings), the message is English; nothing was stored."""

    def __init__(self, code: str, message: str, limit_minor: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.limit_minor = limit_minor


class PaymentDesk(Protocol):
    def public_key(self) -> dict[str, Any] | None:
        """The processor's public JWK from the active bundle (None: card payment is unavailable)."""
        ...

    async def take(self, payment: CardPayment, payload: Mapping[str, Any],
                   request: Mapping[str, Any] | None) -> OutboxItem:
        """Check the offline limits and the hot-card list, then append the payment to the outbox (kind
        "payment"), durable when it returns; checks and append are one step (two payments at once cannot both
        pass a limit only one fits). Raises PaymentRefused (nothing stored) or StorageRefused."""
        ...
