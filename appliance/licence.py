"""The catalog's licence field the aircraft acts on by itself: `offline_hours`, how long a passenger may keep a
reading or a guide on their own device ("Take it with you"). One rule for both sides: the portal skips an item
that breaks it (on board), `appliance content pack` refuses it (on the ground, naming the item)."""

from __future__ import annotations

from typing import Any

#: the kinds a licence may let a passenger keep on their device; films and offers never
SAVABLE_KINDS = ("reading", "guide")
MAX_OFFLINE_HOURS = 8760  # a year


def offline_hours_error(kind: Any, hours: Any) -> str | None:
    """Why an item's `offline_hours` is refused, or None when it is good (a positive number of hours, at most a
    year, on a reading or a guide; NaN, infinity and booleans are refused)."""
    if kind not in SAVABLE_KINDS:
        return f"offline_hours is only for {' and '.join(SAVABLE_KINDS)} items, not {kind!r}"
    if isinstance(hours, bool) or not isinstance(hours, int | float):
        return f"offline_hours must be a number of hours, not {hours!r}"
    if not 0 < hours <= MAX_OFFLINE_HOURS:
        return f"offline_hours must be more than 0 and at most {MAX_OFFLINE_HOURS} (a year), not {hours!r}"
    return None
