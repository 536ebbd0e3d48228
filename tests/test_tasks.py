"""cancel_and_wait: every task ends, a task's own error is logged, not raised."""

from __future__ import annotations

import asyncio
import logging

import pytest

from appliance.tasks import cancel_and_wait, wait_event


async def test_cancels_every_task_and_logs_errors_instead_of_raising(caplog: pytest.LogCaptureFixture) -> None:
    async def forever() -> None:
        await asyncio.sleep(3600)

    async def broken() -> None:
        raise RuntimeError("bug in a loop")

    sleeping = asyncio.create_task(forever(), name="sleeping")
    failed = asyncio.create_task(broken(), name="failed")
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="appliance.tasks"):
        await cancel_and_wait(sleeping, None, failed)
    assert sleeping.cancelled() and failed.done()
    assert "failed" in caplog.text and "bug in a loop" in caplog.text
    assert "sleeping" not in caplog.text


async def test_a_task_that_swallows_a_cancellation_is_cancelled_again() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # what 3.11's wait_for does when the awaited thing completes at the same time

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    async with asyncio.timeout(5):
        await cancel_and_wait(task)
    assert task.cancelled() and swallowed == 1


async def test_a_loop_waiting_on_an_event_stops_even_when_the_event_fires_with_the_cancellation() -> None:
    """The race of CPython gh-86296: the event is set and the task cancelled in the same loop turn."""
    wake = asyncio.Event()
    turns = 0

    async def loop_body() -> None:
        nonlocal turns
        while True:
            turns += 1
            await wait_event(wake, 3600)
            wake.clear()

    task = asyncio.create_task(loop_body())
    await asyncio.sleep(0)
    wake.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert turns == 1


async def test_wait_event_reports_set_or_timed_out() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    event.set()
    assert await wait_event(event, 0.01) is True
