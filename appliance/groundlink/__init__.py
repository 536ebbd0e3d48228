"""The groundlink component: the ground window (outbox delivery, telemetry, schedule, content, clock)."""

from __future__ import annotations

from appliance import ports
from appliance.core.spec import ASSEMBLY, ComponentSpec, deferred, snapshot_section
from appliance.groundlink.config import GroundlinkConfig

COMPONENT = ComponentSpec(
    name="groundlink",
    config=GroundlinkConfig,
    build=deferred("appliance.groundlink.component:build"),
    provides=(ports.GROUNDLINK, ports.SCHEDULE, ports.CERTIFICATE_ENROLLMENT),
    requires=(ports.STATE_DIR,),  # its roaming ledger and the kept schedule
    # each is optional: without a modem the window needs groundlink.modem_required = false, and so on
    uses=(ports.FLIGHT, ports.MODEM, ports.OUTBOX, ports.TIME_ANCHOR, ports.CONTENT_UPDATER, ports.BOOT, ASSEMBLY,
          ports.TRUST, ports.UPDATER,  # the schedule, content and releases only if signed (after a refresh)
          ports.TRUSTED_TIME),  # a delivered certificate is judged at the trusted time
    status={"groundlink": snapshot_section},
    routes=deferred("appliance.groundlink.routes:routes"),
)
