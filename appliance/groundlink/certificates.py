"""The ground window's certificate step: the HTTPS certificate the aircraft serves to its passengers, issued on the
ground for a key that never leaves the aircraft (docs/tls.md).

    aircraft                                          ground (firmware_sim/ground/ca.py; the airline's pipeline)
    key.pem made on board (<state dir>/groundlink-certificate/, 0600)
    POST {certificates_path}/{aircraft}/csr  ------>  the CA checks the CSR (its signature, the fleet's names),
         {"aircraft", "csr": PEM}                     signs it, `appliance trust publish --prefix
                                                      certificates/{aircraft} cert.pem` (a signed TUF target)
    GET {certificates_path}/{aircraft}/cert.pem <---  the static file (a CDN may serve it)
    verified against the signed target certificates/{aircraft}/cert.pem (the trust component counts a refusal),
    then ports.Certificates.install(cert, key, trusted time): key match, name, validity, margin; atomic; live swap

When: in each full home cycle whose trust refresh verified. A request is made when HTTPS has no pair, or the
served one expires within `certificate_renew_days`; each request has a new key (a renewal never reuses the old
one), kept until a certificate for it is installed. The CSR is sent again every window until that happens (the
ground deduplicates by key), and when the ground answers that it issued at once, the metadata is refreshed and
the certificate taken in the same window; otherwise in a later one.

Failure semantics: `run` raises aiohttp.ClientError / TimeoutError for the link (the window's guard notes it);
everything the ground answered badly is returned as a problem text (the link notes it) and changes nothing: a
certificate that is not the signed target, or that the installer refuses (wrong name, wrong key, expired), leaves
the old pair served and the request pending. The same refused bytes are not offered to the installer again.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from appliance.fs.atomic import atomic_write_bytes, read_state_file
from appliance.groundlink.client import GroundClient
from appliance.groundlink.config import GroundlinkConfig
from appliance.ports import Certificates, ContentVerifier, TrustedTime
from appliance.timebase import Clock

log = logging.getLogger("appliance.groundlink.certificates")

KEY_FILE = "key.pem"
INSTALLED, REFUSED, NOTHING = "installed", "refused", "nothing"


def _spki(public_key: Any) -> bytes:
    data: bytes = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return data


def make_csr(key: ec.EllipticCurvePrivateKey, host: str) -> bytes:
    """A PKCS#10 request for `host` (CN and the one subjectAltName), signed with `key`: PEM."""
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
           .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM)


class CertificateStep:
    """ports.CertificateEnrollment: one per ground link; the portal attaches its installer."""

    def __init__(self, config: GroundlinkConfig, directory: Path, clock: Clock, time: TrustedTime | None) -> None:
        self.aircraft = config.aircraft
        self.renew = timedelta(days=config.certificate_renew_days)
        self.base = f"{config.certificates_path.rstrip('/')}/{config.aircraft}"
        self.target = f"{self.base.lstrip('/')}/cert.pem"  # its name in the signed targets
        self.directory = directory
        self.clock = clock
        self.time = time
        self.time_limit = config.request_timeout
        self.certificates: Certificates | None = None
        self._key: ec.EllipticCurvePrivateKey | None = None
        self._loaded = False
        self._judged: set[str] = set()  # SHA-256 of certificate files already offered and refused
        self.state = "off"
        self.requests_sent = 0
        self.installed = 0
        self.last_answer = ""
        self.last_problem = ""

    def attach(self, certificates: Certificates) -> None:
        self.certificates = certificates

    # --- the on-board key ------------------------------------------------------------------------------------

    def pending_key(self) -> ec.EllipticCurvePrivateKey | None:
        """The key of the request in progress (kept across restarts), None when there is none."""
        if not self._loaded:
            self._loaded = True
            raw = read_state_file(self.directory / KEY_FILE)
            if raw is not None:
                try:
                    key = serialization.load_pem_private_key(raw, password=None)
                except (ValueError, TypeError):
                    key = None
                if isinstance(key, ec.EllipticCurvePrivateKey):
                    self._key = key
                else:
                    log.warning("certificate request key %s unreadable: a new request is made",
                                self.directory / KEY_FILE)
        return self._key

    async def _new_key(self) -> ec.EllipticCurvePrivateKey:
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())

        def write() -> None:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            atomic_write_bytes(self.directory / KEY_FILE, pem, mode=0o600)

        await asyncio.to_thread(write)
        self._key, self._loaded = key, True
        return key

    async def _forget_key(self) -> None:
        """The request is over (its certificate installed, or no longer needed): the installer keeps its own copy."""
        self._key = None
        path = self.directory / KEY_FILE
        await asyncio.to_thread(path.unlink, missing_ok=True)

    # --- one window ------------------------------------------------------------------------------------------

    def reference_time(self) -> datetime:
        wall = self.time.now() if self.time is not None else self.clock.wall()
        return datetime.fromtimestamp(wall, UTC)

    def _due(self, now: datetime) -> str:
        """Why a new certificate is wanted ("" when the served one is good for longer than the renewal time)."""
        assert self.certificates is not None
        served = self.certificates.served()
        if served is None or served.not_after is None:
            return "no certificate"
        if served.not_after - now < self.renew:
            return f"the served certificate expires on {served.not_after:%Y-%m-%d}"
        return ""

    async def run(self, client: GroundClient, verifier: ContentVerifier | None,
                  refresh: Callable[[], Awaitable[bool]]) -> str:
        """The step, once: take a signed certificate for the pending key, else (when one is due) send the CSR.
        Returns a problem text ("" when none). Raises aiohttp.ClientError / TimeoutError for the link."""
        certificates = self.certificates
        if certificates is None or not self.aircraft or not certificates.enabled or verifier is None:
            self.state = "off"
            return ""
        now = self.reference_time()
        key = self.pending_key()
        taken = await self._take(client, verifier, key, now) if key is not None else NOTHING
        if taken == INSTALLED or (taken == REFUSED and self._key is None):
            return self.last_problem  # installed; or refused by the installer: a new key asks next window
        due = self._due(now)
        if not due:
            if self._key is not None:  # a good pair is served (installed another way): this request is moot
                await self._forget_key()
            self.state = "current"
            return ""
        key = self._key  # still pending after a refusal of what was served: the same key asks again
        if key is None:
            key = await self._new_key()
            log.info("certificate: %s; asking the ground for one (a new key, kept on board)", due)
        issued = await self._send(client, key, certificates.public_host)
        if issued and await refresh():  # issued at once: take it in this window
            await self._take(client, verifier, key, now)
        return self.last_problem

    async def _send(self, client: GroundClient, key: ec.EllipticCurvePrivateKey, host: str) -> bool:
        """POST the CSR; True when the ground says it issued the certificate already."""
        csr = await asyncio.to_thread(make_csr, key, host)
        body = json.dumps({"aircraft": self.aircraft, "csr": csr.decode()}).encode()
        spki = hashlib.sha256(_spki(key.public_key())).hexdigest()
        reply = await client.request("POST", f"{self.base}/csr", body=body, time_limit=self.time_limit,
                                     headers={"Idempotency-Key": f"csr-{spki[:32]}"})
        self.requests_sent += 1
        if reply.status not in (200, 201, 202):
            self.state = "request refused"
            self.last_problem = f"the ground refused the certificate request: HTTP {reply.status}: {reply.error_text()}"
            return False
        try:
            answer = reply.json()
        except (ValueError, UnicodeDecodeError):
            answer = {}
        self.last_answer = str(answer.get("status", "")) if isinstance(answer, dict) else ""
        self.state = "requested"
        self.last_problem = ""
        return self.last_answer == "issued"

    async def _take(self, client: GroundClient, verifier: ContentVerifier, key: ec.EllipticCurvePrivateKey,
                    now: datetime) -> str:
        """Fetch the published certificate and install it if it is the signed target for `key`: INSTALLED (also
        when the pair in use already is `key`'s), REFUSED (not the signed target: the request stays; or the
        installer's refusal: the request is dropped, a new key asks again next window) or NOTHING (not issued)."""
        assert self.certificates is not None
        served = self.certificates.served()
        reply = await client.request("GET", f"{self.base}/cert.pem", time_limit=self.time_limit)
        if reply.status == 404:
            return NOTHING  # not issued yet
        if reply.status != 200:
            self.last_problem = f"certificate: HTTP {reply.status}: {reply.error_text()}"
            return NOTHING
        digest = hashlib.sha256(reply.body).hexdigest()
        if digest in self._judged:
            return NOTHING  # refused before: still published, not offered again
        refusal = verifier.check_document(self.target, reply.body)  # counted and reported by the trust component
        if refusal is not None:
            self.state = "refused"
            self.last_problem = f"certificate refused ({refusal}): not the signed {self.target}"
            return REFUSED
        try:  # signed, yet perhaps no certificate: the installer says why
            leaf = x509.load_pem_x509_certificates(reply.body)[0]
            leaf_print, leaf_spki = leaf.fingerprint(hashes.SHA256()).hex(), _spki(leaf.public_key())
        except (ValueError, x509.InvalidVersion, UnsupportedAlgorithm):
            leaf_print, leaf_spki = "", b""
        if served is not None and leaf_print == served.fingerprint:
            if leaf_spki == _spki(key.public_key()):  # installed before a restart
                await self._forget_key()
                return INSTALLED
            return NOTHING  # the ground still publishes the certificate in use: ours is not issued yet
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        result = self.certificates.install(reply.body, key_pem, now)  # refuses a wrong name, key, expiry
        if not result.installed:
            self._judged.add(digest)
            self.state = "refused"
            self.last_problem = f"certificate refused by the portal: {result.reason}"
            await self._forget_key()  # the ground issued something unusable for it: ask again with a new key
            return REFUSED
        self.installed += 1
        self.state = "installed"
        self.last_problem = ""
        log.info("certificate from the ground installed: %s until %s", ", ".join(result.names), result.not_after)
        await self._forget_key()
        return INSTALLED

    def snapshot(self) -> dict[str, Any]:
        served = self.certificates.served() if self.certificates is not None else None
        return {"state": self.state, "aircraft": self.aircraft or None, "target": self.target,
                "pending_request": self._key is not None, "requests_sent": self.requests_sent,
                "installed": self.installed, "last_answer": self.last_answer or None,
                "last_problem": self.last_problem or None,
                "served_until": served.not_after.isoformat() if served and served.not_after else None}
