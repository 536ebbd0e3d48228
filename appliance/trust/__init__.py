"""Trust: TUF (python-tuf) metadata over everything the aircraft takes from the ground.

Ground side (`appliance trust init|publish|rotate`, appliance.trust.repo) signs a static repository;
the aircraft side (appliance.trust.client) refreshes it and verifies every file against the signed targets.
The component (appliance.trust.component) provides ports.TRUST to the ground link.
"""

from __future__ import annotations

from typing import Any

from appliance import ports
from appliance.core.spec import ComponentSpec, Setup, deferred, snapshot_section
from appliance.trust.config import TrustConfig


def _build(setup: Setup[TrustConfig]) -> Any:
    from appliance.trust.component import TrustComponent

    component = TrustComponent(setup.config, setup.clock, setup.metrics,
                               state_dir=setup.require(ports.STATE_DIR).path,
                               time=setup.use(ports.TRUSTED_TIME))
    setup.provide(ports.TRUST, component)
    return component


COMPONENT = ComponentSpec(
    name="trust",
    config=TrustConfig,
    build=_build,
    provides=(ports.TRUST,),
    requires=(ports.STATE_DIR,),  # the trusted metadata's generations: <state dir>/trust by default
    uses=(ports.TRUSTED_TIME,),  # expiry judged at the daemon's trusted time (the wall clock without storage)
    status={"trust": snapshot_section},
    cli=deferred("appliance.trust.cli:add_parser"),
)
