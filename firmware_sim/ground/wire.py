"""What the ground station's listener and its desks share: the wire bytes a request and an answer cost on the
simulated link, the fault plan's processing delay handed from the middleware to the handler, and the error and
JSON helpers of every answer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

# Headers aiohttp adds to every answer (Server, Date, Content-Length, status line): counted as wire bytes.
RESPONSE_FRAMING = 120

PROCESSING_DELAY = web.RequestKey("processing_delay", float)  # a "slow" fault: set by the middleware


class Dropped(Exception):
    """The simulated link or a fault closed the connection: no answer reaches the client."""


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def request_wire_bytes(request: web.Request) -> int:
    line = len(request.method) + len(request.raw_path) + 12
    headers = sum(len(k) + len(v) + 4 for k, v in request.raw_headers)
    return line + headers + 2 + (request.content_length or 0)


def response_wire_bytes(response: web.StreamResponse) -> int:
    body = response.body if isinstance(response, web.Response) else None
    size = len(body) if isinstance(body, bytes | bytearray) else (response.content_length or 0)
    headers = sum(len(k) + len(v) + 4 for k, v in response.headers.items())
    return RESPONSE_FRAMING + headers + size


async def processing(request: web.Request) -> None:
    """The time the airline's service takes with this request: none unless a "slow" fault picked it."""
    delay = request.get(PROCESSING_DELAY, 0.0)
    if delay > 0:
        await asyncio.sleep(delay)


async def read_json(request: web.Request) -> Any:
    """The body as JSON, or None when it is not JSON (the handler answers 400 for the shape it expected)."""
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
