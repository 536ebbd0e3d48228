"""The one human line systemd shows for the daemon (`STATUS=`), e.g.
"cruise FL350, 12 orders pending, modem searching; ALARM over_temperature: ...; degraded: modem: no SIM".

Active alarms come before the degraded components: they are what an engineer must see first."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from appliance.lifecycle import component_check, degraded

if TYPE_CHECKING:
    from appliance.daemon import Context

log = logging.getLogger("appliance.statusline")

# ModemManager's MMModemState
MODEM_STATES = {
    -1: "failed",
    0: "unknown",
    1: "initializing",
    2: "locked",
    3: "disabled",
    4: "disabling",
    5: "enabling",
    6: "enabled",
    7: "searching",
    8: "registered",
    9: "disconnecting",
    10: "connecting",
    11: "connected",
}


def _flight_part(ctx: Context) -> str | None:
    if ctx.flight is None:
        return None
    phase = ctx.flight.phase
    altitude = ctx.flight.usable("altitude")
    if isinstance(altitude, int | float) and phase not in ("gate", "taxi", "landed", "unknown"):
        return f"{phase} FL{round(altitude / 100):03d}"
    return phase


def _outbox_part(ctx: Context) -> str | None:
    if ctx.outbox is None:
        return None
    pending = sum(ctx.outbox.counts().values())
    return f"{pending} order{'s' if pending != 1 else ''} pending"


def _modem_part(ctx: Context) -> str | None:
    if ctx.modem is None:
        return None
    state = ctx.modem.state
    name = MODEM_STATES.get(state, str(state))
    return f"modem {name}{' roaming' if ctx.modem.roaming and state >= 8 else ''}"


def status_line(ctx: Context) -> str:
    parts: list[str] = []
    for part in (_flight_part, _outbox_part, _modem_part):
        try:
            text = part(ctx)
        except Exception:  # a status line must never take the daemon down
            log.exception("status line part %s failed", part.__name__)
            text = None
        if text:
            parts.append(text)
    lifecycle = ctx.lifecycle
    line = ", ".join(parts) or f"{len(ctx.components)} components running"
    if ctx.alarms is not None and ctx.alarms.active():
        line += "; " + ctx.alarms.check().reason.replace("alarm ", "ALARM ")
    trouble = degraded((c, component_check(c, lifecycle)) for c in ctx.components)
    if trouble:
        line += "; degraded: " + "; ".join(trouble)
    if lifecycle.reload_error:
        line += f"; config reload refused ({lifecycle.reload_error}), previous config kept"
    if lifecycle.watchdog_withheld:
        line += f"; watchdog withheld: {lifecycle.watchdog_withheld}"
    return line[:400]
