"""The ground link's maintenance route: POST /api/v1/groundlink/sync, an engineer's "sync now"."""

from __future__ import annotations

import logging

from aiohttp import web

from appliance.ports import GroundLinkControl

log = logging.getLogger("appliance.groundlink")


def routes(link: GroundLinkControl) -> list[web.RouteDef]:
    async def sync_now(request: web.Request) -> web.Response:
        answer = link.request_sync()
        log.info("ground sync requested by maintenance")
        return web.json_response({"requested": True, **answer}, status=202)

    return [web.post("/api/v1/groundlink/sync", sync_now)]
