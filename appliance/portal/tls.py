"""The HTTPS listener's certificate: checking a pair, keeping it in the state directory, swapping it live.

- `check_pair` says whether a certificate and key may be served: the key is the certificate's, one of its DNS
  names (or IP addresses) is `portal.public_host`, it is valid at a trusted reference time and does not expire
  within the renewal margin, and OpenSSL loads it.
- `PairStore` keeps installed pairs under `<state dir>/tls/`: each pair in its own directory
  (`pairs/<fingerprint>/cert.pem`, `key.pem` 0600), and `current` a symlink to the one in use, replaced with one
  rename, so a reader (or a power cut) sees the old pair or the new one, never a certificate with another's key.
- `TlsEndpoint` owns the listener's `ssl.SSLContext`; `load()` calls `load_cert_chain` on that same context,
  which affects new handshakes only: open connections keep the certificate they were made with.

Failure semantics: `check_pair` never raises (a refusal has a reason); `PairStore.install` raises OSError when
the files cannot be written (nothing changed: `current` still names the old pair); `TlsEndpoint.load` raises
ssl.SSLError / OSError and leaves the context as it was (OpenSSL replaces the pair only once both loaded).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import ssl
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from appliance.fs.atomic import atomic_write_bytes
from appliance.fs.durable import remove_tree, swap_symlink
from appliance.ports import CertificateInstall

log = logging.getLogger("appliance.portal.tls")
# what decoding a damaged certificate raises (cryptography decodes some parts only when they are read)
DAMAGED = (ValueError, x509.InvalidVersion, UnsupportedAlgorithm)


def _public(key: object) -> bytes:
    public_bytes = getattr(key, "public_bytes")  # noqa: B009 - every public key type has it
    data: bytes = public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return data


def _names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    names = [n.lower() for n in san.get_values_for_type(x509.DNSName)]
    names += [str(a) for a in san.get_values_for_type(x509.IPAddress)]
    return tuple(names)


def name_matches(pattern: str, host: str) -> bool:
    """RFC 6125: exact (case-insensitive), or a `*.` wildcard standing for exactly one left-most label."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern == host:
        return True
    try:
        ipaddress.ip_address(host)
        return False  # an address matches only itself
    except ValueError:
        pass
    if pattern.startswith("*.") and "." in host:
        return host.split(".", 1)[1] == pattern[2:] and bool(host.split(".", 1)[0])
    return False


def check_pair(cert_pem: bytes, key_pem: bytes, host: str, reference_time: datetime,
               margin: timedelta) -> CertificateInstall:
    """Whether this pair may be served for `host` at `reference_time` (tz-aware UTC). Never raises."""
    if not host:
        return CertificateInstall(False, "portal.public_host is not set: no name to check the certificate against")
    if reference_time.tzinfo is None:
        return CertificateInstall(False, "the reference time has no time zone")
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except DAMAGED:
        return CertificateInstall(False, "the certificate is not PEM X.509")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        return CertificateInstall(False, "the key is not an unencrypted PEM private key")
    try:  # cryptography decodes a certificate's parts lazily: a damaged one raises here, not at loading
        return _check_leaf(chain[0], key, cert_pem=cert_pem, key_pem=key_pem, host=host,
                           reference_time=reference_time, margin=margin)
    except DAMAGED as error:
        return CertificateInstall(False, f"the certificate is malformed ({error})")


def _check_leaf(leaf: x509.Certificate, key: PrivateKeyTypes, *, cert_pem: bytes, key_pem: bytes, host: str,
                reference_time: datetime, margin: timedelta) -> CertificateInstall:
    names = _names(leaf)
    fingerprint = leaf.fingerprint(hashes.SHA256()).hex()

    def refuse(reason: str) -> CertificateInstall:
        return CertificateInstall(False, reason, names, leaf.not_valid_after_utc, fingerprint)

    if _public(key.public_key()) != _public(leaf.public_key()):
        return refuse("the key does not match the certificate")
    if not any(name_matches(name, host) for name in names):
        return refuse(f"the certificate does not name {host} (it names "
                      f"{', '.join(names) or 'nothing'})")
    if reference_time < leaf.not_valid_before_utc:
        return refuse(f"the certificate is not valid before {leaf.not_valid_before_utc:%Y-%m-%d %H:%M}Z")
    if reference_time >= leaf.not_valid_after_utc:
        return refuse(f"the certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M}Z")
    if leaf.not_valid_after_utc - reference_time < margin:
        return refuse(f"the certificate expires on {leaf.not_valid_after_utc:%Y-%m-%d}, "
                      f"within the renewal margin of {margin.days} days")
    problem = _openssl_refusal(cert_pem, key_pem)
    if problem is not None:
        return refuse(problem)
    return CertificateInstall(True, "", names, leaf.not_valid_after_utc, fingerprint)


def _openssl_refusal(cert_pem: bytes, key_pem: bytes) -> str | None:
    """What OpenSSL says loading the pair (None: it loads), from private temp files."""
    with tempfile.TemporaryDirectory(prefix="appliance-tls-") as tmp:
        cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert.write_bytes(cert_pem)
        fd = os.open(key, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key_pem)
        try:
            server_context().load_cert_chain(cert, key)
        except (ssl.SSLError, OSError) as error:
            return f"OpenSSL refused the pair: {error}"
    return None


def server_context() -> ssl.SSLContext:
    """The passenger listener's TLS settings: TLS 1.2 and 1.3 only, Python's default ciphers, HTTP/1.1."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    return context


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


class PairStore:
    """Installed pairs under `directory` (`<state dir>/tls`), `current` naming the one in use."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def current(self) -> Pair | None:
        link = self.directory / "current"
        cert, key = link / "cert.pem", link / "key.pem"
        if cert.is_file() and key.is_file():
            return Pair(cert, key)
        return None

    def install(self, cert_pem: bytes, key_pem: bytes, fingerprint: str) -> Pair:
        """Write the pair into its own directory, then point `current` at it (one rename); older pairs go.
        Raises OSError with nothing changed."""
        pairs = self.directory / "pairs"
        pairs.mkdir(parents=True, exist_ok=True)
        name = fingerprint[:16]
        target = pairs / name
        link = self.directory / "current"
        if not (os.path.islink(link) and os.readlink(link) == f"pairs/{name}"):  # the one in use stays as it is
            if target.exists():
                remove_tree(target)
            target.mkdir(mode=0o700)
        atomic_write_bytes(target / "cert.pem", cert_pem, mode=0o644)
        atomic_write_bytes(target / "key.pem", key_pem, mode=0o600)
        swap_symlink(self.directory / "current", f"pairs/{name}")
        for old in pairs.iterdir():
            if old.name != name:
                with contextlib.suppress(OSError):
                    remove_tree(old)
        return Pair(self.directory / "current" / "cert.pem", self.directory / "current" / "key.pem")


class TlsEndpoint:
    """The HTTPS listener's one SSLContext and the facts of the pair it serves."""

    def __init__(self) -> None:
        self.context = server_context()
        self.loaded: CertificateInstall | None = None

    def load(self, pair: Pair, facts: CertificateInstall) -> None:
        """Load `pair` into the live context (new handshakes only). Raises ssl.SSLError / OSError."""
        self.context.load_cert_chain(pair.cert, pair.key)
        self.loaded = facts
        log.info("HTTPS certificate for %s (until %s, sha256 %s…) in use", ", ".join(facts.names),
                 facts.not_after, facts.fingerprint[:16])
