"""`offline_hours` in the catalog (Take it with you): the portal's schema, the content pack tool's check (the
same rule, ground side), the API's `savable`, and old bundles without it (not savable)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from appliance.content.catalog import check_catalog
from appliance.content.manifest import ManifestError
from appliance.content.pack import pack
from appliance.licence import offline_hours_error
from appliance.portal.catalog import parse_catalog
from tests.conftest import python_module, subprocess_env
from tests.portal.conftest import PortalRig

BASE: dict[str, Any] = {"id": "paper", "kind": "reading", "category": "newspaper", "languages": ["en"],
                        "title": {"en": "Paper"}, "files": {"pdf": "p.pdf"}}
FILES = {"reading": {"pdf": "p.pdf"}, "guide": {"html": "g.html"}, "video": {"hls": "v/master.m3u8"}, "offer": {}}
CASES = [  # (kind, offline_hours, accepted)
    ("reading", 24, True), ("reading", 0.003, True), ("guide", 168, True), ("reading", 8760, True),
    ("reading", 0, False), ("reading", -1, False), ("reading", 8761, False), ("reading", "24", False),
    ("reading", True, False), ("reading", None, False), ("reading", float("nan"), False),
    ("reading", float("inf"), False), ("video", 24, False), ("offer", 24, False),
]


def item(kind: str, hours: Any) -> dict[str, Any]:
    return BASE | {"kind": kind, "files": FILES[kind], "offline_hours": hours}


@pytest.mark.parametrize(("kind", "hours", "accepted"), CASES, ids=[f"{k}-{h!r}" for k, h, _ in CASES])
def test_the_portal_and_the_pack_tool_take_the_same_offline_hours(kind: str, hours: Any, accepted: bool) -> None:
    """The portal skips an item with a bad offline_hours (counted as invalid); the pack tool refuses it."""
    catalog = parse_catalog({"items": [item(kind, hours)]})
    assert (catalog.invalid == 0) is accepted
    if accepted:
        assert catalog.items[0]["offline_hours"] == hours and catalog.items[0]["savable"] is True
    assert (offline_hours_error(kind, hours) is None) is accepted


def test_an_old_bundle_without_offline_hours_loads_and_nothing_is_savable() -> None:
    catalog = parse_catalog({"items": [BASE, BASE | {"id": "city", "kind": "guide", "files": {"html": "g.html"}}]})
    assert catalog.invalid == 0
    assert [(i["id"], i["savable"], "offline_hours" in i) for i in catalog.items] == [
        ("paper", False, False), ("city", False, False)]


def test_pack_refuses_a_bad_offline_hours_naming_the_item_and_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "p.pdf").write_bytes(b"%PDF-1.4\n")
    (src / "catalog.json").write_text(json.dumps({"items": [item("reading", 24), item("video", 12) | {"id": "film"}]}))
    with pytest.raises(ManifestError, match="item film: offline_hours is only for reading and guide items"):
        pack(src, tmp_path / "out", bundle_id="b1")
    assert not (tmp_path / "out").exists()
    (src / "catalog.json").write_text(json.dumps({"items": [item("reading", 24), item("guide", 2) | {"id": "g"}]}))
    assert check_catalog(src) == ["paper", "g"]


def test_pack_command_lists_the_savable_items_and_refuses_a_bad_one(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "p.pdf").write_bytes(b"%PDF-1.4\n")
    (src / "catalog.json").write_text(json.dumps({"items": [item("reading", 24)]}))
    done = subprocess.run(python_module("appliance", "content", "pack", str(src), str(tmp_path / "b1"),
                                        "--bundle-id", "b1"), env=subprocess_env(), capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["savable"] == ["paper"]
    (src / "catalog.json").write_text(json.dumps({"items": [item("reading", "a day")]}))
    done = subprocess.run(python_module("appliance", "content", "pack", str(src), str(tmp_path / "b2"),
                                        "--bundle-id", "b2"), env=subprocess_env(), capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip() == ("appliance content pack: catalog.json: item paper: offline_hours must be a "
                                   "number of hours, not 'a day'")


async def test_the_catalog_api_says_what_is_savable_and_for_how_long(rig: PortalRig) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(rig.base + "/api/v1/catalog?lang=en") as r:
        items = {i["id"]: i for i in (await r.json())["items"]}
    savable = {i: item.get("offline_hours") for i, item in items.items() if item["savable"]}
    assert savable == {"news-2026-11-23": 24, "window-seat": 72, "guide-madrid": 168}
    assert items["skyways"]["savable"] is False and "offline_hours" not in items["skyways"]
