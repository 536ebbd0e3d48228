"""Trust: TUF (python-tuf) metadata over everything the aircraft takes from the ground.

Ground side (`appliance trust init|publish|rotate`, appliance.trust.repo) signs a static repository;
the aircraft side (appliance.trust.client) refreshes it and verifies every file against the signed targets.
The component (appliance.trust.component) provides ports.TRUST to the ground link.
"""

from __future__ import annotations

from appliance import ports
from appliance.core.spec import ComponentSpec, deferred, snapshot_section
from appliance.trust.config import TrustConfig

COMPONENT = ComponentSpec(
    name="trust",
    config=TrustConfig,
    build=deferred("appliance.trust.component:build"),
    provides=(ports.TRUST,),
    requires=(ports.STATE_DIR,),  # the trusted metadata's generations: <state dir>/trust by default
    uses=(ports.TRUSTED_TIME,),  # expiry judged at the daemon's trusted time (the wall clock without storage)
    status={"trust": snapshot_section},
    cli=deferred("appliance.trust.cli:add_parser"),
)
