"""The discretes component: the board's discrete signals, the power-fail path, the built-in test, outputs and
the modem's power line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from appliance import ports
from appliance.core.spec import ComponentSpec, Setup
from appliance.discretes.config import DiscretesConfig

if TYPE_CHECKING:
    from aiohttp import web


def _build(setup: Setup[DiscretesConfig]) -> Any:
    from appliance.discretes.component import build

    return build(setup)


def _discretes_section(component: Any) -> Any:
    return component.snapshot()


def _routes(component: Any) -> Sequence[web.RouteDef]:
    from appliance.discretes.routes import routes

    return routes(component)


COMPONENT = ComponentSpec(
    name="discretes",
    config=DiscretesConfig,
    build=_build,
    provides=(ports.DISCRETES, ports.MODEM_POWER),
    requires=(ports.STATE_DIR,),  # the outputs' audit file
    uses=(ports.FLUSHABLES,),  # what the power-fail path makes durable
    critical=True,
    status={"discretes": _discretes_section},
    routes=_routes,
)
