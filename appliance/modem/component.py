"""Builder for the composition root."""

from __future__ import annotations

from typing import TYPE_CHECKING

from appliance import ports
from appliance.modem.config import ModemConfig
from appliance.modem.modem import Modem

if TYPE_CHECKING:
    from appliance.core.spec import Setup


def build(setup: Setup[ModemConfig]) -> Modem:
    modem = Modem(setup.config, setup.clock, setup.metrics, power=setup.use(ports.MODEM_POWER))
    setup.provide(ports.MODEM, modem)
    return modem
