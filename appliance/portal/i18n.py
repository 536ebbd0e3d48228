"""Languages: en, es, ca, fr, de. One string table (static/i18n.json) for the server-rendered welcome page and
the web app. Choice: `?lang=`, then the `lang` cookie, then Accept-Language, then English."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from aiohttp import web

LANGUAGES = ("en", "es", "ca", "fr", "de")
DEFAULT = "en"
STRINGS_PATH = Path(__file__).with_name("static") / "i18n.json"


@cache
def strings() -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = json.loads(STRINGS_PATH.read_text(encoding="utf-8"))
    return table


def text(lang: str, key: str) -> str:
    table = strings()
    return table.get(lang, table[DEFAULT]).get(key) or table[DEFAULT][key]


def parse_accept_language(header: str) -> str | None:
    """The supported language the client prefers most (RFC 9110 weights), or None."""
    best: tuple[float, int, str] | None = None
    for position, part in enumerate(header.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        weight = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                weight = float(params[2:])
            except ValueError:
                continue
        if weight <= 0:
            continue
        candidate = (weight, -position, primary)
        if best is None or candidate > best:
            best = candidate
    return best[2] if best else None


def choose(request: web.Request) -> str:
    for candidate in (request.query.get("lang"), request.cookies.get("lang")):
        if candidate in LANGUAGES:
            return candidate
    return parse_accept_language(request.headers.get("Accept-Language", "")) or DEFAULT
