"""cancel_and_wait: every task ends, a task's own error is logged, not raised."""

from __future__ import annotations

import asyncio
import logging

import pytest

from appliance.tasks import cancel_and_wait


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
