"""The discretes component: the board's discrete signals, the power-fail path, the built-in test, outputs and
the modem's power line."""

from __future__ import annotations

from appliance import ports
from appliance.core.spec import ComponentSpec, deferred, snapshot_section
from appliance.discretes.config import DiscretesConfig

COMPONENT = ComponentSpec(
    name="discretes",
    config=DiscretesConfig,
    build=deferred("appliance.discretes.component:build"),
    provides=(ports.DISCRETES, ports.MODEM_POWER),
    requires=(ports.STATE_DIR,),  # the outputs' audit file
    uses=(ports.FLUSHABLES,),  # what the power-fail path makes durable
    critical=True,
    status={"discretes": snapshot_section},
    routes=deferred("appliance.discretes.routes:routes"),
)
