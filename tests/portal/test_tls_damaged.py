"""A damaged certificate (any byte of its DER flipped) is refused with a reason, never an exception: the
installer's contract (ports.Certificates.install never raises) holds for whatever the ground delivers."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from appliance.portal.tls import check_pair
from appliance.tlsca import LocalCA

HOST = "portal.cabin.test"


def test_every_single_byte_damage_is_a_refusal_never_an_exception() -> None:
    ca = LocalCA.create()
    pair = ca.issue([HOST], days=60)
    der = x509.load_pem_x509_certificate(pair.cert_pem).public_bytes(serialization.Encoding.DER)
    now = datetime.now(UTC)
    malformed = 0
    for position in range(len(der)):
        damaged = bytearray(der)
        damaged[position] ^= 0x01
        pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(bytes(damaged)) + b"-----END CERTIFICATE-----\n"
        result = check_pair(pem, pair.key_pem, HOST, now, timedelta(days=14))  # must not raise
        if not result.installed:
            assert result.reason, position
            malformed += "malformed" in result.reason or "not PEM" in result.reason
    assert malformed > 0  # some damage only shows when a part is decoded
