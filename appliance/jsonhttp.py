"""JSON errors and bodies for the daemon's HTTP routes (the maintenance listener and the routes components
register on it): every refusal is a 4xx/5xx with {"error": reason}, never an HTML page or a traceback."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


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


MAX_JSON_DEPTH = 16


class BadJSON(ValueError):
    """A body that is not acceptable JSON; the message is safe to send back (it quotes nothing)."""


def parse_json(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON document in `raw`. Raises BadJSON for bytes that are not UTF-8 JSON, or that nest arrays and
    objects deeper than `max_depth` (checked before parsing, so a 2,000-deep body costs one scan, never a
    RecursionError)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadJSON("the body is not UTF-8") from None
    if json_depth(text) > max_depth:
        raise BadJSON(f"the body nests deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise BadJSON("the body is not valid JSON") from None


def json_depth(text: str) -> int:
    """The deepest nesting of `[` and `{` outside strings (an upper bound for malformed text)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest
