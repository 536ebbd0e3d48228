"""`GET /api/v1/outbox` on a real maintenance listener over a real journal outbox: pending and dead-lettered
items by kind with ages and last errors, and nothing of what the passengers typed."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from appliance import storage as storage_package
from appliance.storage.component import StorageComponent
from appliance.storage.config import StorageConfig
from tests.conftest import free_port
from tests.maintenance_support import scene_for
from tests.ops_support import write_token

EMAIL, SEAT, NAME = "ana.garcia@example.com", "17C", "Ana Garcia"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, str, StorageComponent]]:
    token = write_token(tmp_path / "maintenance.token")
    port = free_port()
    (tmp_path / "state").mkdir()
    scene = scene_for(tmp_path, port)
    storage = StorageComponent(StorageConfig(dir=str(tmp_path / "state")), scene.core.clock, scene.metrics)
    await storage.start()
    scene.install(storage, storage_package.COMPONENT)  # its spec's route: GET /api/v1/outbox
    maintenance = scene.listener()
    await maintenance.start()
    try:
        yield f"http://127.0.0.1:{port}", token, storage
    finally:
        await maintenance.stop()
        await storage.stop()


async def test_outbox_route_lists_by_kind_with_ages_and_errors_but_no_personal_data(
    served: tuple[str, str, StorageComponent],
) -> None:
    url, token, storage = served
    outbox = storage.outbox
    assert outbox is not None
    booking = await outbox.append("booking", {"item": "tour-1", "email": EMAIL, "seat": SEAT, "name": NAME})
    await outbox.append("booking", {"item": "tour-2", "email": EMAIL})
    refused = await outbox.append("email", {"item": "paper-1", "email": EMAIL, "seat": SEAT})
    await outbox.record_attempt(booking.id, f"HTTP 503 from booking service: {NAME} <{EMAIL}> seat {SEAT}")
    await outbox.dead_letter(refused.id, f"HTTP 422: address {EMAIL} refused for seat {SEAT}")
    auth = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/api/v1/outbox") as response:
            assert response.status == 401
        async with session.get(f"{url}/api/v1/outbox", headers=auth) as response:
            assert response.status == 200
            text = await response.text()
        for bad in ("0", "x", "5000", "-1"):
            async with session.get(f"{url}/api/v1/outbox?limit={bad}", headers=auth) as response:
                assert response.status == 400 and "limit" in (await response.json())["error"]
        async with session.get(f"{url}/api/v1/outbox?limit=1", headers=auth) as response:
            limited = await response.json()
    for secret in (EMAIL, SEAT, NAME, "tour-1", "paper-1", "example.com"):
        assert secret not in text, secret
    body = json.loads(text)
    assert set(body["pending"]) == {"booking"} and set(body["dead"]) == {"email"}
    bookings = body["pending"]["booking"]
    assert bookings["count"] == 2 and not bookings["truncated"]
    first = bookings["items"][0]
    assert first["id"] == booking.id and first["attempts"] == 1
    assert first["last_error"].startswith("HTTP 503 from booking service: [redacted]")
    assert first["created"].endswith("Z") and 0 <= first["age_seconds"] < 60 and first["last_attempt"].endswith("Z")
    assert bookings["oldest_age_seconds"] == first["age_seconds"]
    dead = body["dead"]["email"]["items"][0]
    assert dead["id"] == refused.id and dead["reason"] == "HTTP 422: address [redacted] refused for seat [redacted]"
    assert dead["dead"].endswith("Z")
    assert limited["pending"]["booking"]["count"] == 2 and limited["pending"]["booking"]["truncated"]
    assert len(limited["pending"]["booking"]["items"]) == 1


async def test_appliance_status_summarises_the_outbox(
    served: tuple[str, str, StorageComponent], tmp_path: Path
) -> None:
    import asyncio
    import subprocess

    from tests.conftest import python_module, subprocess_env

    url, _, storage = served
    outbox = storage.outbox
    assert outbox is not None
    await outbox.append("booking", {"item": "tour-1", "email": EMAIL, "seat": SEAT})
    refused = await outbox.append("email", {"item": "paper-1", "email": EMAIL})
    await outbox.dead_letter(refused.id, f"HTTP 422: {EMAIL} refused")
    argv = python_module("appliance", "status", "--url", url, "--token-file", str(tmp_path / "maintenance.token"))
    result = await asyncio.to_thread(subprocess.run, argv, env=subprocess_env(), capture_output=True, text=True)
    assert result.returncode == 1, result.stderr  # not ready: this listener's daemon never said so
    summary = r"outbox: 1 pending \(booking 1, oldest \d+ s\); 1 dead letter \(email 1, oldest \d+ s\)"
    assert re.search(summary, result.stdout), result.stdout  # ages in whole seconds: a busy machine adds some
    assert "latest email: HTTP 422: [redacted] refused" in result.stdout
    assert EMAIL not in result.stdout and SEAT not in result.stdout
