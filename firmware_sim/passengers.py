"""Passengers' devices: during the flight they browse the portal and place orders through its real HTTP API,
the way a phone on the cabin Wi-Fi would (captive-portal acceptance, catalog, `POST /api/v1/orders`).

Told where the portal is by `PUT /passengers {"portal": "http://HOST:PORT", "orders_per_minute": 6}`
(`appliance run --sim` does that itself). `GET /passengers` lists every order the portal acknowledged (201),
so a test can check that the ground station received each of them exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
from aiohttp import web

from firmware_sim.device import World

log = logging.getLogger("firmware_sim.passengers")

ORDERING_PHASES = ("climb", "cruise", "descent")
KINDS = ("booking", "offer", "email")


def catalog_ids(node: Any) -> Iterator[str]:
    """Every item id in a catalog document, whatever its nesting."""
    if isinstance(node, dict):
        item_id = node.get("id")
        if isinstance(item_id, str) and ("kind" in node or "title" in node or "titles" in node):
            yield item_id
        for value in node.values():
            yield from catalog_ids(value)
    elif isinstance(node, list):
        for value in node:
            yield from catalog_ids(value)


def orderable(node: Any) -> list[tuple[str, tuple[str, ...]]]:
    """(item id, the order kinds it takes) for every catalog item: its `orders` where the portal says (an item
    that takes none is left out), else any kind (an older portal)."""
    found: dict[str, tuple[str, ...]] = {}
    for item_id in catalog_ids(node):
        found.setdefault(item_id, KINDS)

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("id"), str) and isinstance(value.get("orders"), list):
                found[value["id"]] = tuple(k for k in value["orders"] if k in KINDS)
            for child in value.values():
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    walk(node)
    return sorted((item_id, kinds) for item_id, kinds in found.items() if kinds)


class Passengers:
    name = "passengers"

    def __init__(self, world: World | None, seed: int | None = None) -> None:
        self.world = world
        self._random = random.Random(seed)
        self.portal: str | None = None
        self.orders_per_minute = 6.0
        self.acknowledged: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        self.errors = 0
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ssl: ssl.SSLContext | bool = True  # the system's trust, or the CA PUT /passengers gave

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    def endpoints(self) -> dict[str, Any]:
        return {}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_put("/passengers", self._put)
        app.router.add_get("/passengers", self._get)

    def state(self) -> dict[str, Any]:
        return {
            "portal": self.portal,
            "orders_per_minute": self.orders_per_minute,
            "acknowledged": len(self.acknowledged),
            "refused": len(self.refused),
            "errors": self.errors,
        }

    async def _put(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        if not isinstance(body, dict) or set(body) - {"portal", "orders_per_minute", "ca_pem"}:
            return web.json_response({"error": 'expected {"portal": URL, "orders_per_minute": N, "ca_pem"?: PEM}'},
                                     status=400)
        ca_pem = body.get("ca_pem")
        if ca_pem is not None:  # an https portal whose certificate this CA signed (appliance run --sim --tls)
            try:
                self._ssl = ssl.create_default_context(cadata=str(ca_pem))
            except (ssl.SSLError, ValueError, TypeError):
                return web.json_response({"error": "ca_pem is not a PEM certificate"}, status=400)
        portal = body.get("portal", self.portal)
        rate = body.get("orders_per_minute", self.orders_per_minute)
        if portal is not None and not (isinstance(portal, str) and portal.startswith("http")):
            return web.json_response({"error": "portal must be an http URL"}, status=400)
        if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 <= rate <= 6000:
            return web.json_response({"error": "orders_per_minute must be 0..6000"}, status=400)
        self.portal = portal.rstrip("/") if portal else None
        self.orders_per_minute = float(rate)
        return web.json_response(self.state())

    async def _get(self, request: web.Request) -> web.Response:
        return web.json_response(self.state() | {"orders": self.acknowledged})

    def _ordering(self) -> bool:
        return self.world is None or self.world.phase in ORDERING_PHASES

    async def _run(self) -> None:
        while True:
            rate = self.orders_per_minute
            await asyncio.sleep(60.0 / rate if rate > 0 else 1.0)
            if self.portal is None or rate <= 0 or not self._ordering():
                continue
            try:
                await self.place_order()
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                self.errors += 1
                log.debug("passenger order failed: %s", error)

    async def place_order(self) -> dict[str, Any] | None:
        """One passenger: accept the captive portal, read the catalog, order something."""
        assert self._session is not None and self.portal is not None
        headers = {"Origin": self.portal}
        async with self._session.post(f"{self.portal}/captive-portal/accept", headers=headers, allow_redirects=False,
                                      ssl=self._ssl):
            pass
        async with self._session.get(f"{self.portal}/api/v1/catalog", ssl=self._ssl) as response:
            catalog = await response.json() if response.status == 200 else {}
        items = orderable(catalog)
        if not items:
            return None
        seat = f"{self._random.randint(1, 32)}{self._random.choice('ABCDEF')}"
        item, kinds = self._random.choice(items)
        order = {
            "kind": self._random.choice(kinds),
            "item": item,
            "email": f"passenger{self._random.randint(1, 10**6)}@example.com",
            "seat": seat,
        }
        key = {"Idempotency-Key": str(uuid.UUID(int=self._random.getrandbits(128), version=4))}  # as the app does
        async with self._session.post(f"{self.portal}/api/v1/orders", json=order, headers=headers | key,
                                      ssl=self._ssl) as response:
            answer = await response.json(content_type=None)
            record = {"status": response.status, "order": order, "answer": answer}
        if response.status == 201:
            self.acknowledged.append({"id": answer.get("id"), "kind": order["kind"], "item": order["item"]})
        else:
            self.refused.append(record)
        return record
