"""The sensors component: board temperature (LM75), supply voltage and current (INA219), over I2C."""

from __future__ import annotations

from typing import Any

from appliance.core.spec import ComponentSpec, Setup
from appliance.sensors.config import SensorsConfig


def _build(setup: Setup[SensorsConfig]) -> Any:
    from appliance.sensors.component import build

    return build(setup)


COMPONENT = ComponentSpec(
    name="sensors",
    config=SensorsConfig,
    build=_build,
    reloadable=frozenset({"poll_interval", "limit", "hysteresis"}),
)
