"""The sensors component: board temperature (LM75), supply voltage and current (INA219), over I2C."""

from __future__ import annotations

from appliance.core.spec import ComponentSpec, deferred
from appliance.sensors.config import SensorsConfig

COMPONENT = ComponentSpec(
    name="sensors",
    config=SensorsConfig,
    build=deferred("appliance.sensors.component:build"),
    reloadable=frozenset({"poll_interval", "limit", "hysteresis"}),
)
