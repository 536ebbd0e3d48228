"""build(setup): the avionics reader and the flight state it keeps (the FLIGHT service)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from appliance import ports
from appliance.avionics.config import AvionicsConfig
from appliance.avionics.reader import AvionicsReader
from appliance.avionics.state import FlightState

if TYPE_CHECKING:
    from appliance.core.spec import Setup


def build(setup: Setup[AvionicsConfig]) -> AvionicsReader:
    state = FlightState(setup.clock)
    setup.provide(ports.FLIGHT, state)
    lifecycle = setup.lifecycle
    return AvionicsReader(setup.config, setup.clock, state, setup.metrics, ready=lambda: lifecycle.ready)
