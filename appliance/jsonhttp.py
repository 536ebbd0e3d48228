"""JSON errors and bodies for the daemon's HTTP routes (the maintenance listener and the routes components
register on it): every refusal is a 4xx/5xx with {"error": reason}, never an HTML page or a traceback."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from appliance.httpserve import BadJSON, parse_json


def error(status: int, message: str, retry_after: int | None = None, **extra: Any) -> web.Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return web.json_response({"error": message, **extra}, status=status, headers=headers)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (depth-limited: a 2,000-deep body is a 400, never a RecursionError). Raises
    HTTPBadRequest (answered as a JSON 400) for anything else."""
    try:
        body = parse_json(await request.read())
    except BadJSON as problem:
        raise web.HTTPBadRequest(reason=str(problem)) from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(reason="the body must be a JSON object")
    return body
