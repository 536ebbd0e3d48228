"""Exactly once from the passenger's tap: `Idempotency-Key` on POST /api/v1/orders (also across a restart)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from appliance.storage import outbox as outbox_module
from tests.portal.conftest import PortalRig, start_rig

ORDER = {"kind": "offer", "item": "hotel-madrid", "email": "ana.garcia@example.com", "seat": "12A", "lang": "es"}


async def post(s: aiohttp.ClientSession, rig: PortalRig, body: Any, key: str | None,
               raw: str | None = None) -> tuple[int, dict[str, Any], aiohttp.typedefs.LooseHeaders]:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    async with s.post(rig.base + "/api/v1/orders", data=raw if raw is not None else json.dumps(body),
                      headers=headers) as r:
        return r.status, await r.json(content_type=None), r.headers


async def test_same_key_same_body_is_the_original_201_even_after_a_restart(tmp_path: Path) -> None:
    key = str(uuid.uuid4())
    rig = await start_rig(tmp_path)
    try:
        async with aiohttp.ClientSession() as s:
            status, first, headers = await post(s, rig, ORDER, key)
            assert status == 201 and "Idempotent-Replayed" not in headers
            # the same body spaced and ordered differently is the same order
            again = json.dumps(dict(reversed(list(ORDER.items()))), indent=2)
            status, second, headers = await post(s, rig, None, key, raw=again)
            assert (status, second, headers["Idempotent-Replayed"]) == (201, first, "true")
        assert [p.id for p in rig.storage.outbox.pending()] == [first["id"]]
    finally:
        await rig.stop()

    rig = await start_rig(tmp_path)  # the daemon restarted: the same state directory, nothing in memory
    try:
        async with aiohttp.ClientSession() as s:
            status, third, _ = await post(s, rig, ORDER, key)
            assert (status, third) == (201, first)
            status, other, _ = await post(s, rig, ORDER | {"seat": "14C"}, key)
            assert status == 422 and other["field"] == "Idempotency-Key"
            status, fresh, _ = await post(s, rig, ORDER, str(uuid.uuid4()))  # a new tap: a new order
            assert status == 201 and fresh["id"] != first["id"]
        assert sorted(p.id for p in rig.storage.outbox.pending()) == sorted([first["id"], fresh["id"]])
    finally:
        await rig.stop()


async def test_a_double_tap_at_once_stores_one_order(rig: PortalRig) -> None:
    key = str(uuid.uuid4())
    async with aiohttp.ClientSession() as s:
        answers = await asyncio.gather(*(post(s, rig, ORDER, key) for _ in range(5)))
    assert {status for status, _, _ in answers} == {201}
    assert len({body["id"] for _, body, _ in answers}) == 1
    assert len(rig.storage.outbox.pending()) == 1
    assert len(rig.services.order_keys) == 0  # the per-key locks are gone once nobody uses them


async def test_a_refused_order_keeps_no_key_and_a_replay_costs_no_rate_token(rig: PortalRig) -> None:
    key = str(uuid.uuid4())
    async with aiohttp.ClientSession() as s:
        status, _, _ = await post(s, rig, ORDER | {"seat": "99Z"}, key)
        assert status == 422
        status, first, _ = await post(s, rig, ORDER, key)  # the same key, now a good order: stored
        assert status == 201
        for _ in range(rig.services.config.orders_burst + 2):  # retries are answers, not new orders
            status, body, _ = await post(s, rig, ORDER, key)
            assert (status, body) == (201, first)
        status, _, _ = await post(s, rig, ORDER, "bad key with spaces")
        assert status == 400
        status, _, _ = await post(s, rig, ORDER, "x" * 256)
        assert status == 400
    assert len(rig.storage.outbox.pending()) == 1


async def test_keys_are_kept_two_days_and_survive_pruning_of_delivered_items(rig: PortalRig) -> None:
    outbox = rig.storage.outbox
    key = str(uuid.uuid4())
    async with aiohttp.ClientSession() as s:
        status, first, _ = await post(s, rig, ORDER, key)
        assert status == 201
        await outbox.mark_delivered(first["id"], {"ok": True})
        assert await outbox.prune_delivered(keep=0) == 0  # its key is still kept: so is the item
        status, again, _ = await post(s, rig, ORDER, key)
        assert (status, again) == (201, first)

        real_stamp = outbox._stamp
        outbox._stamp = lambda: real_stamp() | {"wall": real_stamp()["wall"] + outbox_module.REQUEST_KEEP_S + 60}
        try:
            assert outbox.find_request(next(iter(outbox._requests))) is None  # older than two days
            assert await outbox.prune_delivered(keep=0) == 1
        finally:
            outbox._stamp = real_stamp
    assert outbox_module.REQUEST_KEEP_S >= 86400


async def test_the_key_index_is_bounded(rig: PortalRig, monkeypatch: Any) -> None:
    monkeypatch.setattr(outbox_module, "MAX_REQUESTS", 3)
    outbox = rig.storage.outbox
    keys = [f"k{i}" for i in range(5)]
    for key in keys:
        await outbox.append("offer", {"n": key}, {"key": key, "body": "b", "answer": {}})
    assert len(outbox._requests) == 3
    assert [outbox.find_request(k) is not None for k in keys] == [False, False, True, True, True]
