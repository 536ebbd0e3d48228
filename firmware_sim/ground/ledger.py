"""What the simulated airline services accepted, deduplicated by `Idempotency-Key` the way payment APIs do:
the same key with the same body answers the original response again; the same key with another body is a
client error (422); a retry that arrives while the first request is still being processed gets 409."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any


def fingerprint(payload: Any) -> str:
    """A stable hash of a JSON body (key order does not matter)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class Accepted:
    key: str
    kind: str
    payload: Any
    fingerprint: str
    receipt: dict[str, Any]
    number: int  # acceptance order over all kinds

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "number": self.number, "payload": self.payload, "receipt": self.receipt}


class KeyConflict(Exception):
    """The key was used before with another body."""


class KeyInProgress(Exception):
    """A request with this key is still being processed."""


@dataclass
class Ledger:
    """Accepted requests per kind, in acceptance order, and the counters a test asserts on."""

    accepted: dict[str, Accepted] = field(default_factory=dict)
    by_kind: dict[str, list[str]] = field(default_factory=dict)
    in_progress: set[str] = field(default_factory=set)
    replays: int = 0
    conflicts: int = 0
    rejected: int = 0

    def begin(self, kind: str, key: str, payload: Any) -> Accepted | None:
        """Start handling a request: the earlier acceptance to replay, or None when this key is new."""
        scoped = f"{kind}:{key}"
        previous = self.accepted.get(scoped)
        if previous is not None:
            if previous.fingerprint != fingerprint(payload):
                self.conflicts += 1
                raise KeyConflict(key)
            self.replays += 1
            return previous
        if scoped in self.in_progress:
            raise KeyInProgress(key)
        self.in_progress.add(scoped)
        return None

    def abandon(self, kind: str, key: str) -> None:
        self.in_progress.discard(f"{kind}:{key}")

    def accept(self, kind: str, key: str, payload: Any) -> Accepted:
        scoped = f"{kind}:{key}"
        self.in_progress.discard(scoped)
        number = len(self.accepted) + 1
        receipt = {
            "id": f"{kind[:3]}-{number:08d}",
            "kind": kind,
            "idempotency_key": key,
            "accepted_at": time.time(),
        }
        entry = Accepted(key, kind, payload, fingerprint(payload), receipt, number)
        self.accepted[scoped] = entry
        self.by_kind.setdefault(kind, []).append(scoped)
        return entry

    def report(self, with_payloads: bool = True) -> dict[str, Any]:
        kinds: dict[str, Any] = {}
        for kind, scoped_keys in self.by_kind.items():
            entries = [self.accepted[k] for k in scoped_keys]
            kinds[kind] = [e.as_dict() if with_payloads else {"key": e.key, "number": e.number} for e in entries]
        return {
            "kinds": kinds,
            "counts": {kind: len(keys) for kind, keys in self.by_kind.items()},
            "total": len(self.accepted),
            "replays": self.replays,
            "conflicts": self.conflicts,
            "rejected": self.rejected,
        }

    def clear(self) -> None:
        self.accepted.clear()
        self.by_kind.clear()
        self.in_progress.clear()
        self.replays = self.conflicts = self.rejected = 0
