"""Builder for the composition root."""

from __future__ import annotations

from typing import TYPE_CHECKING

from appliance import ports
from appliance.core.spec import ASSEMBLY
from appliance.groundlink.certificates import CertificateStep
from appliance.groundlink.config import GroundlinkConfig
from appliance.groundlink.link import GroundLink

if TYPE_CHECKING:
    from appliance.core.spec import Setup


def build(setup: Setup[GroundlinkConfig]) -> GroundLink:
    assembly = setup.use(ASSEMBLY)
    state_dir = setup.require(ports.STATE_DIR).path
    certificate = CertificateStep(setup.config, state_dir / "groundlink-certificate", setup.clock,
                                  setup.use(ports.TRUSTED_TIME))
    link = GroundLink(
        setup.config,
        setup.clock,
        setup.metrics,
        state_dir=state_dir,
        flight=setup.use(ports.FLIGHT),
        modem=setup.use(ports.MODEM),
        outbox=setup.use(ports.OUTBOX),
        time_anchor=setup.use(ports.TIME_ANCHOR),
        content=setup.use(ports.CONTENT_UPDATER),
        trust=setup.use(ports.TRUST),
        updater=setup.use(ports.UPDATER),
        components=assembly.components if assembly is not None else list,
        boot=setup.use(ports.BOOT),
        certificate=certificate,
    )
    setup.provide(ports.GROUNDLINK, link)
    setup.provide(ports.SCHEDULE, link.schedule)
    setup.provide(ports.CERTIFICATE_ENROLLMENT, certificate)  # the portal attaches its installer
    return link
