"""The one human line systemd shows for the daemon (`STATUS=`), e.g.
"cruise FL350, 12 orders pending, modem searching; ALARM over_temperature: ...; degraded: modem: no SIM".

Active alarms come before the degraded components: they are what an engineer must see first."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from appliance.alarms import Alarms
from appliance.component import Check, Component
from appliance.lifecycle import Lifecycle, degraded
from appliance.ports import FlightView, ModemState, ModemView, Outbox

log = logging.getLogger("appliance.statusline")


def _flight_part(flight: FlightView | None) -> str | None:
    if flight is None:
        return None
    phase = flight.phase
    altitude = flight.usable("altitude")
    if isinstance(altitude, int | float) and phase not in ("gate", "taxi", "landed", "unknown"):
        return f"{phase} FL{round(altitude / 100):03d}"
    return phase


def _outbox_part(outbox: Outbox | None) -> str | None:
    if outbox is None:
        return None
    pending = sum(outbox.counts().values())
    return f"{pending} order{'s' if pending != 1 else ''} pending"


def _modem_part(modem: ModemView | None) -> str | None:
    if modem is None:
        return None
    state = ModemState(modem.state)
    return f"modem {state.label}{' roaming' if modem.roaming and state.is_registered else ''}"


def status_line(
    checks: Sequence[tuple[Component, Check]],
    lifecycle: Lifecycle,
    *,
    flight: FlightView | None = None,
    outbox: Outbox | None = None,
    modem: ModemView | None = None,
    alarms: Alarms | None = None,
) -> str:
    parts: list[str] = []
    readers: list[tuple[str, Callable[[], str | None]]] = [
        ("flight", lambda: _flight_part(flight)),
        ("outbox", lambda: _outbox_part(outbox)),
        ("modem", lambda: _modem_part(modem)),
    ]
    for name, part in readers:
        try:
            text = part()
        except Exception:  # a status line must never take the daemon down
            log.exception("status line part %s failed", name)
            text = None
        if text:
            parts.append(text)
    line = ", ".join(parts) or f"{len(checks)} components running"
    if alarms is not None and alarms.active():
        line += "; " + alarms.check().reason.replace("alarm ", "ALARM ")
    trouble = degraded(checks)
    if trouble:
        line += "; degraded: " + "; ".join(trouble)
    if lifecycle.reload_error:
        line += f"; config reload refused ({lifecycle.reload_error}), previous config kept"
    if lifecycle.watchdog_withheld:
        line += f"; watchdog withheld: {lifecycle.watchdog_withheld}"
    return line[:400]
