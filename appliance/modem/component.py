"""Builder for the composition root."""

from __future__ import annotations

from typing import TYPE_CHECKING

from appliance.modem.modem import Modem

if TYPE_CHECKING:
    from appliance.daemon import Context


def build(ctx: Context) -> Modem:
    modem = Modem(ctx.config.modem, ctx.clock, ctx.metrics, power=ctx.modem_power)
    ctx.modem = modem
    return modem
