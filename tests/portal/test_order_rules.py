"""Which orders each catalog item takes (the catalog's, checked by the API), and saying what is true now: delivery
now or after landing, "no internet on this flight" only in the air."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from appliance.portal.catalog import parse_catalog
from appliance.portal.i18n import text
from tests.portal.conftest import PortalRig, start_rig

JSON = {"Content-Type": "application/json"}


@dataclass
class GroundWindow:
    """Implements the part of appliance.ports.GroundLinkControl the portal reads: the window's state."""

    open: bool = False

    def window_open(self) -> bool:
        return self.open

    def snapshot(self) -> dict[str, Any]:
        return {"window": "open" if self.open else "closed", "reason": "test"}

    def request_sync(self) -> dict[str, Any]:
        return {"requested": True, "window": "open" if self.open else "closed", "reason": "test"}


async def order(s: aiohttp.ClientSession, rig: PortalRig, kind: str, item: str) -> tuple[int, dict[str, Any]]:
    body = {"kind": kind, "item": item, "email": "a@b.es"}
    async with s.post(rig.base + "/api/v1/orders", data=json.dumps(body), headers=JSON) as r:
        return r.status, await r.json(content_type=None)


@pytest.mark.parametrize(("kind", "item", "status"), [
    ("booking", "guide-madrid", 422), ("email", "coast", 422), ("offer", "skyways", 422),
    ("booking", "hotel-madrid", 201), ("offer", "hotel-madrid", 201), ("email", "guide-madrid", 201),
    ("email", "skyways", 201)])
async def test_each_item_takes_only_its_kinds(rig: PortalRig, kind: str, item: str, status: int) -> None:
    async with aiohttp.ClientSession() as s:
        got, body = await order(s, rig, kind, item)
    assert got == status, body
    if status == 422:
        assert body["field"] == "kind" and kind in body["error"]
        assert rig.storage.outbox.pending() == []


async def test_the_catalog_says_what_each_item_takes(rig: PortalRig) -> None:
    async with aiohttp.ClientSession() as s, s.get(rig.base + "/api/v1/catalog") as r:
        items = {i["id"]: i for i in (await r.json())["items"]}
    assert items["coast"]["orders"] == []
    assert items["guide-madrid"]["orders"] == ["email"]
    assert items["hotel-madrid"]["orders"] == ["offer", "booking"]  # priced: bookable
    assert items["hotel-madrid"]["price_value"] == {"currency": "EUR", "amount": 89.0, "amount_minor": 8900,
                                                   "exponent": 2, "per": "night"}


def test_orders_per_item_override_the_defaults_and_bad_ones_are_skipped() -> None:
    base = {"kind": "guide", "category": "city", "languages": ["en"], "title": {"en": "G"}}
    catalog = parse_catalog({"items": [base | {"id": "a", "orders": ["booking"]}, base | {"id": "b"},
                                       base | {"id": "c", "orders": ["password_reset"]},
                                       base | {"id": "d", "orders": "email"}]})
    assert [(i["id"], i["orders"]) for i in catalog.items] == [("a", ["booking"]), ("b", ["email"])]
    assert catalog.invalid == 2


async def test_delivery_is_now_while_the_ground_window_is_open(rig: PortalRig) -> None:
    window = GroundWindow(open=True)
    rig.services.groundlink = window
    async with aiohttp.ClientSession() as s:
        status, body = await order(s, rig, "email", "skyways")
        assert (status, body["delivery"]) == (201, "now")
        window.open = False
        status, body = await order(s, rig, "email", "skyways")
        assert (status, body["delivery"]) == (201, "after_landing")


async def welcome_text(rig: PortalRig, lang: str = "en") -> str:
    rig.services.broadcaster.tick()
    async with aiohttp.ClientSession() as s, s.get(rig.base + f"/welcome?lang={lang}") as r:
        assert r.status == 200
        return await r.text()


async def test_welcome_says_no_internet_on_this_flight_only_in_the_air(rig: PortalRig) -> None:
    rig.flight.on_ground = False
    page = await welcome_text(rig)
    assert text("en", "no_internet") in page and text("en", "instead_offers") in page
    rig.flight.on_ground = True  # at the gate, the window open
    rig.services.groundlink = GroundWindow(open=True)
    page = await welcome_text(rig, "de")
    assert text("de", "no_internet") not in page and text("de", "no_internet_wifi") in page
    assert text("de", "instead_offers_now") in page and text("de", "instead_offers") not in page


async def test_ground_profile_welcome_and_delivery_say_now(tmp_path: Path) -> None:
    rig = await start_rig(tmp_path, profile="ground")
    try:
        rig.flight.on_ground = True
        page = await welcome_text(rig, "es")
        assert text("es", "no_internet") not in page and text("es", "no_internet_wifi") in page
        assert text("es", "instead_offers_now") in page
        async with aiohttp.ClientSession() as s:
            status, body = await order(s, rig, "offer", "hotel-madrid")
        assert (status, body["delivery"]) == (201, "now")
    finally:
        await rig.stop()
