"""`/api/v1/openapi.json`: every passenger endpoint, written by hand (tests keep it in step with the router)."""

from __future__ import annotations

from typing import Any

from appliance import __version__
from appliance.portal.captive import PROBE_PATHS
from appliance.portal.catalog import KINDS
from appliance.portal.i18n import LANGUAGES
from appliance.portal.orders import ITEM_KINDS
from appliance.portal.orders import KINDS as ORDER_KINDS

ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(ERROR, description)


def _text(media: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": {"type": "string"}}}}


REDIRECT = {"description": "redirect", "headers": {"Location": {"schema": {"type": "string"}}}}
STATUS = {"type": "string", "description": "`normal`, else why the value is null: the avionics status (`stale`, "
                                          "`failure_warning`, ...), `never` (not received) or `unavailable`"}
AGE = {"type": ["number", "null"],
       "description": "seconds since the value (for a computed value: its oldest input) was received; null: never "
                      "received, or not from a measurement"}
VALUE = {
    "type": "object",
    "required": ["value", "units", "status", "age"],
    "additionalProperties": False,
    "properties": {"value": {"type": ["number", "null"]}, "units": {"type": "string"}, "status": STATUS, "age": AGE},
}
NULLABLE_STRING = {"type": ["string", "null"]}
ETA = {
    "type": "object",
    "required": ["utc", "local", "tz", "status", "age"],
    "additionalProperties": False,
    "properties": {"utc": NULLABLE_STRING, "local": NULLABLE_STRING, "tz": NULLABLE_STRING, "status": STATUS,
                   "age": AGE},
}
PROGRESS = {
    "type": "object",
    "description": "computed from the position (and ground speed for time to go and ETA): each value has the status "
                   "and the age of its inputs",
    "required": ["total_distance", "distance_to_go", "time_to_go", "percent_complete", "eta"],
    "additionalProperties": False,
    "properties": {
        "total_distance": VALUE, "distance_to_go": VALUE, "time_to_go": VALUE, "percent_complete": VALUE, "eta": ETA,
    },
}
LANG = {"name": "lang", "in": "query", "required": False, "schema": {"type": "string", "enum": list(LANGUAGES)}}


def _probe(path: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": f"captive-portal probe {path} (matched with the Host header)",
            "tags": ["captive"],
            "responses": {
                "200": _text("text/plain", "the platform's exact online answer (after acceptance)")
                | {"content": {"text/plain": {"schema": {"type": "string"}},
                               "text/html": {"schema": {"type": "string"}}}},
                "204": {"description": "online (Android, Chrome): after acceptance"},
                "302": REDIRECT,
                "404": _error("not a probe for this Host"),
            },
        }
    }


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/": {"get": {"summary": "the web app", "tags": ["app"], "parameters": [LANG],
                      "responses": {"200": _text("text/html", "the app shell")}}},
        "/welcome": {"get": {"summary": "welcome page (works without JavaScript)", "tags": ["captive"],
                             "parameters": [LANG],
                             "responses": {"200": _text("text/html", "says there is no internet, and what is")}}},
        "/captive-portal/accept": {"post": {
            "summary": "the client accepts the portal; its probes then get the online answers",
            "tags": ["captive"],
            "requestBody": {"required": False, "content": {"application/x-www-form-urlencoded": {"schema": {
                "type": "object", "properties": {"lang": {"type": "string", "enum": list(LANGUAGES)}}}}}},
            "responses": {"302": REDIRECT, "403": _error("cross-origin"), "413": _error("body too large")},
        }},
        "/captive-portal/api": {"get": {
            "summary": "RFC 8908 Captive Portal API", "tags": ["captive"],
            "responses": {"200": {"description": "state of this client", "content": {"application/captive+json": {
                "schema": {"type": "object", "required": ["captive"], "properties": {
                    "captive": {"type": "boolean"}, "user-portal-url": {"type": "string"},
                    "venue-info-url": {"type": "string"}, "can-extend-session": {"type": "boolean"},
                    "seconds-remaining": {"type": "integer"}}}}}}},
        }},
        "/api/v1/flight": {"get": {
            "summary": "the live flight (refreshed once a second)", "tags": ["flight"],
            "responses": {"200": _json({"$ref": "#/components/schemas/Flight"}, "the flight now"),
                          "503": _error("flight data unavailable (the last snapshot failed; Retry-After)")},
        }},
        "/api/v1/flight/stream": {"get": {
            "summary": "Server-Sent Events: event `flight` with the /api/v1/flight document every second, "
                       "`id` for Last-Event-ID, a heartbeat comment every 15 s", "tags": ["flight"],
            "parameters": [{"name": "Last-Event-ID", "in": "header", "required": False,
                            "schema": {"type": "string"}}],
            "responses": {"200": _text("text/event-stream", "the stream"),
                          "503": _error("too many clients: poll /api/v1/flight"),
                          "505": _error("HTTP/1.0: poll /api/v1/flight")},
        }},
        "/api/v1/flight/track": {"get": {
            "summary": "the flown track so far", "tags": ["flight"],
            "responses": {"200": _json({"type": "object", "required": ["points"], "properties": {
                "points": {"type": "array", "items": {"type": "array", "items": {"type": "number"},
                                                      "minItems": 2, "maxItems": 2}}}}, "[lat, lon] points")},
        }},
        "/api/v1/catalog": {"get": {
            "summary": "what there is to watch, read, browse and order, from the active content bundle",
            "tags": ["catalog"],
            "parameters": [LANG,
                           {"name": "kind", "in": "query", "required": False,
                            "schema": {"type": "string", "enum": list(KINDS)}},
                           {"name": "category", "in": "query", "required": False,
                            "schema": {"type": "string", "pattern": "^[a-z0-9_-]{1,32}$"}}],
            "responses": {"200": _json({"$ref": "#/components/schemas/Catalog"}, "the catalog"),
                          "400": _error("bad query")},
        }},
        "/api/v1/orders": {"post": {
            "summary": "a booking, an offer request, 'e-mail me this', or (ground profile) a password reset; "
                       "201 only once durable. Delivered by the ground link when it can (`delivery`).",
            "description": "Send a fresh `Idempotency-Key` with each order the passenger places and the same "
                           "key with every retry of it (a lost answer, a second tap): the same key with the "
                           "same body answers the original 201 (with `Idempotent-Replayed: true`), even after "
                           "a restart of the server; the same key with another body is a 422. Keys are kept "
                           "for at least a day. Without the header every request is a new order. The item must "
                           "take the order's kind (the catalog item's `orders`).",
            "tags": ["orders"],
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                            "description": "one per order the passenger places (e.g. a UUID), reused on retry",
                            "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/OrderRequest"}}}},
            "responses": {
                "201": _json({"type": "object", "required": ["id", "kind", "status", "delivery"], "properties": {
                    "id": {"type": "string", "description": "the order's reference"},
                    "kind": {"type": "string"}, "status": {"type": "string"},
                    "delivery": {"type": "string", "enum": ["after_landing", "now"],
                                 "description": "now on the ground profile or while the ground window is "
                                                "open, else after landing"}}},
                             "stored durably (or, for a key already used with this body, the original answer)"),
                "400": _error("not JSON, or a malformed Idempotency-Key"),
                "403": _error("cross-origin, or not available in this profile"),
                "413": _error("body too large"), "415": _error("not application/json"),
                "422": _error("invalid field, an item that does not take this kind, or an Idempotency-Key "
                              "already used with another body"), "429": _error("too many orders from this device"),
                "503": _error("storage refused the write: nothing was stored"),
            },
        }},
        "/api/v1/orders/mine": {"post": {
            "summary": "this passenger's orders and what became of them (stored on board, sent, confirmed, "
                       "declined, failed)",
            "description": "`receipts` are the Idempotency-Keys the passenger's browser made for its orders "
                           "(kept on the device: localStorage and the page's URL fragment). The server keeps only "
                           "their SHA-256: nothing is found by an order's id, nor without its key; keys under 16 "
                           "characters, unknown or older than two days are listed under `unknown`.",
            "tags": ["orders"],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["receipts"], "additionalProperties": False,
                "properties": {"receipts": {"type": "array", "maxItems": 50, "items": {"type": "string"}}}}}}},
            "responses": {
                "200": _json({"type": "object", "required": ["orders", "unknown"], "properties": {
                    "orders": {"type": "array", "items": {"$ref": "#/components/schemas/MyOrder"}},
                    "unknown": {"type": "array", "items": {"type": "string"}}}}, "the orders these keys made"),
                "400": _error("not JSON"), "403": _error("cross-origin"), "413": _error("body too large"),
                "415": _error("not application/json"), "422": _error("not {\"receipts\": [...]}"),
            },
        }},
        "/api/v1/payments": {"post": {
            "summary": "pay for a catalog item by card, offline: stored on board (201 only once durable), "
                       "authorised by the processor in the ground window",
            "description": "The card is encrypted in the browser to the processor's key "
                           "(`/api/v1/payments/key`) as a compact JWE (RSA-OAEP-256, A256GCM): the server gets "
                           "only the JWE, the brand and the last four digits. `amount_minor` must be the "
                           "catalog's price times `quantity`. Over an offline limit or a hot card: 422 with "
                           "`reason` (over_transaction_limit, over_card_limit, over_device_limit, "
                           "over_flight_limit, hot_card, currency, unavailable) and nothing stored. "
                           "Idempotency-Key is required, with the rules of /api/v1/orders.",
            "tags": ["orders"],
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": True,
                            "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/PaymentRequest"}}}},
            "responses": {
                "201": _json({"type": "object", "required": ["id", "kind", "status", "delivery", "amount_minor",
                                                             "currency", "brand", "last4"], "properties": {
                    "id": {"type": "string"}, "kind": {"const": "payment"}, "status": {"type": "string"},
                    "delivery": {"type": "string", "enum": ["after_landing", "now"]},
                    "amount_minor": {"type": "integer"}, "currency": {"type": "string"},
                    "brand": {"type": "string"}, "last4": {"type": "string"}}}, "stored durably"),
                "400": _error("not JSON, or no or a malformed Idempotency-Key"),
                "403": _error("cross-origin"), "413": _error("body too large"),
                "415": _error("not application/json"),
                "422": _error("invalid field, a price that is not the catalog's, over a limit or a hot card "
                              "(`reason`), or an Idempotency-Key already used with another body"),
                "429": _error("too many orders from this device"),
                "503": _error("card payment unavailable, or storage refused the write: nothing was stored"),
            },
        }},
        "/api/v1/payments/key": {"get": {
            "summary": "the card processor's public key (RSA JWK, for RSA-OAEP-256), from the content bundle",
            "tags": ["orders"],
            "responses": {"200": _json({"type": "object", "required": ["kty", "n", "e"], "properties": {
                "kty": {"const": "RSA"}, "n": {"type": "string"}, "e": {"type": "string"},
                "kid": {"type": "string"}, "alg": {"const": "RSA-OAEP-256"}}}, "the key"),
                          "404": _error("card payment is not available on board")},
        }},
        "/api/v1/openapi.json": {"get": {"summary": "this document", "tags": ["meta"],
                                         "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")}}},
        "/content/{path}": {"get": {
            "summary": "a file of the active bundle (HLS playlists and segments, PDFs, images, guides)",
            "tags": ["catalog"],
            "parameters": [{"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "the file", "content": {"*/*": {}}},
                          "403": _error("video on the ground"), "404": _error("no such file"),
                          "503": _error("new video sessions are paused (over-temperature)")},
        }},
        "/sw.js": {"get": {
            "summary": "the web app's service worker (scope /): keeps saved readings and the app for after "
                       "landing; never API answers or the stream",
            "tags": ["app"],
            "responses": {"200": _text("text/javascript", "the script (no-cache; Service-Worker-Allowed: /)"),
                          "403": _error("a host name that is not the portal's")},
        }},
        "/static/{path}": {"get": {
            "summary": "the web app's files", "tags": ["app"],
            "parameters": [{"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "the file", "content": {"*/*": {}}},
                          "403": _error("forbidden"), "404": _error("no such file")},
        }},
    }
    for path in sorted(PROBE_PATHS):
        paths[path] = _probe(path)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Appliance passenger portal", "version": __version__,
                 "description": "The passenger listener of the cabin server. No internet: orders are sent "
                                "after landing."},
        "paths": paths,
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"],
                      "properties": {"error": {"type": "string"}, "field": {"type": "string"},
                                     "reason": {"type": "string", "description": "payments: why it was refused"},
                                     "limit_minor": {"type": ["integer", "null"]},
                                     "expected_minor": {"type": "integer"}}},
            "MyOrder": {"type": "object", "required": ["receipt", "id", "kind", "created", "state"], "properties": {
                "receipt": {"type": "string"}, "id": {"type": "string"}, "kind": {"type": "string"},
                "item": NULLABLE_STRING, "title": NULLABLE_STRING,
                "created": {"type": "string", "description": "UTC, ISO 8601"},
                "state": {"type": "string", "enum": ["stored", "sent", "confirmed", "declined", "failed"]},
                "reason": NULLABLE_STRING, "amount_minor": {"type": "integer"}, "currency": {"type": "string"},
                "brand": {"type": "string"}, "last4": {"type": "string"}, "quantity": {"type": "integer"},
                "authorisation": {"type": "string"}}},
            "PaymentRequest": {"type": "object", "additionalProperties": False,
                               "required": ["item", "amount_minor", "currency", "jwe", "brand", "last4", "email"],
                               "properties": {
                                   "item": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"},
                                   "quantity": {"type": "integer", "minimum": 1, "maximum": 9},
                                   "amount_minor": {"type": "integer", "minimum": 1},
                                   "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
                                   "jwe": {"type": "string", "description": "compact JWE of the card"},
                                   "brand": {"type": "string"},
                                   "last4": {"type": "string", "pattern": "^[0-9]{4}$"},
                                   "email": {"type": "string", "format": "email", "maxLength": 254},
                                   "seat": {"type": "string", "pattern": "^[1-9][0-9]{0,2}[A-K]$"},
                                   "lang": {"type": "string", "enum": list(LANGUAGES)}}},
            "Value": VALUE,
            "Flight": {"type": "object", "required": ["seq", "phase", "flight", "parameters", "progress", "time"],
                       "properties": {
                           "seq": {"type": "integer"}, "phase": {"type": "string"},
                           "on_ground": {"type": ["boolean", "null"]},
                           "flight": {"type": "object"},
                           "parameters": {"type": "object", "additionalProperties": VALUE},
                           "position": {"type": ["object", "null"]},
                           "progress": PROGRESS, "time": {"type": "object"}}},
            "Catalog": {"type": "object", "required": ["items", "lang", "profile", "video_available"],
                        "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {
                                           "orders": {"type": "array", "items": {"type": "string",
                                                                                 "enum": list(ITEM_KINDS)},
                                                      "description": "the order kinds this item takes"},
                                           "duration_s": {"type": "number"},
                                           "price": {"type": "string", "description": "as text"},
                                           "price_value": {"type": "object", "properties": {
                                               "currency": {"type": "string"}, "amount": {"type": "number"},
                                               "amount_minor": {"type": "integer"},
                                               "exponent": {"type": "integer"},
                                               "per": {"type": "string", "enum": ["night", "item", "person"]}}},
                                           "mode": {"type": "string", "enum": ["bought", "booked", "requested"]},
                                           "payable": {"type": "boolean",
                                                       "description": "takes card payment on board"},
                                           "offline_hours": {"type": "number", "exclusiveMinimum": 0,
                                                             "maximum": 8760,
                                                             "description": "readings and guides whose licence "
                                                                            "allows it: hours a passenger may "
                                                                            "keep it on their device"},
                                           "savable": {"type": "boolean",
                                                       "description": "may be saved to the device (has "
                                                                      "offline_hours)"}}}},
                                       "lang": {"type": "string"}, "profile": {"type": "string"},
                                       "video_available": {"type": "boolean"},
                                       "video_unavailable_reason": {"type": ["string", "null"]},
                                       "bundle": {"type": ["string", "null"]},
                                       "destination": {"type": ["string", "null"]},
                                       "categories": {"type": "array", "items": {"type": "string"},
                                                      "description": "every category on offer in this language "
                                                                     "(and kind), whatever the category filter"}}},
            "OrderRequest": {"type": "object", "required": ["kind", "email"], "additionalProperties": False,
                             "properties": {
                                 "kind": {"type": "string", "enum": list(ORDER_KINDS)},
                                 "item": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"},
                                 "email": {"type": "string", "format": "email", "maxLength": 254},
                                 "seat": {"type": "string", "pattern": "^[1-9][0-9]{0,2}[A-K]$"},
                                 "lang": {"type": "string", "enum": list(LANGUAGES)}}},
        }},
    }
