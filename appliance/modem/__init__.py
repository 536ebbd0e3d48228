"""The 3G modem: state over the AT port (ModemManager's states) and its recovery ladder."""

from __future__ import annotations

from appliance import ports
from appliance.core.spec import ComponentSpec, deferred, snapshot_section
from appliance.modem.config import ModemConfig

COMPONENT = ComponentSpec(
    name="modem",
    config=ModemConfig,
    build=deferred("appliance.modem.component:build"),
    provides=(ports.MODEM,),
    uses=(ports.MODEM_POWER,),  # the last rung of the recovery ladder, where the board has the power line
    status={"modem": snapshot_section},
)
