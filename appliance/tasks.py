"""Stopping background tasks: the one way every component does it."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("appliance.tasks")


async def cancel_and_wait(*tasks: asyncio.Task[object] | asyncio.Task[None] | None) -> None:
    """Cancel every task and wait until each has ended. An error a task ended with (other than the
    cancellation) is logged, never raised: a component's stop must go on to release what it holds."""
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    for task in running:
        if not task.done():  # a task already over (even one of a loop since closed) needs no waiting
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # the caller itself is being cancelled: not ours to swallow
            except Exception:
                pass  # logged below
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s ended with %r", task.get_name(), task.exception())
