"""Passenger orders: validated, rate-limited per client, written durably to the outbox before the 201.

Kinds: `booking`, `offer`, `email` ("send me this") need an `item` of the active catalog; `password_reset`
(ground profile only: an online feature) needs only the e-mail. The passenger's e-mail goes into the outbox
payload (it is needed to deliver) and nowhere else: not in logs, not in metric labels.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from appliance.ports import OUTBOX_KINDS
from appliance.timebase import Clock

KINDS = OUTBOX_KINDS
ITEM_KINDS = ("booking", "offer", "email")
# whole strings only (fullmatch): `$` alone also matches before a final newline
EMAIL_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
SEAT_RE = re.compile(r"[1-9][0-9]{0,2}[A-K]")
FIELDS = {"kind", "item", "email", "seat", "lang"}


class OrderError(ValueError):
    """A bad order: the message is safe to show (it never echoes the e-mail)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Order:
    kind: str
    item: str | None
    email: str
    seat: str | None
    lang: str

    def payload(self, item_title: str | None, flight_number: str | None) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "item": self.item,
            "item_title": item_title,
            "email": self.email,
            "seat": self.seat,
            "lang": self.lang,
            "flight_number": flight_number,
        }


def validate(document: Any, languages: tuple[str, ...]) -> Order:
    """Check the JSON body of `POST /api/v1/orders`. Raises OrderError."""
    if not isinstance(document, dict):
        raise OrderError("the body must be a JSON object")
    unknown = set(document) - FIELDS
    if unknown:
        raise OrderError(f"unknown field(s): {', '.join(sorted(unknown))[:200]}")
    kind = document.get("kind")
    if kind not in KINDS:
        raise OrderError(f"kind must be one of {', '.join(KINDS)}", "kind")
    item = document.get("item")
    if kind in ITEM_KINDS:
        if not isinstance(item, str) or not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", item):
            raise OrderError("item must be a catalog id", "item")
    elif item is not None:
        raise OrderError("item is not used with this kind", "item")
    email = document.get("email")
    if not isinstance(email, str) or len(email) > 254 or not EMAIL_RE.fullmatch(email):
        raise OrderError("email must be a valid e-mail address", "email")
    seat = document.get("seat")
    if seat is not None:
        if not isinstance(seat, str) or not SEAT_RE.fullmatch(seat.strip().upper()):
            raise OrderError("seat must be a row number and a letter, like 12A", "seat")
        seat = seat.strip().upper()
    lang = document.get("lang", "en")
    if lang not in languages:
        raise OrderError(f"lang must be one of {', '.join(languages)}", "lang")
    return Order(kind=kind, item=item, email=email, seat=seat, lang=lang)


class RateLimiter:
    """Token bucket per client address: `burst` at once, then `per_minute`; and one for all addresses together
    (`total_burst`, then `total_per_minute`: spoofed addresses cannot flood the outbox). A refusal by either takes
    no token from the other."""

    def __init__(self, clock: Clock, per_minute: int, burst: int, *, max_clients: int = 20000,
                 total_per_minute: int | None = None, total_burst: int | None = None) -> None:
        self._clock = clock
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._max = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, monotonic time)
        self._total_rate = (total_per_minute or 0) / 60.0
        self._total_burst = float(total_burst or 0)
        self._total = (self._total_burst, clock.monotonic())

    def _total_wait(self, now: float) -> float:
        """0 when the all-addresses bucket has a token (not taken), else the seconds to wait."""
        if self._total_rate <= 0:
            return 0.0
        tokens, then = self._total
        tokens = min(self._total_burst, tokens + (now - then) * self._total_rate)
        self._total = (tokens, now)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self._total_rate

    def allow(self, address: str) -> float:
        """0 when allowed (a token is taken), else the seconds to wait."""
        now = self._clock.monotonic()
        tokens, then = self._buckets.get(address, (self._burst, now))
        tokens = min(self._burst, tokens + (now - then) * self._rate)
        if tokens >= 1.0:
            total_wait = self._total_wait(now)
            if total_wait > 0:
                return total_wait
            if self._total_rate > 0:
                self._total = (self._total[0] - 1.0, now)
            if address not in self._buckets and len(self._buckets) >= self._max:
                self._forget_full_buckets(now)
            self._buckets[address] = (tokens - 1.0, now)
            return 0.0
        self._buckets[address] = (tokens, now)
        return (1.0 - tokens) / self._rate if self._rate > 0 else 60.0

    def _forget_full_buckets(self, now: float) -> None:
        """Room for a new client: a bucket refilled to `burst` says nothing an absent one does not; if every
        bucket is still in use, the longest untouched go (never everyone's at once, which would reset them all)."""
        full = [a for a, (tokens, then) in self._buckets.items() if tokens + (now - then) * self._rate >= self._burst]
        for address in full:
            del self._buckets[address]
        while len(self._buckets) >= self._max:
            del self._buckets[min(self._buckets, key=lambda a: self._buckets[a][1])]


class KeyLocks:
    """One asyncio.Lock per key in use; a key's lock is forgotten when nobody holds or waits for it, so memory
    is bounded by the requests in flight."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
