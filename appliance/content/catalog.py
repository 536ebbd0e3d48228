"""What `appliance content pack` checks in a source's `catalog.json` before it builds a bundle: the licence
fields the aircraft acts on without asking anyone, today `offline_hours` (how long a passenger may keep a
reading or a guide on their own device, docs of appliance/portal/catalog.py).

The portal parses the catalog itself on board (and skips an item that breaks the schema); this check is the
ground side's, so that a content team learns about a bad licence field when it packs, not when an item has
quietly vanished from every aircraft's app. The rule is one, shared with the portal (appliance/licence.py);
a catalog that is not JSON or has no item list is left to the portal, as before."""

from __future__ import annotations

import json
from pathlib import Path

from appliance.content.manifest import ManifestError
from appliance.licence import offline_hours_error

CATALOG_NAME = "catalog.json"
def check_catalog(src: Path) -> list[str]:
    """The ids of the items a passenger may save (with their licence's `offline_hours`), in catalog order.
    Raises ManifestError naming the item of a refused `offline_hours`."""
    try:
        document = json.loads((src / CATALOG_NAME).read_bytes())
    except (OSError, ValueError):
        return []
    items = document.get("items") if isinstance(document, dict) else None
    savable: list[str] = []
    for position, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict) or "offline_hours" not in item:
            continue
        name = item.get("id") if isinstance(item.get("id"), str) else f"#{position}"
        problem = offline_hours_error(item.get("kind"), item["offline_hours"])
        if problem is not None:
            raise ManifestError(f"{CATALOG_NAME}: item {name}: {problem}")
        savable.append(str(name))
    return savable
