"""The journal's asyncio waiters: tasks waiting for records to become durable, by sequence number.

A record's outcome is a function of its sequence number (Journal.outcome: durable, refused, or pending), and
records are decided in sequence order. So each event loop's waiters are a heap by sequence, and after a batch
the writer thread wakes each loop that has a waiter now decided once (one `call_soon_threadsafe`, not one per
record); on the loop, `_settle` pops every decided waiter off the top of its heap.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
from collections.abc import Callable

from appliance.ports import StorageRefused

_Waiter = tuple[int, int, "asyncio.Future[int]"]  # seq, tie-breaker, the waiter


class LoopWaiters:
    def __init__(self, outcome: Callable[[int], bool | None], result: Callable[[int], int]) -> None:
        """`outcome(seq)`: True durable, False refused, None pending; `result(seq)`: a decided record's
        sequence number, or its StorageRefused raised."""
        self._outcome = outcome
        self._result = result
        self._lock = threading.Lock()
        self._heaps: dict[asyncio.AbstractEventLoop, list[_Waiter]] = {}
        self._wakes_sent: set[asyncio.AbstractEventLoop] = set()  # a settle is already on its way there
        self._tie = itertools.count()

    def watch(self, seq: int) -> asyncio.Future[int]:
        """A future of the running loop, resolved once record `seq` is decided (cancelling it cancels nothing
        else). Call from the loop's thread."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[int] = loop.create_future()
        with self._lock:
            if self._outcome(seq) is None:
                heapq.heappush(self._heaps.setdefault(loop, []), (seq, next(self._tie), waiter))
                return waiter
        _resolve(waiter, self._result, seq)
        return waiter

    def wake(self) -> None:
        """From any thread, after records were decided: wake each loop with a waiter now decided, once (a
        settle already on its way to a loop will see these records too). A closed loop's waiters are dropped:
        nobody is waiting there any more."""
        if not self._heaps:
            return
        with self._lock:
            loops = [loop for loop, heap in self._heaps.items()
                     if heap and loop not in self._wakes_sent and self._outcome(heap[0][0]) is not None]
            self._wakes_sent.update(loops)
        for loop in loops:
            try:
                loop.call_soon_threadsafe(self._settle, loop)
            except RuntimeError:  # that loop is closed
                with self._lock:
                    self._heaps.pop(loop, None)
                    self._wakes_sent.discard(loop)

    def _settle(self, loop: asyncio.AbstractEventLoop) -> None:
        """On `loop`: resolve its waiters whose records are decided."""
        decided: list[tuple[int, asyncio.Future[int]]] = []
        with self._lock:
            self._wakes_sent.discard(loop)
            heap = self._heaps.get(loop, [])
            while heap and self._outcome(heap[0][0]) is not None:
                seq, _, waiter = heapq.heappop(heap)
                decided.append((seq, waiter))
            if not heap:
                self._heaps.pop(loop, None)
        for seq, waiter in decided:
            _resolve(waiter, self._result, seq)


def _resolve(waiter: asyncio.Future[int], result: Callable[[int], int], seq: int) -> None:
    """Give a (not yet cancelled) waiter its record's outcome."""
    if waiter.done():
        return
    try:
        waiter.set_result(result(seq))
    except StorageRefused as error:
        waiter.set_exception(error)
