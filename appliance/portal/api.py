"""The passenger JSON API: flight, flight stream, track, catalog, and the bundle's files (orders: ordering.py)."""

from __future__ import annotations

import logging
import re
from pathlib import PurePosixPath
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from appliance.portal.catalog import CONTENT_TYPES, KINDS, select
from appliance.portal.files import send_file
from appliance.portal.https import redirect_to_https
from appliance.portal.i18n import LANGUAGES, choose
from appliance.portal.security import json_error
from appliance.portal.services import Services, services_of
from appliance.portal.stream import SnapshotUnavailable

log = logging.getLogger("appliance.portal.api")

NO_STORE = {"Cache-Control": "no-store"}
UNAVAILABLE_HEADERS = {"X-Content-Type-Options": "nosniff", "Retry-After": "5", "Cache-Control": "no-store"}
# set as headers, not through content_type= (which parses and rebuilds the header on every response)
FLIGHT_HEADERS = CIMultiDict({"Content-Type": "application/json", "Cache-Control": "no-store",
                              "X-Content-Type-Options": "nosniff"})
VIDEO_EXTENSIONS = frozenset({".m3u8", ".ts", ".m4s", ".mp4", ".aac"})
CATEGORY_RE = re.compile(r"[a-z0-9_-]{1,32}")


def _services(request: web.Request) -> Services:
    return services_of(request)


async def flight(request: web.Request) -> web.Response:
    """The latest tick's document, serialised once for everyone (the hot path of polling mini-browsers).
    Registered without the guard (security.Guard): it keeps the client active, sets every header itself and
    never raises."""
    try:
        services = _services(request)
        if services.https.active and not request.secure:
            return redirect_to_https(request, services.https)
        services.clients.touch(request.remote or "")
        frame = services.broadcaster.latest()
    except Exception as error:
        if not isinstance(error, SnapshotUnavailable):  # that one the ticker has logged
            log.exception("the flight document could not be built")
        return json_error(503, "flight data unavailable", UNAVAILABLE_HEADERS)
    return web.Response(body=frame.json, headers=FLIGHT_HEADERS)


async def flight_stream(request: web.Request) -> web.StreamResponse:
    return await _services(request).broadcaster.handle(request)


async def track(request: web.Request) -> web.Response:
    points = [list(p) for p in _services(request).report.track]
    return web.json_response({"points": points}, headers=NO_STORE)


async def catalog(request: web.Request) -> web.Response:
    services = _services(request)
    lang = request.query.get("lang") or choose(request)
    kind = request.query.get("kind")
    category = request.query.get("category")
    if lang not in LANGUAGES:
        return json_error(400, f"lang must be one of {', '.join(LANGUAGES)}")
    if kind is not None and kind not in KINDS:
        return json_error(400, f"kind must be one of {', '.join(KINDS)}")
    if category is not None and not CATEGORY_RE.fullmatch(category):
        return json_error(400, "category must be a short lower-case word")
    root = services.content.active_root() if services.content is not None else None
    parsed = services.catalogs.load(root)
    destination = services.report.destination_icao()
    offered = select(parsed, lang, kind=kind, profile=services.config.profile, destination=destination)
    items = offered if category is None else [i for i in offered if i["category"] == category]
    refusal = services.video_refusal()
    body: dict[str, Any] = {
        "bundle": services.content.active_id() if services.content is not None else None,
        "lang": lang,
        "profile": services.config.profile,
        "destination": destination,
        "video_available": refusal is None,
        "video_unavailable_reason": refusal,
        "categories": sorted({i["category"] for i in offered}),  # the choices, whatever the filter
        "items": items,
    }
    return web.json_response(body, headers={"Cache-Control": "no-cache", "Vary": "Accept-Language, Cookie"})


async def content_file(request: web.Request) -> web.StreamResponse:
    """A file of the active bundle: only inside it, only known types, by sendfile."""
    services = _services(request)
    relative = request.match_info["path"]
    root = services.content.active_root() if services.content is not None else None
    if root is None:
        return json_error(404, "no content on board yet")
    suffix = PurePosixPath(relative).suffix.lower()
    if suffix not in CONTENT_TYPES:
        return json_error(404, "not found")
    if suffix in VIDEO_EXTENSIONS and services.ground:
        return json_error(403, "videos are only available on board")
    if suffix == ".m3u8" and relative in services.catalogs.load(root).masters:
        refusal = services.video_refusal()
        if refusal is not None:
            return json_error(503, refusal, {"Retry-After": "300"})
    cache = "no-cache" if suffix == ".m3u8" else "public, max-age=3600"
    opened = services.bundle_files.open(root, relative)  # inside the bundle, never through a symlink
    if opened is None:
        return json_error(404, "not found")
    return await send_file(request, opened, {"Content-Type": CONTENT_TYPES[suffix], "Cache-Control": cache})

