"""The welcome page (server-rendered, works without JavaScript in sign-in mini-browsers), the accept action,
the captive-portal probes and the RFC 8908 API."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from html import escape
from typing import Any

from aiohttp import web

from appliance.portal.captive import captive_api_body, probe_answer
from appliance.portal.https import redirect_to_https
from appliance.portal.i18n import LANGUAGES, choose, text
from appliance.portal.security import json_error
from appliance.portal.services import Services, services_of
from appliance.portal.stream import SnapshotUnavailable

log = logging.getLogger("appliance.portal")

ACCEPT_PATH = "/captive-portal/accept"
WELCOME_PATH = "/welcome"


def welcome_url(services: Services, request: web.Request) -> str:
    """Where a probe is sent: the welcome page over HTTPS while HTTPS serves, else over HTTP at public_host
    (a relative redirect without one)."""
    if services.https.active:
        return services.https.origin(request) + WELCOME_PATH
    host = services.config.public_host
    return f"http://{host}{WELCOME_PATH}" if host else WELCOME_PATH


def _flight_line(document: dict[str, Any], lang: str) -> str:
    flight = document.get("flight") or {}
    destination = flight.get("destination") or {}
    parts = []
    if flight.get("flight_number"):
        parts.append(f"{escape(text(lang, 'flight'))} {escape(str(flight['flight_number']))}")
    if destination.get("city") or destination.get("icao"):
        parts.append(f"{escape(text(lang, 'to'))} {escape(str(destination.get('city') or destination['icao']))}")
    ttg = (document.get("progress") or {}).get("time_to_go") or {}
    if ttg.get("value") is not None:
        minutes = int(ttg["value"]) // 60
        parts.append(f"{escape(text(lang, 'time_to_go'))}: {minutes // 60} {text(lang, 'hours_short')} "
                     f"{minutes % 60:02d} {text(lang, 'minutes_short')}")
    return " · ".join(parts)


def render_welcome(services: Services, lang: str) -> str:
    def t(key: str) -> str:
        return escape(text(lang, key))

    try:
        document = services.broadcaster.latest().document
    except SnapshotUnavailable:  # logged by the ticker; the page says what there is on board without the line
        document = {}
    line = _flight_line(document, lang) if document else ""
    # what is true now: "no internet on this flight" only in the air; offers go now when they can
    airborne = not services.ground and document.get("on_ground") is False
    no_internet = t("no_internet") if airborne else t("no_internet_wifi")
    offers_line = "instead_offers_now" if services.delivers_now() else "instead_offers"
    watch = [] if services.ground else ["instead_watch"]
    items = "".join(f"<li>{t(k)}</li>" for k in ["instead_map", *watch, "instead_read", "instead_guides",
                                                  offers_line])
    current = ' aria-current="true"'
    switch = " ".join(
        f'<a href="{WELCOME_PATH}?lang={code}" hreflang="{code}" lang="{code}"'
        f'{current if code == lang else ""}>{escape(text(code, "lang_name"))}</a>'
        for code in LANGUAGES
    )
    ground = f'<p class="note">{t("ground_intro")}</p>' if services.ground else ""
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t("welcome_title")}</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/welcome.css">
</head><body>
<main class="welcome">
<h1>{t("welcome_title")}</h1>
{f'<p class="flight">{line}</p>' if line else ""}
<p class="nointernet" role="alert"><strong>{no_internet}</strong></p>
{ground}
<p>{t("instead_intro")}</p>
<ul>{items}</ul>
<form method="post" action="{ACCEPT_PATH}">
<input type="hidden" name="lang" value="{lang}">
<button type="submit">{t("accept")}</button>
</form>
<nav aria-label="{t("language")}">{switch}</nav>
</main></body></html>"""


async def welcome(request: web.Request) -> web.Response:
    services = services_of(request)
    lang = choose(request)
    response = web.Response(text=render_welcome(services, lang), content_type="text/html",
                            headers={"Cache-Control": "no-store"})
    if request.query.get("lang") in LANGUAGES:
        response.set_cookie("lang", lang, max_age=86400, samesite="Lax")
    return response


async def accept(request: web.Request) -> web.Response:
    """Accept for this client; 400 JSON for a body that is no form (a broken multipart body included)."""
    services = services_of(request)
    try:
        form = await request.post()
    except (ValueError, AssertionError, RuntimeError) as error:  # aiohttp's multipart reader on bad input
        log.info("welcome: unreadable accept form (%s)", type(error).__name__)
        return json_error(400, "the form could not be read")
    services.clients.accept(request.remote or "")
    response = web.Response(status=302, headers={"Location": "/"})
    lang = form.get("lang")
    if isinstance(lang, str) and lang in LANGUAGES:
        response.set_cookie("lang", lang, max_age=86400, samesite="Lax")
    response.headers["Cache-Control"] = "no-store"
    return response


async def captive_api(request: web.Request) -> web.Response:
    """RFC 8908. While HTTPS serves, only over HTTPS (a JSON 404 on the plain listener) and `user-portal-url` is
    HTTPS; without a certificate, over HTTP as before."""
    services = services_of(request)
    https = services.https
    if https.active and not request.secure:
        return json_error(404, f"the Captive Portal API is served over HTTPS only: "
                               f"{https.origin(request)}/captive-portal/api")
    if request.secure:
        portal = https.origin(request) + WELCOME_PATH
    else:
        portal = f"http://{services.config.public_host or _own_address(request)}{WELCOME_PATH}"
    body = captive_api_body(services.clients, request.remote or "", portal)
    return web.Response(
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/captive+json", "Cache-Control": "private, no-store"},
    )


def _own_address(request: web.Request) -> str:
    """The portal's address as this client reached it (never the client's Host header: DNS rebinding)."""
    transport = request.transport
    name = transport.get_extra_info("sockname") if transport is not None else None
    if not isinstance(name, tuple) or len(name) < 2:
        return "portal.invalid"
    host = f"[{name[0]}]" if ":" in str(name[0]) else str(name[0])
    return host if name[1] == 80 else f"{host}:{name[1]}"


async def probe(request: web.Request) -> web.Response:
    """A captive-portal probe path: the welcome page until this client accepted, then its platform's exact
    "online" answer; 404 on a Host that does not probe this path."""
    services = services_of(request)
    answer = probe_answer(request, services.clients, welcome_url(services, request))
    if answer is not None:
        return answer
    if services.https.active and not request.secure:  # a probe path on another host: like any other request
        return redirect_to_https(request, services.https)
    return json_error(404, "not found")


def client_activity(services: Services) -> Callable[[web.Request], None]:
    """The guard's first step, on every request: any request keeps an accepted client accepted."""
    clients = services.clients

    def seen(request: web.Request) -> None:
        clients.touch(request.remote or "")

    return seen


__all__ = ["accept", "captive_api", "client_activity", "json_error", "probe", "welcome"]
