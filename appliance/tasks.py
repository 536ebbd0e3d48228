"""Stopping background tasks and waiting on events (and on READY=1): the one way every component does it.

Python 3.11's `asyncio.wait_for` can swallow a cancellation that arrives just as the awaited thing completes
(CPython gh-86296, fixed in 3.12): a component's loop then runs on after `stop()` and the stop never ends.
Components therefore wait with `asyncio.timeout` (through `wait_event`), and `cancel_and_wait` cancels again
a task that is still running after a cancellation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger("appliance.tasks")

RECANCEL_INTERVAL_S = 0.5


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set or `seconds` have passed; True when it was set. A cancellation always
    propagates (unlike 3.11's `wait_for`)."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True


async def cancel_and_wait(*tasks: asyncio.Task[object] | asyncio.Task[None] | None) -> None:
    """Cancel every task and wait until each has ended. A task that lets a cancellation pass (third-party code
    may swallow one) is cancelled again every RECANCEL_INTERVAL_S. An error a task ended with (other than the
    cancellation) is logged, never raised: a component's stop must go on to release what it holds."""
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    for task in running:
        # a task already over (even one of a loop since closed) needs no waiting
        while not task.done():
            await asyncio.wait({task}, timeout=RECANCEL_INTERVAL_S)
            if not task.done():
                log.warning("task %s still running after a cancellation: cancelling again", task.get_name())
                task.cancel()
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s ended with %r", task.get_name(), task.exception())


async def after_ready(ready: Callable[[], bool], seconds: float, poll: float = 0.05) -> bool:
    """Wait until `ready()` (the daemon has sent READY=1) or `seconds` have passed; True when ready. For work
    that can follow READY (background checks, imports only a later path needs): it then never takes the GIL
    from the start. Polled: READY is a flag of the lifecycle, and a poll costs nothing beside the start."""
    waited = 0.0
    while not ready() and waited < seconds:
        await asyncio.sleep(poll)
        waited += poll
    return ready()
