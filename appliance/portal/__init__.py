"""The passenger portal: the passenger listener (`portal.listen`), separate from the maintenance listener.

Modules: `component` (lifecycle, `build(setup)`, `Portal.start(sock=None)` takes a systemd socket-activated
socket), `app` (routes), `security` (the guard around each route: probes hook, Origin and body checks, JSON errors,
headers; access log without client data), `welcome` + `captive` (probes, accept, RFC 8908), `flight` +
`airports` + `geo` (the /api/v1/flight document), `stream` (1 Hz snapshot, SSE fan-out), `catalog` (schema of
the bundle's catalog.json, safe file serving), `orders`, `i18n`, `openapi`. The web app is `static/`
(ES5 scripts that index.html loads in order: core, units, map, reader, catalog, app); third-party files in
`static/vendor/` come from npm via `vendor.sh`.

Passenger endpoints (all in /api/v1/openapi.json):
  GET  /  /welcome  /static/{path}  /content/{path}
  POST /captive-portal/accept   GET /captive-portal/api   the probe paths of reference/captive-portal.md
  HTTPS (`portal.tls_listen`, docs/tls.md): the same app; while it serves, plain HTTP keeps only the probes
  and redirects the rest (module `https`; `tls` checks and installs pairs, provided as ports.CERTIFICATES)
  GET  /api/v1/flight  /api/v1/flight/stream  /api/v1/flight/track  /api/v1/catalog  /api/v1/openapi.json
  POST /api/v1/orders  {"kind", "item", "email", "seat"?, "lang"?}
  POST /api/v1/payments  a card payment (a JWE made in the browser; payment.py)   GET /api/v1/payments/key
  POST /api/v1/orders/mine  {"receipts": [Idempotency-Keys]}: this passenger's orders and their states (mine.py)

Order kinds (outbox `kind`, payload {kind, item, item_title, email, seat, lang, flight_number}):
  booking | offer | email   need `item` (an id of the active catalog)
  password_reset            ground profile only (an online feature): needs only `email`; answered 403 in the air

Profiles: "air" (default) and "ground": no video (playlists and segments 403, none in the catalog), offers
first (destination offers before others), password reset offered, orders answered with delivery "now".
Over-temperature (alarm `over_temperature` active): a video's master playlist answers 503 with the reason
(new sessions stop; playing ones finish their segments) and the catalog says `video_available: false`.
"""

from __future__ import annotations

from appliance import ports
from appliance.core.spec import ComponentSpec, deferred
from appliance.portal.config import PortalConfig

COMPONENT = ComponentSpec(
    name="portal",
    config=PortalConfig,
    build=deferred("appliance.portal.component:build"),
    uses=(ports.FLIGHT, ports.OUTBOX, ports.CONTENT, ports.SCHEDULE, ports.GROUNDLINK, ports.STATE_DIR, ports.PAYMENTS,
          ports.CERTIFICATE_ENROLLMENT),  # hands the ground link's certificate step its installer
    provides=(ports.CERTIFICATES,),  # the ground's signed certificate targets are installed through it
)
