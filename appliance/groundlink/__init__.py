"""The groundlink component: the ground window (outbox delivery, telemetry, schedule, content, clock)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from appliance import ports
from appliance.core.spec import ASSEMBLY, ComponentSpec, Setup
from appliance.groundlink.config import GroundlinkConfig

if TYPE_CHECKING:
    from aiohttp import web


def _build(setup: Setup[GroundlinkConfig]) -> Any:
    from appliance.groundlink.component import build

    return build(setup)


def _groundlink_section(component: Any) -> Any:
    return component.snapshot()


def _routes(component: Any) -> Sequence[web.RouteDef]:
    from appliance.groundlink.routes import routes

    return routes(component)


COMPONENT = ComponentSpec(
    name="groundlink",
    config=GroundlinkConfig,
    build=_build,
    provides=(ports.GROUNDLINK, ports.SCHEDULE),
    requires=(ports.STATE_DIR,),  # its roaming ledger and the kept schedule
    # each is optional: without a modem the window needs groundlink.modem_required = false, and so on
    uses=(ports.FLIGHT, ports.MODEM, ports.OUTBOX, ports.TIME_ANCHOR, ports.CONTENT_UPDATER, ports.BOOT, ASSEMBLY,
          ports.TRUST, ports.UPDATER),  # the schedule, content and releases only if signed (after a refresh)
    status={"groundlink": _groundlink_section},
    routes=_routes,
)
