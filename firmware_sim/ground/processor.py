"""The simulated card processor behind the ground station's `POST /orders/payment`.

It holds the private key whose public half every sample bundle carries (`payments/processor.jwk.json`, from
`processor_test_key.json` here: a TEST key, published on purpose, like a processor's test keys). It decrypts
the JWE the passenger's browser made (jwcrypto: RSA-OAEP-256 + A256GCM only), checks that the brand and last
four digits the cabin server forwarded are those of the number inside, and answers by test card number:

  4111 1111 1111 1111, 5555 5555 5555 4444, 3782 822463 10005, 4242 ... 4242   201 authorised
  4000 0000 0000 0002   402 declined (card_declined), for good
  4000 0000 0000 9995   402 declined (insufficient_funds) with Retry-After: 1 (the issuer may accept later)
  4000 0000 0000 0119   500 processing error (a retry may succeed)
  anything else         402 declined (unknown_test_card)

Idempotent per Idempotency-Key: a final answer (authorised, a decline for good) is given again for the same
key and body, never a second charge (`charges[key]` counts authorisations; it never passes 1); a soft decline
or an error is not final, so a retry with the same key is evaluated again.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # jwcrypto (the [test] extra) is imported when a payment arrives, so the sim starts without it
    from jwcrypto import jwk

KEY_FILE = Path(__file__).with_name("processor_test_key.json")
AUTHORISED = {"4111111111111111", "5555555555554444", "378282246310005", "4242424242424242"}
DECLINED = {"4000000000000002": "card_declined"}
SOFT_DECLINED = {"4000000000009995": "insufficient_funds"}
ERRORS = {"4000000000000119": "processing_error"}


def private_key() -> jwk.JWK:
    from jwcrypto import jwk

    return jwk.JWK.from_json(KEY_FILE.read_text(encoding="utf-8"))


def public_jwk() -> dict[str, Any]:
    """The public half, as a bundle carries it."""
    public: dict[str, Any] = json.loads(private_key().export_public())
    return public | {"alg": "RSA-OAEP-256", "use": "enc"}


def brand_of(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in ("34", "37"):
        return "amex"
    if 51 <= int(number[:2] or 0) <= 55 or 2221 <= int(number[:4] or 0) <= 2720:
        return "mastercard"
    return "other"


def decrypt(token: str, key: jwk.JWK | None = None) -> dict[str, Any]:
    """The card the browser encrypted: {"number", "expiry", "cvc", "holder", ...}. Raises ValueError."""
    from jwcrypto import jwe
    from jwcrypto.common import JWException

    try:
        envelope = jwe.JWE(algs=["RSA-OAEP-256", "A256GCM"])
        envelope.deserialize(token, key=key or private_key())
        card = json.loads(envelope.payload)
        header = json.loads(envelope.objects["protected"])
    except (JWException, ValueError, KeyError, TypeError) as problem:
        raise ValueError(f"the card data cannot be decrypted: {type(problem).__name__}") from problem
    if header.get("alg") != "RSA-OAEP-256" or header.get("enc") != "A256GCM" or not isinstance(card, dict):
        raise ValueError("unexpected JWE algorithms")
    return card


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    fingerprint: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Processor:
    key: jwk.JWK | None = None  # loaded with the first payment
    answers: dict[str, Answer] = field(default_factory=dict)  # final answers by Idempotency-Key
    charges: dict[str, int] = field(default_factory=dict)  # key -> authorisations made (never more than 1)
    seen: dict[str, int] = field(default_factory=dict)  # key -> requests received
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> the card decrypted (for tests)

    def handle(self, key: str, payload: dict[str, Any], fingerprint: str) -> Answer:
        self.seen[key] = self.seen.get(key, 0) + 1
        previous = self.answers.get(key)
        if previous is not None:
            if previous.fingerprint != fingerprint:
                return Answer(422, {"error": "this Idempotency-Key was used with another payment"}, fingerprint)
            return Answer(previous.status, previous.body, fingerprint, {"Idempotent-Replayed": "true"})
        answer = self._evaluate(key, payload, fingerprint)
        final = answer.status in (201, 402, 422) and "Retry-After" not in answer.headers
        if final:
            self.answers[key] = answer
        return answer

    def _evaluate(self, key: str, payload: dict[str, Any], fingerprint: str) -> Answer:
        token = payload.get("jwe")
        if not isinstance(token, str):
            return Answer(422, {"error": "no encrypted card"}, fingerprint)
        if self.key is None:
            self.key = private_key()
        try:
            card = decrypt(token, self.key)
        except ValueError as problem:
            return Answer(422, {"error": str(problem)}, fingerprint)
        self.cards[key] = card
        number = str(card.get("number", "")).replace(" ", "")
        if number[-4:] != payload.get("last4") or brand_of(number) != payload.get("brand"):
            return self._declined("card_details_mismatch", fingerprint)
        if number in AUTHORISED:
            self.charges[key] = self.charges.get(key, 0) + 1
            return Answer(201, {"result": "authorised", "authorisation": f"A{len(self.charges):07d}",
                                "amount_minor": payload.get("amount_minor"), "currency": payload.get("currency"),
                                "idempotency_key": key, "at": time.time()}, fingerprint)
        if number in SOFT_DECLINED:
            answer = self._declined(SOFT_DECLINED[number], fingerprint)
            answer.headers["Retry-After"] = "1"
            answer.body["retry_after_s"] = 1
            return answer
        if number in ERRORS:
            return Answer(500, {"result": "error", "error": ERRORS[number]}, fingerprint)
        return self._declined(DECLINED.get(number, "unknown_test_card"), fingerprint)

    @staticmethod
    def _declined(reason: str, fingerprint: str) -> Answer:
        return Answer(402, {"result": "declined", "reason": reason, "error": f"declined: {reason}"}, fingerprint)

    def report(self) -> dict[str, Any]:
        return {"seen": dict(self.seen), "charges": dict(self.charges),
                "answers": {k: {"status": a.status, **a.body} for k, a in self.answers.items()}}
