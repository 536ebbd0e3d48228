"""JSON errors and bodies for the daemon's HTTP routes (the maintenance listener and the routes components
register on it): every refusal is a 4xx/5xx with {"error": reason}, never an HTML page or a traceback."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


def error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object. Raises HTTPBadRequest (answered as a JSON 400) for anything else."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise web.HTTPBadRequest(reason="the body is not JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(reason="the body must be a JSON object")
    return body
