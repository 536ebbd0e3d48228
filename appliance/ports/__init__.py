"""The interfaces components offer each other, and the service keys they are provided under.

Implementations live in their component packages; each package's spec declares the keys it provides, requires
and uses (appliance/core/spec.py), and the composition root (`appliance/daemon.py`) hands each builder exactly
those. A component depends on these protocols, never on another component's module (the layering test,
tests/architecture/test_layering.py, says so), so each can be built, tested and replaced on its own.

The protocols live in one module per topic (avionics, storage, content, ...); every public name is re-exported
here, so `from appliance.ports import X` and `ports.X` are the way to use them. The service keys are defined
here and only here: the layering test finds them in this module.
"""

from __future__ import annotations

from appliance.core.services import ServiceKey
from appliance.ports.avionics import FlightInfo, FlightView, ParamStatus, Reading
from appliance.ports.certificates import CertificateEnrollment, CertificateInstall, Certificates
from appliance.ports.content import ContentUpdater, ContentVerifier, ContentView
from appliance.ports.groundlink import GroundLinkControl, ScheduledLeg, ScheduleView
from appliance.ports.modem import DiscretesControl, ModemPower, ModemState, ModemView
from appliance.ports.payments import CardPayment, PaymentDesk, PaymentRefused
from appliance.ports.storage import (
    OUTBOX_KINDS,
    BootInfo,
    Flushable,
    OrderSink,
    Outbox,
    OutboxItem,
    StateDirectory,
    StorageRefused,
    TimeAnchor,
    TimeQuality,
    TrustedTime,
)
from appliance.ports.trust import (
    SignedTargetInfo,
    SignedTargets,
    SignedTargetsList,
    SignedView,
    Trust,
    TrustRefresh,
)
from appliance.ports.update import ReleaseUpdater

__all__ = [
    "BOOT", "CERTIFICATES", "CERTIFICATE_ENROLLMENT", "CONTENT", "CONTENT_UPDATER", "DISCRETES", "FLIGHT",
    "FLUSHABLES", "GROUNDLINK", "MODEM", "MODEM_POWER", "OUTBOX", "OUTBOX_KINDS", "PAYMENTS", "SCHEDULE",
    "STATE_DIR", "TIME_ANCHOR", "TRUST", "TRUSTED_TIME", "UPDATER",
    "BootInfo", "CardPayment", "CertificateEnrollment", "CertificateInstall", "Certificates", "ContentUpdater",
    "ContentVerifier", "ContentView", "DiscretesControl", "FlightInfo", "FlightView", "Flushable",
    "GroundLinkControl", "ModemPower", "ModemState", "ModemView", "OrderSink", "Outbox", "OutboxItem",
    "ParamStatus", "PaymentDesk", "PaymentRefused", "Reading", "ReleaseUpdater", "ScheduleView", "ScheduledLeg",
    "ServiceKey", "SignedTargetInfo", "SignedTargets", "SignedTargetsList", "SignedView", "StateDirectory",
    "StorageRefused", "TimeAnchor", "TimeQuality", "Trust", "TrustRefresh", "TrustedTime",
]

# --- the service keys: one per protocol (appliance/core/spec.py) ---------------------------------------------

STATE_DIR: ServiceKey[StateDirectory] = ServiceKey("state_dir", "the state directory (storage)")
BOOT: ServiceKey[BootInfo] = ServiceKey("boot", "boot id and the previous shutdown (storage)")
OUTBOX: ServiceKey[Outbox] = ServiceKey("outbox", "durable orders until the ground confirms them (storage)")
FLUSHABLES: ServiceKey[Flushable] = ServiceKey("flushables", "what the power-fail path flushes", many=True)
TIME_ANCHOR: ServiceKey[TimeAnchor] = ServiceKey("time_anchor", "trusted time sources set the clock (storage)")
TRUSTED_TIME: ServiceKey[TrustedTime] = ServiceKey("trusted_time", "the daemon's best wall time (storage)")
TRUST: ServiceKey[Trust] = ServiceKey("trust", "TUF metadata: what the ground signed (trust)")
FLIGHT: ServiceKey[FlightView] = ServiceKey("flight", "flight parameters, phase, on ground (avionics)")
CONTENT: ServiceKey[ContentView] = ServiceKey("content", "the active content bundle (content)")
CONTENT_UPDATER: ServiceKey[ContentUpdater] = ServiceKey("content_updater", "one content sync (content)")
DISCRETES: ServiceKey[DiscretesControl] = ServiceKey("discretes", "discrete signals and outputs (discretes)")
MODEM_POWER: ServiceKey[ModemPower] = ServiceKey("modem_power", "power-cycle the modem (discretes)")
MODEM: ServiceKey[ModemView] = ServiceKey("modem", "registration, roaming, operator (modem)")
GROUNDLINK: ServiceKey[GroundLinkControl] = ServiceKey("groundlink", "the ground window (groundlink)")
UPDATER: ServiceKey[ReleaseUpdater] = ServiceKey("updater", "releases from the ground, trial, rollback (update)")
SCHEDULE: ServiceKey[ScheduleView] = ServiceKey("schedule", "the aircraft's published schedule (groundlink)")
CERTIFICATES: ServiceKey[Certificates] = ServiceKey("certificates", "install the HTTPS certificate (portal)")
CERTIFICATE_ENROLLMENT: ServiceKey[CertificateEnrollment] = ServiceKey(
    "certificate_enrollment", "the on-board TLS key, its CSR and the signed certificate (groundlink)")
PAYMENTS: ServiceKey[PaymentDesk] = ServiceKey("payments", "offline card payments (payments)")
