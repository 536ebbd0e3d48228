"""`GET /api/v1/outbox`: what waits for the ground window and what the ground refused, for engineers.

By state ("pending", "dead") and kind: the count, the oldest item's age, and the oldest `limit` items with
their ids, ISO times, ages, attempts and last errors. Never a passenger's data: the outbox's own listing has no
payloads and redacts them (and e-mail addresses) from error texts. Ages are from the wall clock, which may be
wrong: they are for people, not for ordering (the seq is).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from appliance.jsonhttp import error
from appliance.ports import Outbox

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def iso(wall: float | None) -> str | None:
    if wall is None:
        return None
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _age(now: float, wall: float | None) -> float | None:
    return None if wall is None else round(max(now - wall, 0.0), 1)


def outbox_document(outbox: Outbox, now: float, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
    """The route's body; `now` is the wall clock."""
    listing = outbox.listing(limit)
    document: dict[str, Any] = {"time": iso(now), "limit": limit}
    for state, kinds in listing.items():
        section: dict[str, Any] = {}
        for kind, group in sorted(kinds.items()):
            items = []
            for raw in group["items"]:
                item = {
                    "id": raw["id"],
                    "seq": raw["seq"],
                    "created": iso(raw["created_wall"]),
                    "age_seconds": _age(now, raw["created_wall"]),
                    "attempts": raw["attempts"],
                    "last_error": raw["last_error"],
                    "last_attempt": iso(raw["last_attempt_wall"]),
                }
                if "reason" in raw:
                    item |= {"reason": raw["reason"], "dead": iso(raw.get("dead_wall"))}
                items.append(item)
            section[kind] = {
                "count": group["count"],
                "oldest_age_seconds": items[0]["age_seconds"] if items else None,
                "truncated": group["count"] > len(items),
                "items": items,
            }
        document[state] = section
    return document


def routes(outbox: Outbox, wall: Callable[[], float]) -> list[web.RouteDef]:
    """Storage's maintenance route (behind the listener's network check and token)."""

    async def list_outbox(request: web.Request) -> web.Response:
        """Pending and dead-lettered items by kind (`?limit=N` items per kind, 1..1000): never personal data."""
        raw = request.query.get("limit", str(DEFAULT_LIMIT))
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
            return error(400, f"limit must be a whole number in 1..{MAX_LIMIT}")
        return web.json_response(outbox_document(outbox, wall(), int(raw)))

    return [web.get("/api/v1/outbox", list_outbox)]
