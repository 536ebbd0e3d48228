"""The interfaces components offer each other, and the service keys they are provided under.

Implementations live in their component packages; each package's spec declares the keys it provides, requires
and uses (appliance/core/spec.py), and the composition root (`appliance/daemon.py`) hands each builder exactly
those. A component depends on these protocols, never on another component's module (the layering test,
tests/test_layering.py, says so), so each can be built, tested and replaced on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from appliance.core.services import ServiceKey

if TYPE_CHECKING:
    import aiohttp

ParamStatus = Literal["normal", "no_computed_data", "functional_test", "failure_warning", "stale"]
TimeQuality = Literal["rtc", "avionics", "network"]


#: The outbox's kinds (the passenger's orders; the ground's `POST /orders/{kind}`). Known at start, so each has
#: its `appliance_outbox_pending{kind}` sample (0) from the first scrape.
OUTBOX_KINDS: tuple[str, ...] = ("booking", "offer", "email", "password_reset", "payment")

# --- avionics -> portal, ground link, clock -------------------------------------------------------------

@dataclass(frozen=True)
class Reading:
    """The latest value of one flight parameter. `value` is only to be shown when `status == "normal"`."""

    name: str
    value: float | str | dict[str, Any] | None
    units: str
    status: ParamStatus
    age: float  # seconds since the last word for it arrived


@dataclass(frozen=True)
class FlightInfo:
    flight_id: str | None = None  # labels 233-236
    flight_number: str | None = None  # label 360 block (or 261 digits)
    origin: str | None = None  # ICAO
    destination: str | None = None  # ICAO


class FlightView(Protocol):
    def reading(self, name: str) -> Reading | None:
        """None when the parameter was never received."""
        ...

    def usable(self, name: str) -> float | str | None:
        """The value only when normal and fresh; None otherwise (failed, test, no data, stale, never)."""
        ...

    @property
    def phase(self) -> str:
        """gate, taxi, takeoff, climb, cruise, descent, approach, landed (or unknown)."""
        ...

    @property
    def on_ground(self) -> bool | None: ...

    def flight_info(self) -> FlightInfo: ...

    def utc(self) -> datetime | None:
        """Avionics UTC (labels 150 + 260) when both are normal and fresh, tz-aware."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready: {"parameters": {name: {"value", "units", "status", "age"}}, "phase", "on_ground",
        "flight": {"flight_id", "flight_number", "origin", "destination"}}. Non-normal values are null."""
        ...


# --- ground link -> portal --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScheduledLeg:
    """One flight of this aircraft's schedule, as the ground station published it."""

    flight_number: str
    origin: str  # ICAO
    destination: str  # ICAO
    departure: datetime  # scheduled off-block, tz-aware UTC
    arrival: datetime  # scheduled on-block, tz-aware UTC


class ScheduleView(Protocol):
    def leg_at(self, when: datetime) -> ScheduledLeg | None:
        """The leg being flown at `when`, else the next one due soon; None when the schedule has nothing."""
        ...


# --- storage -> portal, ground link, discretes ----------------------------------------------------------

class StorageRefused(Exception):
    """A write was refused and nothing was acknowledged: disk full, failed fsync, or frozen for a power fail."""


@dataclass(frozen=True)
class OutboxItem:
    id: str  # also the Idempotency-Key: never changes across retries or reboots
    seq: int
    kind: str  # booking | offer | email | telemetry ...
    payload: Mapping[str, Any]
    created_wall: float
    attempts: int = 0


class OrderSink(Protocol):
    async def append(self, kind: str, payload: Mapping[str, Any],
                     request: Mapping[str, Any] | None = None) -> OutboxItem:
        """Durable (journaled and fsynced) when it returns. Raises StorageRefused. `request` (JSON with a
        string "key") is kept with the item, in the same write, for `find_request`."""
        ...

    def find_request(self, key: str) -> tuple[OutboxItem, dict[str, Any]] | None:
        """The item a request key made and its request, kept at least a day (also across restarts)."""
        ...

    def progress(self, item_id: str) -> dict[str, Any] | None:
        """Where an item is: {"state": pending | delivered | dead, "attempts", "receipt" (the station's answer,
        delivered), "reason" (dead), "last_error"}; None when unknown or storage is not started."""
        ...


class Outbox(OrderSink, Protocol):
    def pending(self, kind: str | None = None) -> list[OutboxItem]:
        """Not yet confirmed by the ground station, in sequence order (per kind when `kind` is given)."""
        ...

    async def mark_delivered(self, item_id: str, receipt: Mapping[str, Any]) -> None: ...

    async def record_attempt(self, item_id: str, error: str) -> None: ...

    async def dead_letter(self, item_id: str, reason: str) -> None: ...

    def dead_letters(self) -> list[dict[str, Any]]: ...

    def counts(self) -> dict[str, int]:
        """Pending items per kind."""
        ...

    def listing(self, limit: int = 100) -> dict[str, dict[str, dict[str, Any]]]:
        """Pending and dead items by state and kind for engineers: counts, ages, errors, never payloads."""
        ...


class Flushable(Protocol):
    """What the power-fail path drives: stop writes, make everything pending durable, later resume."""

    async def emergency_flush(self) -> None: ...

    def resume_writes(self) -> None: ...


class TimeAnchor(Protocol):
    def anchor(self, wall: float, quality: TimeQuality) -> None:
        """A trusted time source says the wall clock is `wall` now."""
        ...


class TrustedTime(Protocol):
    def now(self) -> float:
        """The daemon's best wall time (seconds since the epoch): the persisted time floor plus the time since
        boot, or the last avionics / network anchor; never the raw RTC when the RTC is not believable."""
        ...


# --- content -> portal, ground link ---------------------------------------------------------------------

class ContentView(Protocol):
    def active_root(self) -> Path | None:
        """The resolved directory of the active bundle (resolve once per request: old or new, never a mix)."""
        ...

    def active_id(self) -> str | None: ...


class ContentVerifier(Protocol):
    """What the content sync checks against before it uses anything from the ground (the trust component's
    signed targets). Each method returns None when the thing is signed, else the refusal reason (already
    counted and reported by the verifier); an unreadable local file raises OSError."""

    def check_document(self, target: str, data: bytes) -> str | None:
        """`data` (the content index, a manifest) must be the signed target `target` (length and hashes)."""
        ...

    def check_entries(self, prefix: str, entries: Sequence[tuple[str, int, str]]) -> str | None:
        """Each (path, size, sha256) of a manifest must be signed as `<prefix>/<path>` with that size and hash."""
        ...

    def check_file(self, target: str, local: Path) -> str | None:
        """A staged file against its signed target, before activation."""
        ...


class ContentUpdater(Protocol):
    async def update(self, base_url: str, budget: Callable[[int], bool] | None = None,
                     verifier: ContentVerifier | None = None) -> dict[str, Any]:
        """One content sync attempt against the ground station (static files under `<base_url>/content/`).
        `budget(n)` is asked before each range request of n bytes (False: stop cleanly). Cancelling it (the
        window closed) loses nothing. With a `verifier`, the index, the manifest and every file are accepted
        only if signed (targets `content/<path>`); a refusal ends the attempt "refused" with nothing installed.
        Returns SyncResult.as_dict(): {"status": "activated" | "up_to_date" | "budget" | "interrupted" |
        "failed" | "refused", "bundle_id", "bytes_downloaded", "bytes_local", "corrupt_chunks", "error",
        "refusal", ...}."""
        ...


# --- trust -> ground link ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrustRefresh:
    """One metadata refresh: `ok`, or why not (`refusal`: an attack; `problem`: the link, the disk, no root)."""

    ok: bool
    refusal: str | None = None
    problem: str | None = None
    versions: Mapping[str, int] = field(default_factory=dict)
    bytes: int = 0
    cpu_seconds: float = 0.0


class Trust(ContentVerifier, Protocol):
    async def refresh(self, base_url: str) -> TrustRefresh:
        """Refresh the TUF metadata from the repository under `base_url` (timestamp -> snapshot -> targets, root
        rotations first), judged at the trusted time. Never raises for what the ground served; the last good
        metadata stays in use unless all of the new verified."""
        ...

    def telemetry(self) -> dict[str, Any]:
        """For the summary sent to the ground: {"versions", "refusing", "refusals", "problem"}."""
        ...

    def signed(self) -> SignedTargets | None:
        """The verified metadata in use (what the updater checks releases against); None before any refresh."""
        ...


# --- modem, discretes -> ground link, maintenance -------------------------------------------------------

class ModemState(IntEnum):
    """ModemManager's MMModemState, with its numbering (the contract's `appliance_modem_state`)."""

    FAILED = -1
    UNKNOWN = 0
    INITIALIZING = 1
    LOCKED = 2
    DISABLED = 3
    DISABLING = 4
    ENABLING = 5
    ENABLED = 6
    SEARCHING = 7
    REGISTERED = 8
    DISCONNECTING = 9
    CONNECTING = 10
    CONNECTED = 11

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def is_registered(self) -> bool:
        """Registered on a network (REGISTERED and the connection states above it)."""
        return self >= ModemState.REGISTERED


class ModemView(Protocol):
    @property
    def state(self) -> ModemState: ...

    @property
    def registered(self) -> bool: ...

    @property
    def roaming(self) -> bool: ...

    @property
    def operator(self) -> str | None:
        """MCC+MNC, e.g. "26202"."""
        ...

    def snapshot(self) -> dict[str, Any]: ...


class ModemPower(Protocol):
    async def power_cycle(self, off_seconds: float) -> None: ...


class DiscretesControl(Protocol):
    def snapshot(self) -> dict[str, Any]:
        """Every signal: state, direction, transitions, last change."""
        ...

    def set_output(self, name: str, value: bool, actor: str) -> None:
        """Raises KeyError for an unknown signal, ValueError for an input."""
        ...


# --- storage's boot bookkeeping -> content check, maintenance -------------------------------------------

class BootInfo(Protocol):
    @property
    def boot_id(self) -> str: ...

    @property
    def previous_shutdown_clean(self) -> bool:
        """False after a power cut or crash: the content check then re-hashes what was being written."""
        ...

    @property
    def unsafe_shutdowns(self) -> int: ...

    @property
    def last_shutdown_reason(self) -> str: ...


# --- ground link -> maintenance ("sync now", status) ----------------------------------------------------

class GroundLinkControl(Protocol):
    def request_sync(self) -> dict[str, Any]:
        """Run a full cycle (outbox, telemetry, content) as soon as the window allows. Answers at once with
        {"requested": True, "window": "open" | "closed", "reason": "..."}."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready: window, reason, backlog, dead_letters, last_success, errors, clock_skew, ..."""
        ...

    def window_open(self) -> bool:
        """Whether the ground window is open now: what is sent now goes out now."""
        ...


# --- the state directory (storage) -> every component with files of its own ---------------------------

class StateDirectory(Protocol):
    @property
    def path(self) -> Path:
        """The state directory (`storage.dir`): a component keeps its own small state files here, each replaced
        atomically (appliance/fs/atomic.py)."""
        ...


# --- the ground's signed certificate targets -> the portal's HTTPS listener -----------------------------

@dataclass(frozen=True)
class CertificateInstall:
    """What `Certificates.install` did: `installed` True with the new pair's facts, or False with `reason` (the
    old pair, if any, is still the one served)."""

    installed: bool
    reason: str = ""
    names: tuple[str, ...] = ()  # the certificate's DNS names
    not_after: datetime | None = None
    fingerprint: str = ""  # SHA-256 of the leaf certificate (DER), hex


class Certificates(Protocol):
    def install(self, cert_pem: bytes, key_pem: bytes, reference_time: datetime) -> CertificateInstall:
        """Check the pair (the key matches the certificate; a DNS name matches `portal.public_host`; valid at
        `reference_time`, a trusted tz-aware UTC time, and not expiring within `portal.tls_renew_margin_days`),
        write it atomically into the state directory and swap it into the running HTTPS listener (open
        connections keep theirs; new handshakes get the new one). Never raises for a bad pair: it is refused
        with a reason and the old pair kept. An OSError writing the files is a refusal too. Call it on the
        event loop (it takes a few milliseconds: two small files written and fsynced, OpenSSL loading the pair);
        the first pair installed while the portal runs on HTTP only starts its HTTPS listener."""
        ...

    @property
    def public_host(self) -> str:
        """`portal.public_host`: the name a certificate must carry (what a certificate request asks for)."""
        ...

    @property
    def enabled(self) -> bool:
        """HTTPS is configured (`portal.tls_listen`): a certificate is wanted."""
        ...

    def served(self) -> CertificateInstall | None:
        """The facts of the pair in use (names, expiry, fingerprint), None when HTTPS has no pair."""
        ...


class CertificateEnrollment(Protocol):
    """The ground link's certificate step (the aircraft's own key, its CSR to the ground, the signed certificate
    back). The portal hands it its installer: the portal already uses the ground link (GROUNDLINK), so the link
    cannot use the portal's CERTIFICATES without a dependency cycle."""

    def attach(self, certificates: Certificates) -> None:
        """Install delivered certificates through `certificates` from now on."""
        ...


# --- trusted metadata (appliance.trust's TrustedMetadata fits as it is) -> the updater ---------------------

class SignedTargetInfo(Protocol):
    @property
    def length(self) -> int: ...

    @property
    def hashes(self) -> Mapping[str, str]: ...


class SignedTargetsList(Protocol):
    @property
    def targets(self) -> Mapping[str, SignedTargetInfo]: ...


class SignedView(Protocol):
    @property
    def targets(self) -> SignedTargetsList: ...


class SignedTargets(Protocol):
    """The verified TUF metadata in use (appliance.trust.client.TrustedMetadata, after the window's refresh)."""

    @property
    def targets_url(self) -> str: ...

    def view(self) -> SignedView | None:
        """None when there is no verified metadata yet."""
        ...


# --- the updater -> ground link (called in the window, after the trust refresh) ---------------------------

class ReleaseUpdater(Protocol):
    async def window(self, session: aiohttp.ClientSession, targets: SignedTargets,
                     budget: Callable[[int], bool] | None = None) -> dict[str, Any]:
        """Take the newest signed release not yet installed nor refused: fetch what is missing (`budget(n)` is
        asked before each request of n bytes; False stops cleanly, resumed next window; cancelling loses at
        most one block), verify it against the signed targets, install it offline. It is activated later, at
        a safe moment. Never raises for what the ground served; returns {"status": "up_to_date" | "budget" |
        "interrupted" | "installed" | "refused" | "failed" | "no_metadata", "version", "bytes_fetched", ...}."""
        ...

    def telemetry(self) -> dict[str, Any]:
        """For the ground's report: current, committed, trial, refused (with reasons), the last event."""
        ...


# --- the service keys: one per protocol above (appliance/core/spec.py) ----------------------------------

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


# --- payments -> portal ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CardPayment:
    """A card payment as the cabin server may know it: never the number, CVC or expiry (they travel only
    inside `jwe`, encrypted in the passenger's browser to the processor's key)."""

    item: str
    amount_minor: int
    currency: str
    brand: str
    last4: str
    device: str  # the client's address on the cabin network (the per-device limit)
    jwe: str


class PaymentRefused(Exception):
    """Over an offline limit, a hot card, or payments unavailable: `code` names it for the passenger's language
    (`payment_refused_<code>` in the app's strings), the message is English; nothing was stored."""

    def __init__(self, code: str, message: str, limit_minor: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.limit_minor = limit_minor


class PaymentDesk(Protocol):
    def public_key(self) -> dict[str, Any] | None:
        """The processor's public JWK from the active bundle (None: card payment is unavailable)."""
        ...

    async def take(self, payment: CardPayment, payload: Mapping[str, Any],
                   request: Mapping[str, Any] | None) -> OutboxItem:
        """Check the offline limits and the hot-card list, then append the payment to the outbox (kind
        "payment"), durable when it returns; checks and append are one step (two payments at once cannot both
        pass a limit only one fits). Raises PaymentRefused (nothing stored) or StorageRefused."""
        ...


PAYMENTS: ServiceKey[PaymentDesk] = ServiceKey("payments", "offline card payments (payments)")
