"""The simulated passengers order through a real portal's HTTP API (here a minimal portal on loopback)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from firmware_sim.passengers import Passengers, catalog_ids, orderable


def test_catalog_ids_finds_items_at_any_depth() -> None:
    catalog = {"sections": [{"id": "news", "items": [{"id": "paper-1", "kind": "reading"}]}, {"id": "x"}]}
    assert list(catalog_ids(catalog)) == ["paper-1"]


async def test_orders_go_through_the_portal_api() -> None:
    received: list[dict[str, Any]] = []

    async def accept(request: web.Request) -> web.Response:
        raise web.HTTPFound("/")

    async def catalog(request: web.Request) -> web.Response:
        return web.json_response({"items": [{"id": "offer-bcn", "kind": "offer", "title": "Tapas"}]})

    async def orders(request: web.Request) -> web.Response:
        body = await request.json()
        assert request.headers["Origin"].startswith("http://127.0.0.1:")
        received.append(body)
        return web.json_response({"id": f"order-{len(received)}"}, status=201)

    app = web.Application()
    app.router.add_post("/captive-portal/accept", accept)
    app.router.add_get("/api/v1/catalog", catalog)
    app.router.add_post("/api/v1/orders", orders)
    async with TestServer(app, host="127.0.0.1") as server:
        passengers = Passengers(world=None, seed=3)
        await passengers.start()
        try:
            passengers.portal = str(server.make_url("")).rstrip("/")
            record = await passengers.place_order()
        finally:
            await passengers.stop()
    assert record is not None and record["status"] == 201
    assert received[0]["item"] == "offer-bcn" and received[0]["kind"] in ("booking", "offer", "email")
    assert passengers.acknowledged == [{"id": "order-1", "kind": received[0]["kind"], "item": "offer-bcn"}]


def test_passengers_order_only_what_each_item_takes() -> None:
    catalog = {"items": [{"id": "coast", "kind": "video", "orders": []},
                         {"id": "guide", "kind": "guide", "orders": ["email"]},
                         {"id": "hotel", "kind": "offer", "orders": ["offer", "booking", "password_reset"]},
                         {"id": "old", "kind": "reading"}]}  # an older portal: no orders
    assert orderable(catalog) == [("guide", ("email",)), ("hotel", ("offer", "booking")),
                                  ("old", ("booking", "offer", "email"))]
