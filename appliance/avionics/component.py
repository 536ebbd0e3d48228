"""build(ctx): the avionics reader and the flight state it keeps (ctx.flight)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from appliance.avionics.reader import AvionicsReader
from appliance.avionics.state import FlightState

if TYPE_CHECKING:
    from appliance.daemon import Context


def build(ctx: Context) -> AvionicsReader:
    state = FlightState(ctx.clock)
    ctx.flight = state
    return AvionicsReader(ctx.config.avionics, ctx.clock, state, ctx.metrics)
