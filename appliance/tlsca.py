"""A throwaway local certificate authority (for `appliance run --sim` / `make run` and the tests): one CA key and
certificate, and server certificates it signs for given names. Never used on the aircraft, whose certificate
comes from the ground as a signed target.

Failure semantics: OSError when the directory cannot be written; nothing else is expected to raise.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from appliance.fs.atomic import atomic_write_bytes


@dataclass(frozen=True)
class Issued:
    cert_pem: bytes
    key_pem: bytes


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def spki_hash(cert_pem: bytes) -> str:
    """base64 SHA-256 of a certificate's SubjectPublicKeyInfo (Chromium's --ignore-certificate-errors-spki-list,
    which matches the certificates the server presents)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    der = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


class LocalCA:
    """A CA made here; `issue()` signs server certificates for names (DNS names or IP addresses)."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        self.key = key
        self.cert = cert

    @classmethod
    def create(cls, common_name: str = "appliance throwaway local CA", days: int = 30) -> LocalCA:
        key = new_key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = datetime.now(UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        return cls(key, cert)

    @classmethod
    def load(cls, directory: Path) -> LocalCA:
        """The CA kept in `directory` (ca.pem, ca.key). Raises OSError or ValueError."""
        cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
        key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("ca.key is not an EC key")
        return cls(key, cert)

    @classmethod
    def load_or_create(cls, directory: Path) -> LocalCA:
        try:
            ca = cls.load(directory)
            if ca.cert.not_valid_after_utc > datetime.now(UTC) + timedelta(days=2):
                return ca
        except (OSError, ValueError):
            pass
        ca = cls.create()
        ca.save(directory)
        return ca

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(directory / "ca.key", key_pem(self.key), mode=0o600)
        atomic_write_bytes(directory / "ca.pem", self.cert_pem)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def spki_hash(self) -> str:
        """The CA's `spki_hash`."""
        return spki_hash(self.cert_pem)

    def issue(self, names: list[str], *, days: float = 20.0, not_before: datetime | None = None,
              key: ec.EllipticCurvePrivateKey | None = None) -> Issued:
        """A server certificate for `names` (the first is the subject's CN), valid from `not_before` (default
        an hour ago) for `days`."""
        key = key if key is not None else new_key()
        start = not_before if not_before is not None else datetime.now(UTC) - timedelta(hours=1)
        alt: list[x509.GeneralName] = []
        for name in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt.append(x509.DNSName(name))
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(start + timedelta(days=days))
                .add_extension(x509.SubjectAlternativeName(alt), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                               critical=False)
                .sign(self.key, hashes.SHA256()))
        return Issued(cert.public_bytes(serialization.Encoding.PEM), key_pem(key))
