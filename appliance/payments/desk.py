"""The PaymentDesk (appliance.ports.PAYMENTS): offline limits, hot cards, and the durable append.

The limits are checked against the payments still pending in the outbox (their payloads carry amount,
currency, card brand and last four digits, device and flight), so they survive a restart with nothing kept
beside the outbox, and a payment counts from the moment its 201 could be sent. The check and the append run
under one lock: two taps at once cannot both fit under a limit that only one fits.

Failure semantics: a refusal (PaymentRefused) stores nothing; a storage refusal (StorageRefused) stores nothing
either; an unreadable key or hot-card file makes card payment unavailable (a refusal with code "unavailable"),
never a payment taken against a list that could not be read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter

from appliance.component import Check
from appliance.payments.config import PaymentsConfig
from appliance.ports import PAYMENTS, CardPayment, ContentView, Outbox, OutboxItem, PaymentRefused

if TYPE_CHECKING:
    from appliance.core.spec import Setup

log = logging.getLogger("appliance.payments")

KIND = "payment"
MAX_FILE_BYTES = 256 * 1024
BRANDS = ("visa", "mastercard", "amex", "discover", "diners", "jcb", "unionpay", "maestro")
B64URL = re.compile(r"[A-Za-z0-9_-]+")


def _read_json(root: Path, relative: str) -> Any:
    """The JSON file `relative` inside `root` (symlinks resolved, never outside); None when absent.
    Raises ValueError when it is there but unreadable or too large."""
    path = root / relative
    try:
        real = path.resolve(strict=True)
        real.relative_to(root.resolve())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as problem:
        raise ValueError(f"{relative}: outside the bundle or unreadable") from problem
    if real.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"{relative}: larger than {MAX_FILE_BYTES} bytes")
    try:
        return json.loads(real.read_bytes())
    except (OSError, ValueError) as problem:
        raise ValueError(f"{relative}: not JSON") from problem


def public_rsa_jwk(document: Any) -> dict[str, Any]:
    """The processor's key as the browser needs it: an RSA public JWK for RSA-OAEP-256. Raises ValueError
    (a private key in a bundle is refused: it must never be on board)."""
    if not isinstance(document, dict) or document.get("kty") != "RSA":
        raise ValueError("the processor key must be an RSA JWK")
    if any(part in document for part in ("d", "p", "q", "dp", "dq", "qi")):
        raise ValueError("the processor key file holds a private key: refused")
    n, e = document.get("n"), document.get("e")
    if not (isinstance(n, str) and B64URL.fullmatch(n) and isinstance(e, str) and B64URL.fullmatch(e)):
        raise ValueError("the processor key needs base64url n and e")
    if len(n) < 342:  # 2048 bits
        raise ValueError("the processor key must be at least 2048 bits")
    kid = document.get("kid")
    key: dict[str, Any] = {"kty": "RSA", "n": n, "e": e, "alg": "RSA-OAEP-256", "use": "enc"}
    if isinstance(kid, str) and 0 < len(kid) <= 128:
        key["kid"] = kid
    return key


def hot_cards(document: Any) -> frozenset[tuple[str, str]]:
    """{"cards": [{"brand": "visa", "last4": "0002"}, ...]} -> {(brand, last4)}. Raises ValueError."""
    if document is None:
        return frozenset()
    cards = document.get("cards") if isinstance(document, dict) else None
    if not isinstance(cards, list):
        raise ValueError("the hot-card list needs a list of cards")
    found: set[tuple[str, str]] = set()
    for card in cards:
        brand = card.get("brand") if isinstance(card, dict) else None
        last4 = card.get("last4") if isinstance(card, dict) else None
        if not isinstance(brand, str) or not isinstance(last4, str) or not re.fullmatch(r"[0-9]{4}", last4):
            raise ValueError("each hot card needs a brand and four last digits")
        found.add((brand.lower(), last4))
    return frozenset(found)


class Desk:
    """Implements ports.PaymentDesk; a component (start, stop, health)."""

    name = "payments"

    def __init__(self, config: PaymentsConfig, outbox: Outbox, content: ContentView | None,
                 taken: Counter | None = None) -> None:
        self.config = config
        self.outbox = outbox
        self.content = content
        self._lock = asyncio.Lock()
        self._cache: tuple[Any, dict[str, Any] | None, frozenset[tuple[str, str]] | None, str] = (None, None,
                                                                                                  None, "")
        self._taken = taken

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def health(self) -> Check:
        key, _, problem = self._bundle()
        if not self.config.enabled:
            return Check.passing("card payment disabled")
        if problem:
            return Check.warning(f"card payment unavailable: {problem}")
        return Check.passing("card payment available" if key else "no processor key in the bundle")

    def _bundle(self) -> tuple[dict[str, Any] | None, frozenset[tuple[str, str]] | None, str]:
        """(public key, hot cards, problem) of the active bundle, re-read when its root or files change."""
        root = self.content.active_root() if self.content is not None else None
        if root is None:
            return None, None, "no content bundle"
        stamp: list[Any] = [str(root)]
        for name in (self.config.key_file, self.config.hot_cards_file):
            try:
                stamp.append((root / name).stat().st_mtime_ns)
            except OSError:
                stamp.append(None)
        if self._cache[0] == stamp:
            return self._cache[1], self._cache[2], self._cache[3]
        key: dict[str, Any] | None = None
        cards: frozenset[tuple[str, str]] | None = None
        problem = ""
        try:
            raw = _read_json(root, self.config.key_file)
            key = public_rsa_jwk(raw) if raw is not None else None
            cards = hot_cards(_read_json(root, self.config.hot_cards_file))
        except ValueError as error:
            problem = str(error)
            key, cards = None, None
            log.warning("payments: %s", problem)
        if not problem and key is None:
            problem = "no processor key in the bundle"
        self._cache = (stamp, key, cards, problem)
        return key, cards, problem

    def public_key(self) -> dict[str, Any] | None:
        if not self.config.enabled:
            return None
        key, cards, _ = self._bundle()
        return key if cards is not None else None

    async def take(self, payment: CardPayment, payload: Mapping[str, Any],
                   request: Mapping[str, Any] | None) -> OutboxItem:
        async with self._lock:
            try:
                self._check(payment, str(payload.get("flight_number") or ""))
            except PaymentRefused as refused:
                if self._taken is not None:
                    self._taken.labels(result=refused.code).inc()
                raise
            item = await self.outbox.append(KIND, payload, request)
        if self._taken is not None:
            self._taken.labels(result="stored").inc()
        return item

    def _check(self, payment: CardPayment, flight: str) -> None:
        config = self.config
        key, cards, problem = self._bundle()
        if not config.enabled or key is None or cards is None:
            raise PaymentRefused("unavailable", f"card payment is not available on board: {problem or 'disabled'}")
        if payment.currency != config.currency:
            raise PaymentRefused("currency", f"only payments in {config.currency} can be taken on board")
        if (payment.brand, payment.last4) in cards:
            raise PaymentRefused("hot_card", "this card cannot be used on board")
        if payment.amount_minor > config.max_per_transaction_minor:
            raise PaymentRefused("over_transaction_limit", "the amount is over the on-board limit per payment",
                                 config.max_per_transaction_minor)
        card = device = total = 0
        for item in self.outbox.pending(KIND):
            p = item.payload
            amount = int(p.get("amount_minor", 0))
            total += amount
            if str(p.get("flight_number") or "") != flight:
                continue
            if p.get("brand") == payment.brand and p.get("last4") == payment.last4:
                card += amount
            if p.get("device") == payment.device:
                device += amount
        if card + payment.amount_minor > config.max_per_card_per_flight_minor:
            raise PaymentRefused("over_card_limit", "this card is over the on-board limit for this flight",
                                 config.max_per_card_per_flight_minor)
        if device + payment.amount_minor > config.max_per_device_per_flight_minor:
            raise PaymentRefused("over_device_limit", "this device is over the on-board limit for this flight",
                                 config.max_per_device_per_flight_minor)
        if total + payment.amount_minor > config.max_flight_exposure_minor:
            raise PaymentRefused("over_flight_limit", "no more card payments can be taken on this flight",
                                 config.max_flight_exposure_minor)

    def status(self) -> dict[str, Any]:
        key, cards, problem = self._bundle()
        pending = self.outbox.pending(KIND)
        return {"enabled": self.config.enabled, "currency": self.config.currency,
                "key": key.get("kid", "present") if key else None, "hot_cards": len(cards or ()),
                "problem": problem or None, "pending": len(pending),
                "exposure_minor": sum(int(i.payload.get("amount_minor", 0)) for i in pending)}


def build(setup: Setup[PaymentsConfig]) -> Desk:
    from appliance import ports

    taken = Counter("appliance_payments_total", "Card payments taken on board or refused, by result.",
                    ["result"], registry=setup.metrics.registry)
    desk = Desk(setup.config, setup.require(ports.OUTBOX), setup.use(ports.CONTENT), taken)
    setup.provide(PAYMENTS, desk)
    return desk
