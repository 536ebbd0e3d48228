"""Outbox delivery: every kind drained in sequence order, the kinds concurrently over one session.

Each item is POSTed with its id as the `Idempotency-Key` (the id never changes, so a retry after a timeout,
a lost answer or a reboot cannot be accepted twice). A 2xx is the station's durable confirmation and only
then is the item marked delivered; 5xx, 408/409/425/429, timeouts and connection errors are retried with
exponential backoff and full jitter; any other 4xx is permanent and the item goes to the dead-letter list
with the reason. Payments (kind "payment") go first in a window, before any other kind; a processor's decline
(402) with Retry-After is retried after that delay until `retries_per_cycle` tries, then dead-lettered with
its reason, as a 402 without Retry-After at once. Cancelling a drain (the window closed) loses nothing: an
item leaves the outbox only through `mark_delivered` or `dead_letter`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import aiohttp

from appliance.groundlink.client import BudgetExhausted, GroundClient, Reply
from appliance.groundlink.config import GroundlinkConfig
from appliance.groundlink.metrics import GroundlinkMetrics
from appliance.metrics import Metrics
from appliance.ports import Outbox, OutboxItem

log = logging.getLogger("appliance.groundlink")

RETRYABLE_4XX = frozenset({408, 409, 425, 429})
FIRST = ("payment",)  # kinds delivered before all others in a window (card payments: authorise early)
DECLINED = 402  # a card processor's decline: retried when it sends Retry-After, else (and at last) dead


class Outcome(Enum):
    DELIVERED = "delivered"
    DEAD = "dead_letter"
    GAVE_UP = "gave_up"  # retried enough for this cycle; still pending
    NO_BUDGET = "no_budget"


@dataclass
class DrainReport:
    delivered: int = 0
    dead: int = 0
    gave_up: dict[str, str] = field(default_factory=dict)  # kind -> last error
    budget_exhausted: bool = False

    @property
    def complete(self) -> bool:
        return not self.gave_up and not self.budget_exhausted


def encode(payload: Mapping[str, Any]) -> bytes:
    """The body of an item: the same bytes on every attempt."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def backoff_delay(failures: int, initial: float, cap: float, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(cap, initial * 2**(failures - 1))]."""
    return rng.uniform(0.0, min(cap, initial * (2 ** max(0, failures - 1))))


def retry_after(reply: Reply) -> float:
    try:
        return max(0.0, float(reply.headers.get("Retry-After", "0")))
    except ValueError:
        return 0.0


class Delivery:
    def __init__(
        self,
        outbox: Outbox,
        client: GroundClient,
        config: GroundlinkConfig,
        metrics: Metrics,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self.client = client
        self.config = config
        self.metrics = metrics.of(GroundlinkMetrics)
        self.rng = rng or random.Random()
        self.last_error = ""
        self.errors = 0
        self._delivered_metric = self.metrics.groundlink_requests.labels(outcome="delivered")

    async def drain(self) -> DrainReport:
        """Deliver what is pending (and what arrives meanwhile) until every kind is empty, gave up for this
        cycle, or the budget is spent."""
        report = DrainReport()
        tasks: dict[str, asyncio.Task[None]] = {}
        stopped: set[str] = set()
        try:
            while True:
                if not report.budget_exhausted:
                    counts = self.outbox.counts()
                    # payments first: the other kinds wait until no payment is left to try in this cycle
                    first = [k for k in FIRST if counts.get(k, 0) > 0 and k not in stopped]
                    for kind, count in counts.items():
                        running = tasks.get(kind)
                        if first and kind not in first:
                            continue
                        if count > 0 and kind not in stopped and (running is None or running.done()):
                            tasks[kind] = asyncio.create_task(self._drain_kind(kind, report, stopped))
                active = [t for t in tasks.values() if not t.done()]
                if not active:
                    break
                await asyncio.wait(active, return_when=asyncio.FIRST_COMPLETED)
                for task in active:
                    if task.done() and not task.cancelled() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
        finally:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
        return report

    async def _drain_kind(self, kind: str, report: DrainReport, stopped: set[str]) -> None:
        """Items of one kind in sequence order, at most `in_flight_per_kind` exchanges at a time. A slot frees
        as soon as the station has answered: the next item goes out while the confirmation is being made
        durable (safe: should that write be lost, the item goes again with its key and is replayed)."""
        window = asyncio.Semaphore(self.config.in_flight_per_kind)
        halt = False

        async def one(item: OutboxItem) -> None:
            nonlocal halt
            slot = [True]

            def release() -> None:
                if slot:
                    slot.clear()
                    window.release()

            try:
                outcome = await self.deliver(item, answered=release)
                if outcome is Outcome.DELIVERED:
                    report.delivered += 1
                elif outcome is Outcome.DEAD:
                    report.dead += 1
                elif outcome is Outcome.GAVE_UP:
                    report.gave_up[kind] = self.last_error
                    halt = True
                else:
                    report.budget_exhausted = True
                    halt = True
            finally:
                release()

        while not halt:
            items = self.outbox.pending(kind)
            if not items:
                return
            async with asyncio.TaskGroup() as group:
                for item in items:
                    await window.acquire()
                    if halt or report.budget_exhausted:
                        window.release()
                        break
                    group.create_task(one(item))
        stopped.add(kind)

    async def deliver(self, item: OutboxItem, answered: Callable[[], None] | None = None) -> Outcome:
        """POST one item until it is confirmed, refused for good, or retried enough for this cycle.
        `answered()` is called once the station's final answer is in, before it is recorded durably."""
        body = encode(item.payload)
        path = self.config.orders_path.format(kind=item.kind)
        headers = {"Idempotency-Key": item.id}
        failures = 0
        while True:
            wait = 0.0
            try:
                reply = await self.client.request(
                    "POST", path, body=body, headers=headers, time_limit=self.config.request_timeout
                )
            except BudgetExhausted as exhausted:
                self.last_error = str(exhausted)
                return Outcome.NO_BUDGET
            except (aiohttp.ClientError, TimeoutError) as problem:
                error = f"{type(problem).__name__}: {problem}".rstrip(": ")
            else:
                if 200 <= reply.status < 300:
                    if answered is not None:
                        answered()
                    await self.outbox.mark_delivered(item.id, _receipt(item, reply))
                    self._delivered_metric.inc()
                    return Outcome.DELIVERED
                error = f"HTTP {reply.status}: {reply.error_text()}"
                soft_decline = reply.status == DECLINED and "Retry-After" in reply.headers
                if soft_decline and failures + 1 >= self.config.retries_per_cycle:
                    soft_decline = False  # declined on every try the processor allowed: dead-lettered
                if 400 <= reply.status < 500 and reply.status not in RETRYABLE_4XX and not soft_decline:
                    log.warning("order %s (%s) refused for good: %s", item.id, item.kind, error)
                    if answered is not None:
                        answered()
                    await self.outbox.dead_letter(item.id, error)
                    self.metrics.groundlink_requests.labels(outcome="dead_letter").inc()
                    self.metrics.groundlink_dead_letters.labels(kind=item.kind).inc()
                    return Outcome.DEAD
                wait = min(self.config.backoff_max, retry_after(reply))
            failures += 1
            self.errors += 1
            self.last_error = error
            self.metrics.groundlink_requests.labels(outcome="retry").inc()
            await self.outbox.record_attempt(item.id, error)
            if failures >= self.config.retries_per_cycle:
                return Outcome.GAVE_UP
            delay = max(wait, backoff_delay(failures, self.config.backoff_initial, self.config.backoff_max, self.rng))
            log.debug("order %s: %s; retrying in %.2f s", item.id, error, delay)
            await asyncio.sleep(delay)


def _receipt(item: OutboxItem, reply: Reply) -> dict[str, Any]:
    try:
        answer: Any = reply.json()
    except (ValueError, UnicodeDecodeError):
        answer = reply.body[:500].decode("utf-8", "replace")
    return {"status": reply.status, "idempotency_key": item.id, "answer": answer}
