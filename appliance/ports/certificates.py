"""The HTTPS certificate: the portal's installer (CERTIFICATES) and the ground link's certificate step that
delivers the ground's signed certificate to it (CERTIFICATE_ENROLLMENT)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

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
