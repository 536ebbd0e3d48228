"""Storage's ports: the outbox (OUTBOX), the power-fail flush (FLUSHABLES), the trusted time (TIME_ANCHOR,
TRUSTED_TIME), the boot bookkeeping (BOOT) and the state directory (STATE_DIR)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

TimeQuality = Literal["rtc", "avionics", "network"]


#: The outbox's kinds (the passenger's orders; the ground's `POST /orders/{kind}`). Known at start, so each has
#: its `appliance_outbox_pending{kind}` sample (0) from the first scrape.
OUTBOX_KINDS: tuple[str, ...] = ("booking", "offer", "email", "password_reset", "payment")


# --- storage -> portal, ground link, discretes ----------------------------------------------------------

class StorageRefused(Exception):
    """A write was refused and nothing was acknowledged: disk full, failed fsync, or frozen for a power fail."""


@dataclass(frozen=True)
class OutboxItem:
    id: str  # also the Idempotency-Key: never changes across retries or reboots
    seq: int
    kind: str  # booking | offer | email | telemetry ...
    payload: Mapping[str, Any]
    created_wall: float
    attempts: int = 0


class OrderSink(Protocol):
    async def append(self, kind: str, payload: Mapping[str, Any],
                     request: Mapping[str, Any] | None = None) -> OutboxItem:
        """Durable (journaled and fsynced) when it returns. Raises StorageRefused. `request` (JSON with a
        string "key") is kept with the item, in the same write, for `find_request`."""
        ...

    def find_request(self, key: str) -> tuple[OutboxItem, dict[str, Any]] | None:
        """The item a request key made and its request, kept at least a day (also across restarts)."""
        ...

    def progress(self, item_id: str) -> dict[str, Any] | None:
        """Where an item is: {"state": pending | delivered | dead, "attempts", "receipt" (the station's answer,
        delivered), "reason" (dead), "last_error"}; None when unknown or storage is not started."""
        ...


class Outbox(OrderSink, Protocol):
    def pending(self, kind: str | None = None) -> list[OutboxItem]:
        """Not yet confirmed by the ground station, in sequence order (per kind when `kind` is given)."""
        ...

    async def mark_delivered(self, item_id: str, receipt: Mapping[str, Any]) -> None: ...

    async def record_attempt(self, item_id: str, error: str) -> None: ...

    async def dead_letter(self, item_id: str, reason: str) -> None: ...

    def dead_letters(self) -> list[dict[str, Any]]: ...

    def dead_count(self) -> int:
        """len(dead_letters()), without the scan (a status document asks for it; the backlog may be 100,000)."""
        ...

    def counts(self) -> dict[str, int]:
        """Pending items per kind."""
        ...

    def listing(self, limit: int = 100) -> dict[str, dict[str, dict[str, Any]]]:
        """Pending and dead items by state and kind for engineers: counts, ages, errors, never payloads."""
        ...


class Flushable(Protocol):
    """What the power-fail path drives: stop writes, make everything pending durable, later resume."""

    async def emergency_flush(self) -> None: ...

    def resume_writes(self) -> None: ...


class TimeAnchor(Protocol):
    def anchor(self, wall: float, quality: TimeQuality) -> None:
        """A trusted time source says the wall clock is `wall` now."""
        ...


class TrustedTime(Protocol):
    def now(self) -> float:
        """The daemon's best wall time (seconds since the epoch): the persisted time floor plus the time since
        boot, or the last avionics / network anchor; never the raw RTC when the RTC is not believable."""
        ...


# --- storage's boot bookkeeping -> content check, maintenance -------------------------------------------

class BootInfo(Protocol):
    @property
    def boot_id(self) -> str: ...

    @property
    def previous_shutdown_clean(self) -> bool:
        """False after a power cut or crash: the content check then re-hashes what was being written."""
        ...

    @property
    def unsafe_shutdowns(self) -> int: ...

    @property
    def last_shutdown_reason(self) -> str: ...


# --- the state directory (storage) -> every component with files of its own ---------------------------

class StateDirectory(Protocol):
    @property
    def path(self) -> Path:
        """The state directory (`storage.dir`): a component keeps its own small state files here, each replaced
        atomically (appliance/fs/atomic.py)."""
        ...
